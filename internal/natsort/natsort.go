// Package natsort orders names as people read them: runs of digits
// compare as numbers, so board2 comes before board10.
package natsort

import "strings"

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b.
// Runs of ASCII digits compare by value (then, equal in value, the one
// with fewer leading zeros first); everything else compares byte by byte.
func Compare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da == 0 || db == 0 {
			if a[0] != b[0] {
				return cmp(a[0] < b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		if c := compareNumbers(a[:da], b[:db]); c != 0 {
			return c
		}
		a, b = a[da:], b[db:]
	}
	return strings.Compare(a, b) // what remains: the shorter first
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
