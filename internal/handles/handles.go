// Package handles names the feed's accounts: one per board, per board:config
// target and per architecture (docs/FEDERATION.md, "Accounts for boards,
// targets and architectures").
//
// A handle is a username by Mastodon's rule, [a-z0-9_]+([.-]+[a-z0-9_]+)*,
// made from Prometheus labels by one predictable mapping:
//
//   - a label is lower-cased, and each run of characters other than a-z,
//     0-9, _ and - becomes one _; a - that starts or ends it becomes _, and
//     an empty label is _;
//   - a board is its label: rv-virt;
//   - a target is board.config: rv-virt.citest (the : becomes .);
//   - an architecture is arch.label: arch.risc-v.
//
// The kinds never collide: a board has no dot, an architecture starts with
// "arch." and a target has its dot after its board's label, which is never
// "arch" but for a board named arch, whose targets are written arch..config
// (a label never starts with a dot). Two labels of one kind that differ
// only in the characters the mapping replaces (Foo and foo, a+b and a_b)
// share one account, which carries the news of both.
package handles

import (
	"regexp"
	"strings"
)

// Kinds of feed account, as the actors table names them.
const (
	Board  = "board"
	Target = "target"
	Arch   = "arch"
)

// archPrefix starts every architecture's handle.
const archPrefix = "arch."

// OfBoard returns the handle of board's account.
func OfBoard(board string) string { return label(board) }

// OfTarget returns the handle of the board:config target's account.
func OfTarget(board, config string) string {
	b := label(board)
	if b+"." == archPrefix {
		return b + ".." + label(config)
	}
	return b + "." + label(config)
}

// OfArch returns the handle of the architecture's account.
func OfArch(arch string) string { return archPrefix + label(arch) }

// label maps one Prometheus label value to a part of a handle.
func label(s string) string {
	var b strings.Builder
	replaced := false // the last character written is a replacement _
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
			replaced = false
		} else if !replaced {
			b.WriteByte('_')
			replaced = true
		}
	}
	out := b.String()
	if out == "" {
		return "_"
	}
	if out[0] == '-' {
		out = "_" + out[1:]
	}
	if out[len(out)-1] == '-' {
		out = out[:len(out)-1] + "_"
	}
	return out
}

// valid is Mastodon's username rule.
var valid = regexp.MustCompile(`^[a-z0-9_]+([.-]+[a-z0-9_]+)*$`)

// MaxLength is the longest handle served: longer ones (labels of more than
// 60 characters) name no account.
const MaxLength = 64

// Valid reports whether h is a handle an account may have.
func Valid(h string) bool { return len(h) <= MaxLength && valid.MatchString(h) }
