package feed

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The plan: what a poll publishes, decided on paper from the feed's state
// and one observation. plan is pure, so every rule is table-tested without
// Prometheus (plan_test.go); apply carries the actions out.

// state is what the feed knows of the targets an observation names.
type state struct {
	targets map[string]*store.FeedTarget // by target; absent: never announced
	posted  map[store.FailureID]bool     // failures announced
	breaks  map[store.BreakID]bool       // breaking commits announced
}

// rules are the settings plan follows.
type rules struct {
	burstThreshold int  // more targets than this in one poll make one post
	postRecoveries bool // announce recoveries (else only record them)
}

type actionKind int

const (
	actFailure        actionKind = iota // one failure: a thread root, or a reply in its thread
	actDigest                           // a burst of failures in one post
	actBreak                            // a breaking commit found by a rewind
	actRecovery                         // a target builds again on every host that failed it
	actRecoveryDigest                   // a burst of recoveries in one post
	actHostsRecovered                   // some, not all, failing hosts build a target again: state only
)

// action is one thing to publish (or record), in one transaction.
type action struct {
	kind       actionKind
	builds     []Build // failures (one, or a digest's); the rewind; the build that recovered a target
	regressed  bool    // a failure of a target that had recovered
	good, bad  commits // a break
	recoveries []recovery
}

// recovery is a target whose hosts build again.
type recovery struct {
	target string
	users  []string // the failing hosts that build it again
	last   Build    // the latest of their builds, for the post
}

// errIncomplete refuses an observation with warnings.
var errIncomplete = errors.New("partial answer")

// plan decides what to publish: new failures (individually, or in one
// digest past the burst threshold), breaking commits found by rewinds, then
// recoveries (individually, or in one post past the burst threshold), which
// see this poll's failures first. An observation with warnings yields
// nothing but errIncomplete: a partial answer must not read as a recovery.
func plan(r rules, st state, obs Observation) ([]action, error) {
	if len(obs.Warnings) > 0 {
		return nil, fmt.Errorf("%w: %s", errIncomplete, strings.Join(obs.Warnings, "; "))
	}
	sim := simulate(st)
	var actions []action

	// New failures, in (target, host) order.
	var failures, rewinds []Build
	for _, b := range obs.Failures {
		if b.Rewind {
			rewinds = append(rewinds, b)
		} else {
			failures = append(failures, b)
		}
	}
	var fresh []Build
	seen := map[store.FailureID]bool{}
	for _, b := range failures {
		id := b.identity()
		if st.posted[id] || seen[id] {
			continue
		}
		seen[id] = true
		fresh = append(fresh, b)
	}
	sort.SliceStable(fresh, func(i, j int) bool {
		if fresh[i].Target != fresh[j].Target {
			return fresh[i].Target < fresh[j].Target
		}
		return fresh[i].User < fresh[j].User
	})
	newTargets := map[string]bool{}
	for _, b := range fresh {
		newTargets[b.Target] = true
	}
	digest := len(newTargets) > r.burstThreshold
	if digest {
		actions = append(actions, action{kind: actDigest, builds: fresh})
	}
	for _, b := range fresh {
		t := sim.target(b.Target)
		if !digest {
			actions = append(actions, action{kind: actFailure, builds: []Build{b}, regressed: t.exists && !t.failing})
		}
		t.exists, t.failing, t.users[b.User] = true, true, true
	}

	// Breaking commits, once per (target, bad commit).
	planned := map[store.BreakID]bool{}
	for _, b := range rewinds {
		good, bad, ok := b.breakRange()
		id := store.BreakID{Target: b.Target, BadNuttx: bad.Nuttx, BadApps: bad.Apps}
		if !ok || st.breaks[id] || planned[id] {
			continue
		}
		planned[id] = true
		actions = append(actions, action{kind: actBreak, builds: []Build{b}, good: good, bad: bad})
		sim.target(b.Target).exists = true
	}

	// Recoveries: hosts that build a failing target again, unless this
	// poll's failures of the same host are newer.
	failingNow := map[targetUser]Build{}
	for _, b := range failures {
		failingNow[targetUser{b.Target, b.User}] = b
	}
	byTarget := map[string][]Build{}
	for _, b := range obs.Successes {
		if b.Rewind || b.Score < okScore || !newerThanFailure(b, failingNow[targetUser{b.Target, b.User}]) {
			continue
		}
		if t, ok := sim.targets[b.Target]; ok && t.failing && t.users[b.User] {
			byTarget[b.Target] = append(byTarget[b.Target], b)
		}
	}
	var full []recovery
	for _, target := range sortedKeys(keysOf(byTarget)) {
		bs := byTarget[target]
		slices.SortFunc(bs, func(a, b Build) int { return strings.Compare(a.Timestamp, b.Timestamp) })
		rec := recovery{target: target, last: bs[len(bs)-1]}
		t := sim.targets[target]
		for _, b := range bs {
			if t.users[b.User] {
				delete(t.users, b.User)
				rec.users = append(rec.users, b.User)
			}
		}
		if len(t.users) > 0 {
			actions = append(actions, action{kind: actHostsRecovered, recoveries: []recovery{rec}})
			continue
		}
		t.failing = false
		full = append(full, rec)
	}
	if len(full) > r.burstThreshold && r.postRecoveries {
		actions = append(actions, action{kind: actRecoveryDigest, recoveries: full})
	} else {
		for _, rec := range full {
			actions = append(actions, action{kind: actRecovery, recoveries: []recovery{rec}})
		}
	}
	return actions, nil
}

type targetUser struct{ Target, User string }

// newerThanFailure tells whether a good build of a target and host counts
// although a failing series of the same pair is still there: a widened
// query may match warnings, and after a Prometheus restart a replaced
// series can linger until its lookback ends. The build timestamps decide.
func newerThanFailure(good, failing Build) bool {
	if failing.Target == "" {
		return true // nothing failing for this pair
	}
	return good.Timestamp != "" && failing.Timestamp != "" && good.Timestamp > failing.Timestamp
}

// simTarget is a target's state as the plan goes along.
type simTarget struct {
	exists, failing bool
	users           map[string]bool // failing hosts
}

type simulation struct{ targets map[string]*simTarget }

func simulate(st state) *simulation {
	sim := &simulation{targets: map[string]*simTarget{}}
	for name, t := range st.targets {
		users := map[string]bool{}
		for _, u := range t.FailingUsers {
			users[u] = true
		}
		sim.targets[name] = &simTarget{exists: true, failing: t.Failing, users: users}
	}
	return sim
}

func (s *simulation) target(name string) *simTarget {
	t, ok := s.targets[name]
	if !ok {
		t = &simTarget{users: map[string]bool{}}
		s.targets[name] = t
	}
	return t
}

func keysOf[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
