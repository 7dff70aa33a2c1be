package stack

import (
	"sync"
	"time"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait/wheel"
)

// timerState is the connection timer wheel. Entries are filed lazily: a
// connection's entry is moved only when its next deadline gets earlier; a
// deadline that moved later is found when the entry fires and re-filed
// then, so an ACK that restarts the RTO costs no wheel operation.
type timerState struct {
	mu    sync.Mutex // guards w and every conn.timer entry
	w     *wheel.Wheel[conn]
	out   []*wheel.Entry[conn] // Advance's result, reused
	wakeC chan struct{}        // pokes the timer goroutine
	runMu sync.Mutex           // serializes runTimers (due is reused)
	due   []*conn
	// sleepUntil is the deadline the timer goroutine sleeps for (0: none);
	// filing an earlier one wakes it.
	sleepUntil tcp.Time
}

const timerTick = int64(time.Millisecond)

func (t *timerState) init(now tcp.Time) {
	t.w = wheel.New[conn](timerTick, int64(now))
	t.wakeC = make(chan struct{}, 1)
}

func (t *timerState) wake() {
	select {
	case t.wakeC <- struct{}{}:
	default:
	}
}

// fileTimer makes sure c's wheel entry fires no later than the engine's
// next deadline. c.mu is held.
func (s *Stack) fileTimer(c *conn) {
	if c.tc == nil || !c.hashed {
		return // an unhashed connection (closed, or now a record) has no timers
	}
	next := c.tc.NextTimer()
	if next == 0 || (c.timerAt != 0 && c.timerAt <= next) {
		return
	}
	c.timerAt = next
	t := &s.timers
	t.mu.Lock()
	t.w.Schedule(&c.timer, int64(next))
	poke := t.sleepUntil == 0 || next < t.sleepUntil
	t.mu.Unlock()
	if poke {
		t.wake()
	}
}

// cancelTimer removes c from the wheel. c.mu is held.
func (s *Stack) cancelTimer(c *conn) {
	c.timerAt = 0
	s.timers.mu.Lock()
	s.timers.w.Cancel(&c.timer)
	s.timers.mu.Unlock()
}

// nextDeadline implements timerSink, on the clock's time base.
func (s *Stack) nextDeadline() tcp.Time {
	if n := s.nextTimer(); n != 0 {
		return max(n, 1)
	}
	return 0
}

// runTimers implements timerSink, on the clock's time base.
func (s *Stack) runTimers(now tcp.Time) { s.fireTimers(now) }

// nextTimer returns the earliest deadline of the connection wheel, the
// death row and the reassembly queues, on the stack's time base.
func (s *Stack) nextTimer() tcp.Time {
	var next tcp.Time
	earliest := func(t tcp.Time) {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	s.timers.mu.Lock()
	if w, ok := s.timers.w.Next(); ok {
		earliest(tcp.Time(w))
	}
	s.timers.mu.Unlock()
	earliest(s.tw.next())
	earliest(s.frag.nextDeadline())
	return next
}

// fireTimers fires every connection timer due at now, and expires
// TIME-WAIT records and reassembly queues.
func (s *Stack) fireTimers(now tcp.Time) {
	t := &s.timers
	t.runMu.Lock()
	defer t.runMu.Unlock()
	t.mu.Lock()
	t.out = t.w.Advance(int64(now), t.out[:0])
	due := t.due[:0]
	for i, e := range t.out {
		due = append(due, e.Owner())
		t.out[i] = nil
	}
	t.mu.Unlock()
	if len(due) > 0 {
		b := s.getBatch()
		for _, c := range due {
			c.mu.Lock()
			c.timerAt = 0
			if c.tc != nil && c.hashed {
				if nt := c.tc.NextTimer(); nt != 0 && nt <= now {
					c.prepare(b)
					// Read the clock again under the lock: another
					// goroutine may have sent for c since now was read,
					// and a TSval older than that one is a PAWS drop at
					// the peer.
					c.tc.OnTimer(max(now, s.now()), b)
					s.afterEngine(c, b)
				} else {
					s.fileTimer(c)
				}
			}
			c.mu.Unlock()
		}
		s.putBatch(b)
		clear(due)
		t.due = due[:0]
	}
	s.tw.expire(now)
	s.frag.run(now)
}

// timerLoop is the timer goroutine used with a real clock: sleep until the
// next deadline or until an earlier one is filed.
func (s *Stack) timerLoop() {
	defer s.wg.Done()
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	t := &s.timers
	for {
		// While awake, every newly filed timer pokes (sleepUntil 0), so
		// none is missed between computing the deadline and sleeping.
		t.mu.Lock()
		t.sleepUntil = 0
		t.mu.Unlock()
		s.fireTimers(s.now())
		next := s.tw.next()
		if f := s.frag.nextDeadline(); f != 0 && (next == 0 || f < next) {
			next = f
		}
		t.mu.Lock()
		if w, ok := t.w.Next(); ok && (next == 0 || tcp.Time(w) < next) {
			next = tcp.Time(w)
		}
		t.sleepUntil = next
		if next == 0 {
			t.sleepUntil = tcp.Time(1<<63 - 1)
		}
		t.mu.Unlock()
		d := time.Hour
		if next != 0 {
			d = max(time.Duration(next-s.now()), 0)
		}
		tm.Reset(d)
		select {
		case <-s.closed:
			return
		case <-t.wakeC:
			if !tm.Stop() {
				select {
				case <-tm.C:
				default:
				}
			}
		case <-tm.C:
		}
	}
}
