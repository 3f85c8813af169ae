package web

import (
	"strings"
	"unicode/utf8"
)

// What html/template writes of a string, counted from above: the pages
// keep under 100 KB by budgets of these bytes, not of raw lengths (an "&"
// is five bytes on the page).

// escapedLen is how many bytes r takes once html/template escapes it in
// text: "&amp;", "&lt;", "&#34;" and the like, else its UTF-8 bytes.
func escapedLen(r rune) int {
	switch r {
	case '&', '"', '\'', '+':
		return 5
	case '<', '>':
		return 4
	case 0:
		return 3 // written as U+FFFD
	}
	return utf8.RuneLen(r)
}

// TextBytes is an upper bound of the bytes html/template writes of s as
// text or in a quoted attribute (escapedLen of each character).
func TextBytes(s string) int {
	n := 0
	for _, r := range s {
		n += escapedLen(r)
	}
	return n
}

// URLBytes is an upper bound of the bytes html/template writes of s as a
// link (href="..."): "%XX" (3) for a space, a control, a non-ASCII byte,
// a '%' and the others a URL may not hold as they are, "&#43;" and "&amp;" (5)
// for '+' and '&'.
func URLBytes(s string) int {
	n := 0
	for i := range len(s) {
		switch c := s[i]; {
		case c == '+' || c == '&':
			n += 5
		case c <= ' ' || c >= 0x7f || strings.IndexByte("\"%'()<>\\^`{|}", c) >= 0:
			n += 3
		default:
			n++
		}
	}
	return n
}
