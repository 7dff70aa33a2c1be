package stack

import (
	"math/bits"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp"
)

// batch is the stack's tcp.Emitter: it collects the segments the engine
// emits while a connection lock is held, each in a buffer with
// ipv4.MinSize bytes of headroom for the IP header, plus the list of waiters
// to wake. Before the connection lock is released (afterEngine), commit
// hands the finished packets to the stack's transmit queues, which keep
// every connection's packets in the order they were built whichever
// goroutine built them; flush, after every lock is released, commits the
// rest (replies sent without a connection lock), kicks the queues' writers
// and wakes the waiters. A batch belongs to one goroutine at a time: each
// worker owns one, API calls and timers borrow one from the stack's pool.
type batch struct {
	s     *Stack
	spare [][]byte // empty packet buffers (full length) owned by the batch
	cur   []byte   // the buffer the last Buffer call handed out, if unsent
	pkts  [][]byte // finished IP packets not yet committed, in build order
	txq   []uint8  // txq[i]: the transmit queue pkts[i] goes to
	kick  uint64   // bit i: packets were committed to queue i since the last flush
	sub   [][]byte // scratch for commit: one queue's share of pkts

	// ipID is the per-socket IP ID counter of the connection the engine is
	// running for (ip_select_ident_segs: connected sockets use their own
	// counter). Nil for replies without a full socket (RST, TIME-WAIT ACK,
	// SYN-ACK of a request), which Linux sends with DF and ID 0.
	ipID *uint16
	// tos is the TOS byte of the packets being built.
	tos uint8

	wakes   []wake
	lnWakes []*listener
}

type wake struct {
	c  *conn
	ev tcp.Event
}

func newBatch(s *Stack) *batch {
	b := &batch{s: s}
	b.pkts = make([][]byte, 0, 64)
	b.txq = make([]uint8, 0, 64)
	b.wakes = make([]wake, 0, 64)
	b.lnWakes = make([]*listener, 0, 8)
	return b
}

// bufSize is the buffer size for one packet: headroom + the device MTU.
func (b *batch) bufSize(n int) int {
	return ipv4.MinSize + max(n, b.s.mtu)
}

// Buffer implements tcp.Emitter. Until Send, repeated calls return the
// same buffer (the engine builds one segment at a time).
func (b *batch) Buffer(n int) []byte {
	need := ipv4.MinSize + n
	if b.cur == nil || len(b.cur) < need {
		if b.cur != nil {
			b.spare = append(b.spare, b.cur)
			b.cur = nil
		}
		if k := len(b.spare); k > 0 && len(b.spare[k-1]) >= need {
			b.cur = b.spare[k-1]
			b.spare[k-1] = nil
			b.spare = b.spare[:k-1]
		} else {
			// Warm-up, or a packet larger than the MTU: the buffer joins
			// the circulation between batches and the transmit queue.
			b.cur = make([]byte, b.bufSize(n))
		}
	}
	return b.cur[ipv4.MinSize:need]
}

// Send implements tcp.Emitter: it writes the IPv4 header into the headroom
// in front of seg, the way ip_queue_xmit does for TCP: DF set (PMTU
// discovery is on by default), TTL ip_default_ttl, ID from the socket's
// counter or 0.
func (b *batch) Send(t tcp.Tuple, seg []byte) {
	b.finishFlow(t.LocalAddr, t.RemoteAddr, ipv4.ProtoTCP, len(seg), true, b.s.flowHash(&t))
}

// finish turns the payload of length n in the current buffer into a
// complete IP packet and queues it (a packet without ports: ICMP).
func (b *batch) finish(src, dst [4]byte, proto uint8, n int, df bool) {
	t := tcp.Tuple{LocalAddr: src, RemoteAddr: dst}
	b.finishFlow(src, dst, proto, n, df, b.s.flowHash(&t))
}

// finishFlow is finish for a packet of the flow whose hash is h: the hash
// picks its transmit queue, the same for every packet of a 4-tuple
// (connection, TIME-WAIT record or reset).
func (b *batch) finishFlow(src, dst [4]byte, proto uint8, n int, df bool, h uint64) {
	buf := b.cur[:ipv4.MinSize+n]
	f := ipv4.Fields{
		TOS:         b.tos,
		TotalLength: uint16(ipv4.MinSize + n),
		TTL:         uint8(b.s.o().IPDefaultTTL),
		Protocol:    proto,
		Src:         src,
		Dst:         dst,
	}
	switch {
	case b.ipID != nil:
		f.ID = *b.ipID
		*b.ipID++
	case !df:
		f.ID = b.s.nextIPID()
	}
	if df {
		f.Flags = ipv4.FlagDF
	}
	ipv4.IPv4(buf).Encode(&f)
	b.s.m.Inc(metrics.IpOutRequests)
	if b.s.isOwn(dst) {
		// Our own address: through loopback, never the device. The
		// buffer is copied, so it can be reused at once.
		if !b.s.loop.push(buf) {
			b.s.m.Inc(metrics.IpOutDiscards)
		}
		return
	}
	b.pkts = append(b.pkts, buf)
	b.txq = append(b.txq, uint8(h%uint64(len(b.s.tx))))
	b.cur = nil
}

// commit hands the packets built so far to the transmit queue, in order.
// afterEngine calls it with the connection's lock still held: that is
// what orders the segments of one connection on the wire as they were
// built, even when several goroutines run its engine in turn.
func (b *batch) commit() {
	if len(b.pkts) == 0 {
		return
	}
	var mask uint64
	for _, q := range b.txq {
		mask |= 1 << q
	}
	b.kick |= mask
	tx := b.s.tx
	if mask&(mask-1) == 0 {
		// The usual case: everything for one queue (one connection).
		tx[bits.TrailingZeros64(mask)].push(b.pkts, &b.spare, b.s.m)
	} else {
		for m := mask; m != 0; m &= m - 1 {
			q := uint8(bits.TrailingZeros64(m))
			b.sub = b.sub[:0]
			for i, p := range b.pkts {
				if b.txq[i] == q {
					b.sub = append(b.sub, p)
				}
			}
			tx[q].push(b.sub, &b.spare, b.s.m)
		}
		clear(b.sub)
	}
	clear(b.pkts)
	b.pkts = b.pkts[:0]
	b.txq = b.txq[:0]
}

// raw returns a buffer for a whole payload of n bytes that the caller fills
// and then queues with finish (ICMP).
func (b *batch) raw(n int) []byte { return b.Buffer(n) }

// wake records that c's waiters must be woken with ev after the flush.
func (b *batch) wake(c *conn, ev tcp.Event) {
	if ev != 0 {
		b.wakes = append(b.wakes, wake{c, ev})
	}
}

func (b *batch) wakeListener(l *listener) { b.lnWakes = append(b.lnWakes, l) }

// flush commits what is left (replies built without a connection lock),
// gets the transmit queue written, and then wakes waiters. It must be
// called with no connection or table lock held. When another goroutine is
// writing the queue at that moment, flush returns before the packets are
// on the device: that goroutine writes them, in order.
func (b *batch) flush() {
	b.commit()
	for m := b.kick; m != 0; m &= m - 1 {
		b.s.kickTx(bits.TrailingZeros64(m))
	}
	b.kick = 0
	for i := range b.wakes {
		w := &b.wakes[i]
		w.c.signal(w.ev)
		w.c = nil
	}
	b.wakes = b.wakes[:0]
	for i, l := range b.lnWakes {
		l.acceptWait.signal()
		b.lnWakes[i] = nil
	}
	b.lnWakes = b.lnWakes[:0]
	b.ipID = nil
	b.tos = 0
	b.s.drainLoopback()
}

// getBatch borrows a batch for an API call or timer; putBatch flushes and
// returns it.
func (s *Stack) getBatch() *batch {
	if b, ok := s.batches.Get().(*batch); ok {
		return b
	}
	return newBatch(s)
}

func (s *Stack) putBatch(b *batch) {
	b.flush()
	s.batches.Put(b)
}
