package feed

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// The plan, table-tested on paper: no Prometheus, no database.

// fail is a failed build of target on user at nuttx commit.
func fail(target, user, nuttx string) Build {
	board, config, _ := strings.Cut(target, ":")
	return Build{Target: target, Board: board, Config: config, Arch: "risc-v", User: user,
		NuttxHash: nuttx, AppsHash: "a0", Timestamp: "2024-12-06T06:00:00", Score: 0}
}

// pass is a good build of target on user, later than fail's.
func pass(target, user string) Build {
	b := fail(target, user, "n9")
	b.Score, b.Timestamp = 1, "2024-12-07T06:00:00"
	return b
}

// rewind is a rewind result at nuttx whose previous commit prev scored
// prevScore.
func rewind(target, nuttx string, score float64, prev string, prevScore float64) Build {
	b := fail(target, rewindUser, nuttx)
	b.Rewind, b.Score, b.PrevNuttx, b.PrevApps, b.PrevScore = true, score, prev, "a0", &prevScore
	return b
}

// failingTarget is a target held as failing by users, with its thread.
func failingTarget(target string, users ...string) *store.FeedTarget {
	return &store.FeedTarget{Target: target, Thread: "thread:" + target, Failing: true, FailingUsers: users}
}

// recoveredTarget is a target that failed once and builds now.
func recoveredTarget(target string) *store.FeedTarget {
	return &store.FeedTarget{Target: target, Thread: "thread:" + target}
}

func posted(bs ...Build) map[store.FailureID]bool {
	m := map[store.FailureID]bool{}
	for _, b := range bs {
		m[b.identity()] = true
	}
	return m
}

func targets(ts ...*store.FeedTarget) map[string]*store.FeedTarget {
	m := map[string]*store.FeedTarget{}
	for _, t := range ts {
		m[t.Target] = t
	}
	return m
}

// describe writes actions as one line each, e.g.
// "failure a:b nuttxpr", "failure a:b nuttxpr regressed", "digest 11",
// "break a:b n1..n2", "recovery a:b [u]", "hosts a:b [u]",
// "recoveries [a:b c:d]".
func describe(actions []action) string {
	var lines []string
	for _, a := range actions {
		switch a.kind {
		case actFailure:
			s := "failure " + a.builds[0].Target + " " + a.builds[0].User + " " + a.builds[0].NuttxHash
			if a.regressed {
				s += " regressed"
			}
			lines = append(lines, s)
		case actDigest:
			lines = append(lines, fmt.Sprintf("digest %d", len(a.builds)))
		case actBreak:
			lines = append(lines, "break "+a.builds[0].Target+" "+a.good.Nuttx+".."+a.bad.Nuttx)
		case actRecovery:
			lines = append(lines, fmt.Sprintf("recovery %s %v", a.recoveries[0].target, a.recoveries[0].users))
		case actHostsRecovered:
			lines = append(lines, fmt.Sprintf("hosts %s %v", a.recoveries[0].target, a.recoveries[0].users))
		case actRecoveryDigest:
			var ts []string
			for _, r := range a.recoveries {
				ts = append(ts, r.target)
			}
			lines = append(lines, fmt.Sprintf("recoveries %v", ts))
		}
	}
	return strings.Join(lines, "\n")
}

func TestPlan(t *testing.T) {
	burst := func(n int, make func(i int) Build) []Build {
		var bs []Build
		for i := range n {
			bs = append(bs, make(i))
		}
		return bs
	}
	many := func(n int) []*store.FeedTarget {
		var ts []*store.FeedTarget
		for i := range n {
			ts = append(ts, failingTarget(fmt.Sprintf("b%02d:nsh", i), "nuttxpr"))
		}
		return ts
	}
	older := pass("sim:nsh", "nuttxpr")
	older.Timestamp = "2024-12-05T00:00:00"
	cases := []struct {
		name  string
		rules rules
		st    state
		obs   Observation
		want  string
		err   error
	}{
		{name: "first failure of a target",
			obs:  Observation{Failures: []Build{fail("rv-virt:citest", "nuttxpr", "n1")}},
			want: "failure rv-virt:citest nuttxpr n1"},
		{name: "the same failure again",
			st:  state{targets: targets(failingTarget("rv-virt:citest", "nuttxpr")), posted: posted(fail("rv-virt:citest", "nuttxpr", "n1"))},
			obs: Observation{Failures: []Build{fail("rv-virt:citest", "nuttxpr", "n1")}}},
		{name: "the same failure twice in one answer",
			obs:  Observation{Failures: []Build{fail("sim:nsh", "nuttxpr", "n1"), fail("sim:nsh", "nuttxpr", "n1")}},
			want: "failure sim:nsh nuttxpr n1"},
		{name: "another build host",
			st:   state{targets: targets(failingTarget("sim:nsh", "nuttxpr")), posted: posted(fail("sim:nsh", "nuttxpr", "n1"))},
			obs:  Observation{Failures: []Build{fail("sim:nsh", "nuttxpr", "n1"), fail("sim:nsh", "jerpelea", "n1")}},
			want: "failure sim:nsh jerpelea n1"},
		{name: "a new commit",
			st:   state{targets: targets(failingTarget("sim:nsh", "nuttxpr")), posted: posted(fail("sim:nsh", "nuttxpr", "n1"))},
			obs:  Observation{Failures: []Build{fail("sim:nsh", "nuttxpr", "n2")}},
			want: "failure sim:nsh nuttxpr n2"},
		{name: "two hosts of a new target: the second is no regression",
			obs:  Observation{Failures: []Build{fail("sim:nsh", "nuttxpr", "n1"), fail("sim:nsh", "jerpelea", "n1")}},
			want: "failure sim:nsh jerpelea n1\nfailure sim:nsh nuttxpr n1"},
		{name: "a rewind finds the breaking commit",
			obs:  Observation{Failures: []Build{rewind("sim:nsh", "n2", 0, "n1", 1)}},
			want: "break sim:nsh n1..n2"},
		{name: "a breaking commit announced before",
			st:  state{breaks: map[store.BreakID]bool{{Target: "sim:nsh", BadNuttx: "n2", BadApps: "a0"}: true}},
			obs: Observation{Failures: []Build{rewind("sim:nsh", "n2", 0, "n1", 1)}}},
		{name: "a rewind that finds no break",
			obs: Observation{Failures: []Build{rewind("sim:nsh", "n2", 0, "n1", 0)}}},
		{name: "recovery",
			st:   state{targets: targets(failingTarget("sim:nsh", "nuttxpr"))},
			obs:  Observation{Successes: []Build{pass("sim:nsh", "nuttxpr")}},
			want: "recovery sim:nsh [nuttxpr]"},
		{name: "one of two failing hosts recovers",
			st:   state{targets: targets(failingTarget("sim:nsh", "jerpelea", "nuttxpr"))},
			obs:  Observation{Successes: []Build{pass("sim:nsh", "nuttxpr")}},
			want: "hosts sim:nsh [nuttxpr]"},
		{name: "a good build older than the failing series is no recovery",
			st:  state{targets: targets(failingTarget("sim:nsh", "nuttxpr")), posted: posted(fail("sim:nsh", "nuttxpr", "n1"))},
			obs: Observation{Failures: []Build{fail("sim:nsh", "nuttxpr", "n1")}, Successes: []Build{older}}},
		{name: "a recovery while another host starts failing",
			st:   state{targets: targets(failingTarget("sim:nsh", "nuttxpr"))},
			obs:  Observation{Failures: []Build{fail("sim:nsh", "jerpelea", "n3")}, Successes: []Build{pass("sim:nsh", "nuttxpr")}},
			want: "failure sim:nsh jerpelea n3\nhosts sim:nsh [nuttxpr]"},
		{name: "regression",
			st:   state{targets: targets(recoveredTarget("sim:nsh")), posted: posted(fail("sim:nsh", "nuttxpr", "n1"))},
			obs:  Observation{Failures: []Build{fail("sim:nsh", "nuttxpr", "n5")}},
			want: "failure sim:nsh nuttxpr n5 regressed"},
		{name: "a burst makes one digest",
			rules: rules{burstThreshold: 10},
			obs:   Observation{Failures: burst(11, func(i int) Build { return fail(fmt.Sprintf("b%02d:nsh", i), "nuttxpr", "n1") })},
			want:  "digest 11"},
		{name: "at the threshold, one post each",
			rules: rules{burstThreshold: 2},
			obs:   Observation{Failures: burst(2, func(i int) Build { return fail(fmt.Sprintf("b%02d:nsh", i), "nuttxpr", "n1") })},
			want:  "failure b00:nsh nuttxpr n1\nfailure b01:nsh nuttxpr n1"},
		{name: "hosts of one target count once towards the threshold",
			rules: rules{burstThreshold: 1},
			obs:   Observation{Failures: []Build{fail("sim:nsh", "a", "n1"), fail("sim:nsh", "b", "n1")}},
			want:  "failure sim:nsh a n1\nfailure sim:nsh b n1"},
		{name: "a burst of recoveries makes one post",
			rules: rules{burstThreshold: 2, postRecoveries: true},
			st:    state{targets: targets(many(3)...)},
			obs:   Observation{Successes: burst(3, func(i int) Build { return pass(fmt.Sprintf("b%02d:nsh", i), "nuttxpr") })},
			want:  "recoveries [b00:nsh b01:nsh b02:nsh]"},
		{name: "recoveries not posted are recorded one by one",
			rules: rules{burstThreshold: 2},
			st:    state{targets: targets(many(3)...)},
			obs:   Observation{Successes: burst(3, func(i int) Build { return pass(fmt.Sprintf("b%02d:nsh", i), "nuttxpr") })},
			want:  "recovery b00:nsh [nuttxpr]\nrecovery b01:nsh [nuttxpr]\nrecovery b02:nsh [nuttxpr]"},
		{name: "a Prometheus warning",
			obs: Observation{Failures: []Build{fail("sim:nsh", "nuttxpr", "n1")}, Warnings: []string{"query \"build_score < 0.5\": PromQL warning"}},
			err: errIncomplete},
		{name: "a partial answer to the recovery query",
			st:  state{targets: targets(failingTarget("sim:nsh", "nuttxpr"))},
			obs: Observation{Successes: []Build{pass("sim:nsh", "nuttxpr")}, Warnings: []string{"query \"build_score{...} >= 0.5\": partial response"}},
			err: errIncomplete},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.rules.burstThreshold == 0 {
				c.rules.burstThreshold = 10
			}
			actions, err := plan(c.rules, c.st, c.obs)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got := describe(actions); got != c.want {
				t.Errorf("actions:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// TestPlanIsPure: planning twice from the same state gives the same actions
// and leaves the state as it was.
func TestPlanIsPure(t *testing.T) {
	st := state{
		targets: targets(failingTarget("sim:nsh", "nuttxpr", "jerpelea")),
		breaks:  map[store.BreakID]bool{},
		posted:  map[store.FailureID]bool{},
	}
	obs := Observation{
		Failures:  []Build{fail("rv:a", "nuttxpr", "n1"), rewind("rv:a", "n1", 0, "n0", 1)},
		Successes: []Build{pass("sim:nsh", "nuttxpr"), pass("sim:nsh", "jerpelea")},
	}
	first, _ := plan(rules{burstThreshold: 10, postRecoveries: true}, st, obs)
	second, _ := plan(rules{burstThreshold: 10, postRecoveries: true}, st, obs)
	if describe(first) != describe(second) || describe(first) == "" {
		t.Fatalf("plans differ:\n%s\n--\n%s", describe(first), describe(second))
	}
	if len(st.breaks) != 0 || len(st.posted) != 0 || len(st.targets["sim:nsh"].FailingUsers) != 2 {
		t.Errorf("plan changed its input state: %+v", st)
	}
}
