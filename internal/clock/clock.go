// Package clock is a clock that tests and benchmarks move by hand, for the
// Now options of the store, the federation core and the server.
package clock

import (
	"sync"
	"time"
)

// Settable is a clock that reads a time it is told. It is safe for
// concurrent use; its zero value reads the zero time.
type Settable struct {
	mu  sync.Mutex
	now time.Time
}

// At returns a clock reading t.
func At(t time.Time) *Settable { return &Settable{now: t} }

// Now returns the time the clock was set to.
func (c *Settable) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set makes the clock read t.
func (c *Settable) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Add moves the clock by d.
func (c *Settable) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
