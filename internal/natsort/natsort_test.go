package natsort

import (
	"slices"
	"testing"
)

// TestSort: digits compare as numbers, leading zeros and all.
func TestSort(t *testing.T) {
	t.Parallel()
	got := []string{"board10:nsh", "board2:nsh", "board1:nsh10", "board1:nsh2", "board", "board02:nsh", "a", "", "b1", "b01", "esp32c3", "esp32-c3", "esp32c10", "x99999999999999999999999", "x100000000000000000000000"}
	slices.SortFunc(got, Compare)
	want := []string{"", "a", "b1", "b01", "board", "board1:nsh2", "board1:nsh10", "board2:nsh", "board02:nsh", "board10:nsh", "esp32-c3", "esp32c3", "esp32c10", "x99999999999999999999999", "x100000000000000000000000"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted\n got %q\nwant %q", got, want)
	}
	for _, c := range []struct {
		a, b string
		want int
	}{{"a1", "a1", 0}, {"a2", "a10", -1}, {"a10", "a2", 1}, {"ab", "a", 1}, {"1", "a", -1},
		{"arm", "Xtensa LX6", -1}, {"Xtensa LX6", "arm", 1}, {"ARM", "arm", -1}, {"arm", "ARM", 1}, {"Board2", "board10", -1}, {"a_", "AB", -1}} {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if Less(c.a, c.b) != (c.want < 0) {
			t.Errorf("Less(%q, %q) disagrees with Compare", c.a, c.b)
		}
	}
}
