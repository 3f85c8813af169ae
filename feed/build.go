package feed

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// Build is one build_score series: one outcome of one target on one build
// host. Any label may be missing; the zero string means missing.
type Build struct {
	Target     string // board:config, without a rewind's @hashes
	Board      string
	Config     string
	Arch       string
	Subarch    string
	Group      string
	User       string // the build host
	URL        string // the build log
	URLDisplay string
	Msg        string
	NuttxHash  string
	AppsHash   string
	Timestamp  string
	Score      float64

	// Build rewinds (user="rewind") carry their neighbours' outcomes.
	Rewind                         bool
	PrevNuttx, PrevApps, NextNuttx string
	NextApps                       string
	PrevScore, NextScore           *float64
}

const rewindUser = "rewind"

// Bounds of the labels the feed keeps of a series, in bytes: a name
// (board, config, arch, subarch, group, build host, commit hash,
// timestamp) is cut at maxNameLabel, a target label at maxTargetLabel
// (board:config), a log link's text at maxURLLabel; a log link longer
// than maxURLLabel is dropped (cut, it would lead elsewhere). Cutting is
// a prefix on a character boundary, so the same series always reads the
// same and maps to the same failure (identity).
const (
	maxNameLabel   = 100
	maxTargetLabel = 2*maxNameLabel + 1
	maxURLLabel    = 2048
)

// buildFromSample reads a series. It returns false when the series names no
// target at all (neither target nor board labels), so it cannot be threaded.
// Labels are cut (maxNameLabel, maxTargetLabel, maxURLLabel), and the url
// label is kept only when it is an absolute http(s) URL (logURL).
func buildFromSample(s *model.Sample) (Build, bool) {
	l := func(name string) string { return cutLabel(s.Metric[model.LabelName(name)], maxNameLabel) }
	b := Build{
		Board: l("board"), Config: l("config"), Arch: l("arch"), Subarch: l("subarch"), Group: l("group"),
		User: l("user"), URL: logURL(s.Metric["url"]), URLDisplay: cutLabel(s.Metric["url_display"], maxURLLabel), Msg: string(s.Metric["msg"]),
		NuttxHash: l("nuttx_hash"), AppsHash: l("apps_hash"), Timestamp: l("timestamp"),
		Score: float64(s.Value),
	}
	target := cutLabel(s.Metric["target"], maxTargetLabel)
	if b.User == rewindUser {
		b.Rewind = true
		target, _, _ = strings.Cut(target, "@") // rv-virt:citest@<nuttx>@<apps>
		b.PrevNuttx, b.PrevApps = l("nuttx_hash_prev"), l("apps_hash_prev")
		b.NextNuttx, b.NextApps = l("nuttx_hash_next"), l("apps_hash_next")
		b.PrevScore, b.NextScore = parseScore(l("build_score_prev")), parseScore(l("build_score_next"))
	}
	if b.Board == "" || b.Config == "" {
		if board, config, ok := strings.Cut(target, ":"); ok {
			if b.Board == "" {
				b.Board = cutLabel(model.LabelValue(board), maxNameLabel)
			}
			if b.Config == "" {
				b.Config = cutLabel(model.LabelValue(config), maxNameLabel)
			}
		}
	}
	switch {
	case b.Board != "" && b.Config != "":
		b.Target = b.Board + ":" + b.Config
	case target != "":
		b.Target = target
	case b.Board != "":
		b.Target = b.Board
	default:
		return b, false
	}
	return b, true
}

// cutLabel is v without surrounding spaces, cut to at most limit bytes on
// a character boundary.
func cutLabel(v model.LabelValue, limit int) string {
	s := strings.TrimSpace(string(v))
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut])
}

// logURL is the url label when it is an absolute http(s) URL of at most
// maxURLLabel bytes, else "" (no log link).
func logURL(v model.LabelValue) string {
	s := strings.TrimSpace(string(v))
	if len(s) > maxURLLabel {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" { // Parse lowers the scheme
		return ""
	}
	return s
}

// parseScore reads a score label; nil when absent or not a number.
func parseScore(s string) *float64 {
	if s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &f
}

// identity is what makes a failure the same failure: target, build host and
// commits, or the build's timestamp (else its log URL) when both hashes are
// missing.
func (b Build) identity() store.FailureID {
	id := store.FailureID{Target: b.Target, User: b.User, NuttxHash: b.NuttxHash, AppsHash: b.AppsHash}
	if b.NuttxHash == "" && b.AppsHash == "" {
		id.Build = b.Timestamp
		if id.Build == "" {
			id.Build = b.URL
		}
	}
	return id
}

// maxStoredMsg bounds the build message a failure keeps (bytes): a whole
// compiler error, not a runaway log pasted into a label.
const maxStoredMsg = 64 << 10

// Record is what the feed stores of b when it announces it: its score,
// log and whole message (its lines as messageLines keeps them, cut at
// maxStoredMsg), which makes it searchable by any word of its error.
func (b Build) Record() store.FailureRecord {
	msg := strings.Join(messageLines(b.Msg), "\n")
	if len(msg) > maxStoredMsg {
		cut := maxStoredMsg
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return store.FailureRecord{Score: b.Score, URL: b.URL, Msg: msg}
}

// commits is a NuttX and nuttx-apps commit pair.
type commits struct{ Nuttx, Apps string }

// breakRange tells, for a rewind result, between which commits the build
// broke: this build failed after a successful previous one, or this build
// succeeded before a failing next one.
func (b Build) breakRange() (good, bad commits, ok bool) {
	if !b.Rewind {
		return
	}
	this := commits{b.NuttxHash, b.AppsHash}
	switch {
	case b.Score < okScore && b.PrevScore != nil && *b.PrevScore >= okScore && b.PrevNuttx != "":
		return commits{b.PrevNuttx, b.PrevApps}, this, this.Nuttx != ""
	case b.Score >= okScore && b.NextScore != nil && *b.NextScore < okScore && b.NextNuttx != "":
		return this, commits{b.NextNuttx, b.NextApps}, this.Nuttx != ""
	}
	return
}

// okScore is the lowest build_score that counts as building: 1.0 success,
// 0.8 unknown and 0.5 warning do; 0.0 error does not.
const okScore = 0.5

// outcome names a score for the post's first line.
func outcome(score float64) string {
	switch {
	case score < okScore:
		return "Build Failed"
	case score < 0.8:
		return "Build Warning"
	case score < 1:
		return "Build Unknown"
	}
	return "Build OK"
}
