package stack

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ustack/ustack/tcp"
)

// Clock is the stack's time source. Every timer of a stack (retransmission,
// delayed ACK, keepalive, FIN_WAIT2, TIME-WAIT, reassembly) runs on it.
//
// Two implementations exist: RealClock, for which the stack runs its own
// timer goroutine, and VirtualClock, which runs the timers of the stacks
// attached to it synchronously from Advance, so tests never sleep.
type Clock interface {
	// Now returns the current time on this clock (nanoseconds since its
	// origin, never zero).
	Now() tcp.Time
	// attach subscribes a stack's timers. A clock that drives timers itself
	// returns true; otherwise the stack runs a timer goroutine.
	attach(t timerSink) (driven bool)
	detach(t timerSink)
}

// timerSink is what a clock that drives timers needs from a stack.
type timerSink interface {
	// nextDeadline returns the earliest armed timer, 0 if none.
	nextDeadline() tcp.Time
	// runTimers fires everything due at or before now.
	runTimers(now tcp.Time)
}

// clockOrigin keeps Now() away from zero, which the engine reads as
// "no timer armed" and timewait as "never".
const clockOrigin = tcp.Time(time.Second)

// RealClock is the monotonic clock of the process.
type RealClock struct{ start time.Time }

// NewRealClock returns a clock whose origin is now.
func NewRealClock() *RealClock { return &RealClock{start: time.Now()} }

// Now implements Clock.
func (c *RealClock) Now() tcp.Time { return clockOrigin + tcp.Time(time.Since(c.start)) }

func (c *RealClock) attach(timerSink) bool { return false }
func (c *RealClock) detach(timerSink)      {}

// VirtualClock is a clock that moves only when Advance is called. Advance
// steps from one timer deadline to the next across every stack attached to
// the clock, running each stack's due timers at exactly that instant, so a
// 60 s TIME-WAIT takes as long as the handful of events in it.
type VirtualClock struct {
	now atomic.Int64

	mu    sync.Mutex // guards sinks; Advance callers are serialized by adv
	sinks []timerSink
	adv   sync.Mutex // one Advance at a time
}

// NewVirtualClock returns a virtual clock standing at its origin.
func NewVirtualClock() *VirtualClock {
	c := &VirtualClock{}
	c.now.Store(int64(clockOrigin))
	return c
}

// Now implements Clock.
func (c *VirtualClock) Now() tcp.Time { return tcp.Time(c.now.Load()) }

func (c *VirtualClock) attach(t timerSink) bool {
	c.mu.Lock()
	c.sinks = append(c.sinks, t)
	c.mu.Unlock()
	return true
}

func (c *VirtualClock) detach(t timerSink) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.sinks {
		if s == t {
			c.sinks = append(c.sinks[:i], c.sinks[i+1:]...)
			return
		}
	}
}

// Advance moves the clock forward by d, firing every timer that falls due on
// the way in time order (timers armed by a firing timer included).
func (c *VirtualClock) Advance(d time.Duration) {
	c.adv.Lock()
	defer c.adv.Unlock()
	target := c.Now() + tcp.Time(d)
	var sinks []timerSink
	for spins := 0; ; spins++ {
		now := c.Now()
		c.mu.Lock()
		sinks = append(sinks[:0], c.sinks...)
		c.mu.Unlock()
		next := target
		for _, s := range sinks {
			if dl := s.nextDeadline(); dl != 0 && dl < next {
				next = dl
			}
		}
		// A timer re-armed for the current instant over and over would
		// otherwise pin the clock; after a few rounds time moves on.
		if next <= now {
			if spins > 64 {
				next = min(now+1, target)
			} else {
				next = now
			}
		} else {
			spins = 0
		}
		c.now.Store(int64(next))
		for _, s := range sinks {
			s.runTimers(next)
		}
		if next >= target {
			return
		}
	}
}

// Set moves the clock to t if t is later than now (see Advance).
func (c *VirtualClock) Set(t tcp.Time) {
	if d := t - c.Now(); d > 0 {
		c.Advance(time.Duration(d))
	}
}
