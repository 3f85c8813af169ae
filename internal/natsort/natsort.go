// Package natsort orders names as people read them: runs of digits
// compare as numbers, so board2 comes before board10.
package natsort

import "strings"

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b.
// Runs of ASCII digits compare by value (then, equal in value, the one
// with fewer leading zeros first); everything else compares byte by byte
// ignoring the case of ASCII letters ("arm" before "Xtensa"). Names equal
// but for case then compare byte by byte ("ARM" before "arm"), so that
// the order is total.
func Compare(a, b string) int {
	ra, rb := a, b
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da == 0 || db == 0 {
			if ca, cb := lower(a[0]), lower(b[0]); ca != cb {
				return cmp(ca < cb)
			}
			a, b = a[1:], b[1:]
			continue
		}
		if c := compareNumbers(a[:da], b[:db]); c != 0 {
			return c
		}
		a, b = a[da:], b[db:]
	}
	if len(a) != len(b) { // what remains: the shorter first
		return cmp(len(a) < len(b))
	}
	return strings.Compare(ra, rb)
}

// lower is c with an ASCII capital letter made small.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Less reports whether a sorts before b, for sort.Slice.
func Less(a, b string) bool { return Compare(a, b) < 0 }

// compareNumbers compares two runs of digits by value, then by length.
func compareNumbers(a, b string) int {
	ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	switch {
	case len(ta) != len(tb):
		return cmp(len(ta) < len(tb))
	case ta != tb:
		return strings.Compare(ta, tb)
	case len(a) != len(b):
		return cmp(len(a) < len(b))
	}
	return 0
}

// digits returns the length of the run of ASCII digits at the start of s.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// cmp is -1 when less, else +1.
func cmp(less bool) int {
	if less {
		return -1
	}
	return 1
}
