package stack

import (
	"sync"
	"sync/atomic"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// listenTable holds the listeners by (local address, port); the zero
// address is INADDR_ANY.
type listenTable struct {
	mu sync.RWMutex // guards m
	m  map[listenKey]*listener
}

type listenKey struct {
	addr [4]byte
	port uint16
}

func (t *listenTable) init() { t.m = make(map[listenKey]*listener) }

// lookup is __inet_lookup_listener without SO_REUSEPORT groups: a listener
// bound to the exact local address wins over a wildcard one (TW-LOOKUP-5).
func (t *listenTable) lookup(addr [4]byte, port uint16) *listener {
	t.mu.RLock()
	l := t.m[listenKey{addr, port}]
	if l == nil {
		l = t.m[listenKey{[4]byte{}, port}]
	}
	t.mu.RUnlock()
	return l
}

func (t *listenTable) add(l *listener) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := listenKey{l.addr, l.port}
	if t.m[k] != nil {
		return false
	}
	t.m[k] = l
	return true
}

func (t *listenTable) remove(l *listener) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := listenKey{l.addr, l.port}
	if t.m[k] == l {
		delete(t.m, k)
	}
}

func (t *listenTable) all() []*listener {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*listener, 0, len(t.m))
	for _, l := range t.m {
		out = append(out, l)
	}
	return out
}

// listener is a socket in LISTEN: its request queue (children in SYN_RECV,
// which live in the established table like Linux's request sockets) and its
// accept queue (children that completed the handshake).
type listener struct {
	s     *Stack
	addr  [4]byte
	port  uint16
	reuse bool

	// mu guards the fields below. Lock order: conn.mu -> listener.mu.
	mu      sync.Mutex
	acceptq []*conn
	synRecv int // request queue length (inet_csk_reqsk_queue_len)
	backlog int // sk_max_ack_backlog = min(backlog, somaxconn)
	closed  bool

	acceptWait waitq

	// child holds the options the listener's TCPListener setters gave
	// (TCP_MAXSEG, SO_RCVBUF...), which a child needs before its SYN-ACK
	// goes out; nil until a setter runs.
	child atomic.Pointer[tcp.PassiveOpts]
}

// acceptQueueFull is sk_acceptq_is_full: strictly more than the backlog
// (so backlog+1 children fit, as in Linux).
func (l *listener) acceptQueueFullLocked() bool { return len(l.acceptq) > l.backlog }

// inputListen is tcp_rcv_state_process in LISTEN plus tcp_conn_request
// (TW-LOOKUP-7, TW-PROC-21): ACK -> RST, RST dropped, SYN+FIN dropped,
// non-SYN dropped, SYN -> a new child in SYN_RECV that answers with a
// SYN-ACK. isn != 0 is the ISN a TIME-WAIT record handed over.
func (s *Stack) inputListen(l *listener, k tcp.Tuple, seg *tcp.Segment, isn uint32, b *batch) {
	f := seg.Flags
	switch {
	case f&header.FlagACK != 0:
		s.sendReset(k, seg, b)
		return
	case f&header.FlagRST != 0, f&header.FlagSYN == 0, f&header.FlagFIN != 0:
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		s.sendReset(k, seg, b)
		return
	}
	if l.acceptQueueFullLocked() {
		// tcp_conn_request: ListenOverflows then tcp_listendrop.
		l.mu.Unlock()
		s.m.Inc(metrics.TcpExtListenOverflows)
		s.m.Inc(metrics.TcpExtListenDrops)
		return
	}
	// A full request queue wants SYN cookies (tcp_syncookies=1), which
	// ustack does not implement: the SYN is dropped. A SYN admitted
	// through TIME-WAIT skips this check (TW-PROC-21).
	if isn == 0 && l.synRecv > l.backlog {
		l.mu.Unlock()
		s.m.Inc(metrics.TcpExtTCPReqQFullDrop)
		s.m.Inc(metrics.TcpExtListenDrops)
		return
	}
	// tw_recycle's passive PAWS check runs for SYNs not admitted through
	// TIME-WAIT, after the queue checks as in tcp_conn_request (RECYCLE-6).
	if isn == 0 && s.recyclePassiveReject(k, seg) {
		l.mu.Unlock()
		return
	}
	l.synRecv++
	l.mu.Unlock()

	c := s.newConn()
	c.tuple, c.hash = k, s.flowHash(&k)
	c.passive, c.ln, c.reuse = true, l, l.reuse
	c.mu.Lock()
	if !s.table.insertConn(c.hash, k, c) {
		// Another SYN of the same tuple won the race (only possible when
		// packets of one flow are delivered by several goroutines).
		c.mu.Unlock()
		l.childGone(c)
		return
	}
	c.hashed = true
	s.ports.join(k.LocalPort, portOwner{addr: k.LocalAddr, reuse: l.reuse}, c)
	c.ownsPort = true
	b.ipID = nil
	var po tcp.PassiveOpts
	if p := l.child.Load(); p != nil {
		po = *p
	}
	c.tc = tcp.NewPassiveOpts(s.cfg.Load(), s.m, k, seg, isn, po, s.now(), b)
	s.afterEngine(c, b)
	c.mu.Unlock()
}

// childEstablished moves a child from the request queue to the accept
// queue. c.mu is held. A queue that filled up meanwhile counts the overflow
// like tcp_check_req's listen_overflow; with tcp_abort_on_overflow the
// child is reset, otherwise it is queued anyway (Linux would drop the ACK
// and let the SYN-ACK retransmission retry; ustack's child is already
// established by then).
func (l *listener) childEstablished(c *conn, b *batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.synRecv--
	if l.acceptQueueFullLocked() {
		l.s.m.Inc(metrics.TcpExtListenOverflows)
		l.s.m.Inc(metrics.TcpExtListenDrops)
		if l.s.o().TCPAbortOnOverflow != 0 {
			c.ln = nil
			c.tc.Abort(l.s.now(), b)
			return
		}
	}
	c.queued = true
	l.acceptq = append(l.acceptq, c)
	b.wakeListener(l)
}

// childGone forgets a child that died in SYN_RECV. c.mu is held (or c is
// not yet visible).
func (l *listener) childGone(c *conn) {
	l.mu.Lock()
	if !l.closed && c.ln == l && !c.queued {
		l.synRecv--
	}
	l.mu.Unlock()
	c.ln = nil
}

// closeListener is CLOSE-2: the listener leaves the table and its port;
// children waiting in the accept queue are reset like tcp_disconnect and
// dropped; children still in SYN_RECV are dropped silently (a later
// segment for them finds no socket and gets a RST).
func (s *Stack) closeListener(l *listener) {
	s.listeners.remove(l)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	queued := l.acceptq
	l.acceptq = nil
	l.mu.Unlock()
	s.ports.release(l.port, l)
	l.acceptWait.signal()

	b := s.getBatch()
	for _, c := range queued {
		c.mu.Lock()
		c.queued, c.ln, c.userClose = false, nil, true
		c.prepare(b)
		c.tc.Abort(s.now(), b)
		s.afterEngine(c, b)
		if c.hashed {
			s.unhash(c)
		}
		c.mu.Unlock()
	}
	// Request sockets: find the children of l still in SYN_RECV.
	var pending []*conn
	s.table.forEach(func(_ tcp.Tuple, e entry) {
		if e.c != nil && e.c.passive {
			pending = append(pending, e.c)
		}
	})
	for _, c := range pending {
		c.mu.Lock()
		if c.ln == l && !c.queued && c.hashed {
			c.ln = nil
			s.unhash(c)
		}
		c.mu.Unlock()
	}
	s.putBatch(b)
}
