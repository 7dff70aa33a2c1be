package stack

import (
	"sync"
	"time"

	"github.com/ustack/ustack/tcp"
)

// orphanCount is the stack's count of orphans (ORPHAN-1): connections the
// application closed that are still alive (FIN_WAIT1, FIN_WAIT2 as a full
// socket, CLOSING, LAST_ACK). TIME-WAIT records are not orphans.
//
// Linux 6.18 tests tcp_max_orphans against a cached sum that a timer
// refreshes every 100 ms (ORPHAN-2, TIMER-12, CONST-11), so a limit reacts
// up to 100 ms late. The cache here is computed lazily with the same
// result: refreshes happen at every multiple of 100 ms of the stack clock,
// and the value a refresh would have read is the count as it stood at that
// instant, which is known because the count only changes through add. No
// timer runs and nothing is done while the count does not change.
type orphanCount struct {
	mu   sync.Mutex // guards the fields below; taken under conn.mu
	n    int        // exact count (sockstat "orphan", MIB-STAT-2)
	win  int64      // refresh window (now / 100 ms) of the last change
	base int        // the count when window win began: what its refresh read
}

// orphanRefresh is TCP_ORPHAN_TIMER_PERIOD (CONST-11).
const orphanRefresh = tcp.Time(100e6)

// add changes the count by d at time now. The refresh at the start of
// now's window saw the count as it was before the window's first change (a
// change at exactly a refresh instant counts as after it).
func (o *orphanCount) add(now tcp.Time, d int) {
	o.mu.Lock()
	if w := int64(now / orphanRefresh); w != o.win {
		o.win, o.base = w, o.n
	}
	o.n += d
	o.mu.Unlock()
}

// exact returns the current count.
func (o *orphanCount) exact() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// cachedAt returns the value of the 100 ms cache at time now
// (tcp_orphan_cache): the count at the last refresh at or before now.
func (o *orphanCount) cachedAt(now tcp.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if int64(now/orphanRefresh) != o.win {
		return o.n // unchanged since before the last refresh
	}
	return o.base
}

// tooManyOrphans is tcp_too_many_orphans (ORPHAN-2): the cached count
// shifted left by shift exceeds tcp_max_orphans, strictly. The engine
// calls it with shift 0 when close() would leave an orphan (CLOSE-16) and
// with the ORPHAN-6 penalty from its retransmission and probe timers; it
// is meant to be installed as tcp.Config's TooManyOrphans hook. It takes
// only the orphan lock, so it may be called under conn.mu.
func (s *Stack) tooManyOrphans(shift int) bool {
	return s.table.orphans.cachedAt(s.now())<<shift > s.o().TCPMaxOrphans
}

// orphanTotal returns the exact orphan count (sockstat "orphan", MIB-STAT-2).
func (s *Stack) orphanTotal() int { return s.table.orphans.exact() }

// trackOrphan keeps c's contribution to the orphan count in step with its
// life: counted from the application's close while it is in the table
// (CLOSE-14), uncounted when it leaves (destroyed or replaced by a
// TIME-WAIT record, CLOSE-17). c.mu is held.
func (s *Stack) trackOrphan(c *conn, now tcp.Time) {
	alive := c.userClose && c.hashed
	if alive == c.orphan {
		return
	}
	c.orphan = alive
	if alive {
		s.table.orphans.add(now, 1)
	} else {
		s.table.orphans.add(now, -1)
	}
}

// orphanLogf is tcp.Config's Logf: the engine's "too many orphaned
// sockets" line, with the kernel's "TCP: " prefix, at most once per 5 s of
// stack time (net_ratelimit's default interval).
func (s *Stack) orphanLogf(format string, args ...any) {
	now := int64(s.now())
	last := s.orphanLogAt.Load()
	if last != 0 && now-last < int64(5*time.Second) {
		return
	}
	if !s.orphanLogAt.CompareAndSwap(last, now) {
		return
	}
	s.logf("TCP: "+format, args...)
}
