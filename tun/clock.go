package tun

import (
	"sync"
	"time"
)

// Clock is the time source of the fault injector and the pcap tap. Tests
// inject a FakeClock so delays are decided by the test, not by the scheduler.
type Clock interface {
	Now() time.Time
	// NewTimer returns a stopped-or-running timer that sends on C() once the
	// clock passes d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is the subset of *time.Timer the fault injector uses.
type Timer interface {
	C() <-chan time.Time
	// Reset re-arms the timer d from now; like time.Timer (Go 1.23+), no
	// stale value is received after Reset or Stop returns.
	Reset(d time.Duration)
	Stop()
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time   { return s.t.C }
func (s sysTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s sysTimer) Stop()                 { s.t.Stop() }

// FakeClock is a manual clock: time moves only when Advance or Set is
// called, and timers fire from inside that call.
type FakeClock struct {
	mu     sync.Mutex // guards now and timers
	now    time.Time
	timers []*fakeTimer
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and fires due timers.
func (c *FakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backward) and fires due timers.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	for _, ft := range c.timers {
		if ft.armed && !ft.when.After(c.now) {
			ft.armed = false
			select {
			case ft.c <- c.now:
			default:
			}
		}
	}
}

// NewTimer returns a timer that fires when the clock reaches now+d.
func (c *FakeClock) NewTimer(d time.Duration) Timer {
	ft := &fakeTimer{clock: c, c: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, ft)
	c.mu.Unlock()
	ft.Reset(d)
	return ft
}

// fakeTimer's fields are guarded by clock.mu.
type fakeTimer struct {
	clock *FakeClock
	c     chan time.Time
	when  time.Time
	armed bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	t.drain()
	t.when = c.now.Add(d)
	t.armed = true
	if d <= 0 {
		t.armed = false
		t.c <- c.now
	}
}

func (t *fakeTimer) Stop() {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.armed = false
	t.drain()
}

func (t *fakeTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}
