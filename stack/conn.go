package stack

import (
	"math/rand/v2"
	"sync"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
	"github.com/ustack/ustack/timewait/wheel"
)

// conn is the stack's side of one connection: the engine's Conn plus the
// table, port, timer and waiter bookkeeping around it.
type conn struct {
	// timer links c into the stack's connection timer wheel; it must stay
	// the first field (wheel.Entry is intrusive). Guarded by timerState.mu.
	timer wheel.Entry[conn]

	s     *Stack
	tuple tcp.Tuple // set once, before the conn is hashed
	hash  uint64    // flowHash(tuple)

	// mu guards tc and every field below it. It is held around each engine
	// call and never across a device write or a wake-up.
	mu sync.Mutex
	tc *tcp.Conn

	ipID      uint16    // per-socket IP ID counter (inet_id), random start
	hashed    bool      // in the established table
	ownsPort  bool      // listed in the port table under tuple.LocalPort
	boundPort bool      // the port came from an explicit bind (kept until Close)
	reuse     bool      // SO_REUSEADDR, inherited by the TIME-WAIT record
	passive   bool      // created by a listener
	ln        *listener // parent listener until accepted
	queued    bool      // sitting in ln's accept queue
	userClose bool      // the application closed it (orphan while hashed)
	orphan    bool      // counted in the stack's orphan count (trackOrphan)
	timerAt   tcp.Time  // deadline the wheel entry is filed for, 0 = none

	// rq wakes readers (and Dial); wq wakes writers, Dial and lingering
	// closers. Signalled after mu is released.
	rq, wq waitq
}

// waitq is a broadcast wake-up without a lock held by the signaller: a
// waiter takes the current channel (under the conn lock, after seeing that
// it must wait), a signal closes it. A channel is only allocated when
// somebody actually waits, so the packet path does not allocate.
type waitq struct {
	mu sync.Mutex
	ch chan struct{}
}

func (q *waitq) wait() <-chan struct{} {
	q.mu.Lock()
	if q.ch == nil {
		q.ch = make(chan struct{})
	}
	ch := q.ch
	q.mu.Unlock()
	return ch
}

func (q *waitq) signal() {
	q.mu.Lock()
	if q.ch != nil {
		close(q.ch)
		q.ch = nil
	}
	q.mu.Unlock()
}

const (
	readEvents  = tcp.EventReadable | tcp.EventError | tcp.EventClosed | tcp.EventEstablished | tcp.EventTimeWait
	writeEvents = tcp.EventWritable | tcp.EventError | tcp.EventClosed | tcp.EventEstablished | tcp.EventTimeWait | tcp.EventLingerDone
)

func (c *conn) signal(ev tcp.Event) {
	if ev&readEvents != 0 {
		c.rq.signal()
	}
	if ev&writeEvents != 0 {
		c.wq.signal()
	}
}

func (s *Stack) newConn() *conn {
	return &conn{s: s, ipID: uint16(rand.Uint32())}
}

// prepare points the batch at c's IP ID counter. A passive child still in
// SYN_RECV answers as a request socket (SYN-ACK with ID 0, like
// ip_build_and_send_pkt with DF).
func (c *conn) prepare(b *batch) {
	if c.passive && c.tc != nil && c.tc.State() == tcp.StateSynRecv {
		b.ipID = nil
		return
	}
	b.ipID = &c.ipID
}

// afterEngine runs after every engine call, with c.mu held: it applies the
// events (TIME-WAIT downgrade, unhash on close, accept queueing), re-files
// the timer and queues the wake-ups for after the flush.
func (s *Stack) afterEngine(c *conn, b *batch) {
	ev := c.tc.TakeEvents()
	now := s.now()
	if ev&tcp.EventEstablished != 0 && c.ln != nil && !c.queued {
		c.ln.childEstablished(c, b)
	}
	b.commit() // c's segments go to the wire queue before its TIME-WAIT record can answer (tx.go)
	if ev&tcp.EventTimeWait != 0 && c.hashed {
		s.enterTimeWait(c, now)
	}
	if ev&tcp.EventClosed != 0 && c.hashed {
		s.unhash(c)
	}
	s.trackOrphan(c, now)
	s.fileTimer(c)
	b.wake(c, ev)
	b.commit() // still under c.mu: c's segments leave in build order (tx.go)
}

// unhash removes a finished connection from the table (tcp_done,
// CLOSE-24) and gives back its port, unless the application bound it
// explicitly and still holds the socket.
func (s *Stack) unhash(c *conn) {
	s.table.removeConn(c.hash, c.tuple, c)
	c.hashed = false
	s.trackOrphan(c, s.now())
	if c.ln != nil && !c.queued {
		c.ln.childGone(c)
	}
	if c.ownsPort && (!c.boundPort || c.userClose) {
		s.ports.release(c.tuple.LocalPort, c)
		c.ownsPort = false
	}
	s.cancelTimer(c)
}

// enterTimeWait replaces c by a TIME-WAIT record in the same table slot
// (TW-ENTER-2..7). When the death row refuses (tcp_max_tw_buckets), the
// connection is simply closed: TCPTimeWaitOverflow is counted by the death
// row and later segments of the 4-tuple get a RST (TW-ENTER-3).
func (s *Stack) enterTimeWait(c *conn, now tcp.Time) {
	info := c.tc.TimeWaitInfo()
	r := s.tw.newRecord(c, &info, now)
	if r == nil {
		s.unhash(c)
		return
	}
	if !s.table.replaceConnByRecord(c.hash, c.tuple, c, r) {
		// The slot changed under us (cannot happen while c is hashed);
		// do not leak a live record.
		s.tw.kill(r)
		s.unhash(c)
		return
	}
	c.hashed = false
	s.trackOrphan(c, now)
	if c.ln != nil && !c.queued {
		c.ln.childGone(c)
	}
	if c.ownsPort {
		s.ports.transfer(c.tuple.LocalPort, c, r, c.reuse)
		c.ownsPort = false
	}
	s.cancelTimer(c)
}

// twFlags are the socket properties a record inherits (TW-ENTER-4).
func (c *conn) twFlags() timewait.Flags {
	var f timewait.Flags
	if c.reuse {
		f |= timewait.FlagReuseAddr
	}
	if !c.passive && !c.boundPort {
		f |= timewait.FlagConnectPort
	}
	if c.tuple.LocalAddr[0] == 127 || c.tuple.RemoteAddr[0] == 127 {
		f |= timewait.FlagBoundLoopback
	}
	return f
}

// run executes f on c's engine with the lock held, then applies the
// engine's events, and flushes the output after unlocking. f is not called
// when the connection has no engine yet.
func (s *Stack) run(c *conn, f func(tc *tcp.Conn, now tcp.Time, b *batch)) {
	b := s.getBatch()
	c.mu.Lock()
	c.prepare(b)
	f(c.tc, s.now(), b)
	s.afterEngine(c, b)
	c.mu.Unlock()
	s.putBatch(b)
}
