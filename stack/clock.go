package stack

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ustack/ustack/tcp"
)

// Clock is the stack's time source. Every timer of a stack (retransmission,
// delayed ACK, keepalive, FIN_WAIT2, TIME-WAIT, reassembly, the SO_LINGER
// wait of Close) runs on it.
//
// Three implementations exist: RealClock, for which the stack runs its own
// timer goroutine; VirtualClock, which runs the timers of the stacks
// attached to it synchronously from Advance, so tests never sleep; and
// ExternalClock, which adapts a time source defined outside this package
// (the interface has unexported methods, so other packages implement a
// Clock through ExternalClock rather than directly).
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

// alarms are one-shot wake-ups at an instant of a driven clock's time (the
// SO_LINGER wait of Close). A process sleeping in close(2) is not a socket
// timer in Linux either, so they live beside the stacks' timer wheels.
type alarms struct {
	mu   sync.Mutex // guards list
	list []*alarm
}

type alarm struct {
	at tcp.Time
	ch chan struct{}
}

// add files an alarm; the channel closes once fire(now >= at) runs.
func (a *alarms) add(at tcp.Time) *alarm {
	al := &alarm{at: at, ch: make(chan struct{})}
	a.mu.Lock()
	a.list = append(a.list, al)
	a.mu.Unlock()
	return al
}

func (a *alarms) remove(al *alarm) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.list {
		if x == al {
			a.list = append(a.list[:i], a.list[i+1:]...)
			return
		}
	}
}

// next returns the earliest pending alarm, 0 if none.
func (a *alarms) next() tcp.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n tcp.Time
	for _, x := range a.list {
		if n == 0 || x.at < n {
			n = x.at
		}
	}
	return n
}

// fire closes and forgets every alarm due at now. The channels are closed
// after the lock is released (no lock held across a wake-up).
func (a *alarms) fire(now tcp.Time) {
	var due []*alarm
	a.mu.Lock()
	keep := a.list[:0]
	for _, x := range a.list {
		if x.at <= now {
			due = append(due, x)
		} else {
			keep = append(keep, x)
		}
	}
	clear(a.list[len(keep):])
	a.list = keep
	a.mu.Unlock()
	for _, x := range due {
		close(x.ch)
	}
}

// sinkSet is the list of stacks a driving clock runs the timers of.
type sinkSet struct {
	mu    sync.Mutex // guards sinks
	sinks []timerSink
}

func (s *sinkSet) add(t timerSink) {
	s.mu.Lock()
	s.sinks = append(s.sinks, t)
	s.mu.Unlock()
}

func (s *sinkSet) remove(t timerSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.sinks {
		if x == t {
			s.sinks = append(s.sinks[:i], s.sinks[i+1:]...)
			return
		}
	}
}

func (s *sinkSet) snapshot(dst []timerSink) []timerSink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst[:0], s.sinks...)
}

// next returns the earliest deadline of the stacks and alarms, 0 if none.
func nextOf(sinks []timerSink, al *alarms) tcp.Time {
	next := al.next()
	for _, s := range sinks {
		if dl := s.nextDeadline(); dl != 0 && (next == 0 || dl < next) {
			next = dl
		}
	}
	return next
}

// VirtualClock is a clock that moves only when Advance is called. Advance
// steps from one timer deadline to the next across every stack attached to
// the clock, running each stack's due timers at exactly that instant, so a
// 60 s TIME-WAIT takes as long as the handful of events in it.
type VirtualClock struct {
	now   atomic.Int64
	sinks sinkSet
	al    alarms
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

func (c *VirtualClock) attach(t timerSink) bool { c.sinks.add(t); return true }
func (c *VirtualClock) detach(t timerSink)      { c.sinks.remove(t) }

// NextDeadline returns the earliest instant at which something is due on
// this clock: a timer of an attached stack (retransmission, delayed ACK,
// keepalive, TIME-WAIT expiry, reassembly timeout...) or the end of a
// lingering Close. ok is false when nothing is armed. A runner that plays
// a script can jump straight there with AdvanceTo instead of stepping.
//
// The deadline is never later than the real next event but may be
// earlier: the connection timer wheel files far deadlines in coarser
// slots, and a slot comes due before the deadline in it. Advancing to it
// then fires nothing and refiles the timer exactly, so a loop of
// NextDeadline/AdvanceTo reaches every event at its exact instant. A
// deadline at the current instant (a timer armed for now) is fired by
// Advance(0); AdvanceTo(Now()) does nothing.
func (c *VirtualClock) NextDeadline() (t tcp.Time, ok bool) {
	var buf [4]timerSink
	next := nextOf(c.sinks.snapshot(buf[:0]), &c.al)
	return next, next != 0
}

// Advance moves the clock forward by d, firing every timer that falls due on
// the way in time order (timers armed by a firing timer included). Advance(0)
// fires what is due at the current instant.
func (c *VirtualClock) Advance(d time.Duration) {
	c.adv.Lock()
	defer c.adv.Unlock()
	target := c.Now() + tcp.Time(max(d, 0))
	var sinks []timerSink
	for spins := 0; ; spins++ {
		now := c.Now()
		sinks = c.sinks.snapshot(sinks)
		next := target
		if dl := nextOf(sinks, &c.al); dl != 0 && dl < next {
			next = dl
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
		c.al.fire(next)
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

// AdvanceTo moves the clock to the absolute instant t (as returned by Now
// or NextDeadline), firing everything due on the way; a t in the past
// leaves the clock where it is. It is Set under the name a runner looks for.
func (c *VirtualClock) AdvanceTo(t tcp.Time) { c.Set(t) }

// TimeSource is a time source defined outside this package, for
// ExternalClock. Now must be monotonic and never return zero.
type TimeSource interface {
	Now() tcp.Time
}

// ExternalClock adapts a TimeSource into a Clock (Clock itself cannot be
// implemented outside the package).
//
// Not driven (NewExternalClock(src, false)), the source is taken to run at
// real-time speed: each stack runs its timer goroutine, which sleeps for
// the wall-clock duration until the next deadline. Driven, nothing fires
// by itself: the owner of the source calls RunTimers whenever its time
// moves (NextDeadline says when the next thing is due), like VirtualClock
// does from Advance.
type ExternalClock struct {
	src    TimeSource
	driven bool
	sinks  sinkSet
	al     alarms
	run    sync.Mutex // serializes RunTimers
}

// NewExternalClock returns a Clock reading src.
func NewExternalClock(src TimeSource, driven bool) *ExternalClock {
	return &ExternalClock{src: src, driven: driven}
}

// Now implements Clock.
func (c *ExternalClock) Now() tcp.Time { return c.src.Now() }

func (c *ExternalClock) attach(t timerSink) bool {
	if !c.driven {
		return false
	}
	c.sinks.add(t)
	return true
}

func (c *ExternalClock) detach(t timerSink) { c.sinks.remove(t) }

// NextDeadline returns the earliest timer or linger deadline of the
// attached stacks (driven clocks only; ok false when none is armed).
func (c *ExternalClock) NextDeadline() (t tcp.Time, ok bool) {
	var buf [4]timerSink
	next := nextOf(c.sinks.snapshot(buf[:0]), &c.al)
	return next, next != 0
}

// RunTimers fires every timer of the attached stacks due at or before
// now, which should be the source's current time. A driven clock's owner
// calls it after moving the source; to fire timers at their exact
// instants, move the source to each NextDeadline in turn.
func (c *ExternalClock) RunTimers(now tcp.Time) {
	c.run.Lock()
	defer c.run.Unlock()
	var buf [4]timerSink
	for _, s := range c.sinks.snapshot(buf[:0]) {
		s.runTimers(now)
	}
	c.al.fire(now)
}

// clockAlarm returns a channel that is closed once clk reaches at (clock
// time, not the skewed stack time) and a function that releases it. A
// clock that fires its own timers closes it from Advance/RunTimers; for
// the others the wait is a wall-clock timer of the remaining duration.
func clockAlarm(clk Clock, at tcp.Time) (<-chan struct{}, func()) {
	var al *alarms
	switch c := clk.(type) {
	case *VirtualClock:
		al = &c.al
	case *ExternalClock:
		if c.driven {
			al = &c.al
		}
	}
	if al != nil {
		if at <= clk.Now() {
			ch := make(chan struct{})
			close(ch)
			return ch, func() {}
		}
		a := al.add(at)
		return a.ch, func() { al.remove(a) }
	}
	ch := make(chan struct{})
	tm := time.AfterFunc(time.Duration(max(at-clk.Now(), 0)), func() { close(ch) })
	return ch, func() { tm.Stop() }
}
