// Package eventually waits in tests for something that happens in the
// background: a delivery, a poll, a server coming up.
package eventually

import (
	"testing"
	"time"
)

// True polls cond every 10 ms until it holds, or fails tb after timeout
// with "timed out after ... waiting for <what>".
func True(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
