package tcp

import (
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// sackBlock is a half-open sequence range [start, end).
type sackBlock struct{ start, end uint32 }

func before(a, b uint32) bool { return int32(a-b) < 0 }
func after(a, b uint32) bool  { return int32(a-b) > 0 }

func seqMin(a, b uint32) uint32 {
	if before(a, b) {
		return a
	}
	return b
}

func seqMax(a, b uint32) uint32 {
	if after(a, b) {
		return a
	}
	return b
}

// maxOOORanges bounds the out-of-order bookkeeping; a segment that would need
// more ranges is dropped (the peer retransmits it), as Linux prunes its
// out-of-order queue under memory pressure.
const maxOOORanges = 32

// oooQueue is the receiver's out-of-order state: which ranges beyond rcv_nxt
// are held in the receive ring, and the SACK blocks in the order Linux
// reports them (tp->selective_acks: most recently changed first).
type oooQueue struct {
	r     *[maxOOORanges]sackBlock // sorted, disjoint, non-adjacent; allocated by the first add
	n     int
	sacks [4]sackBlock
	nsack int
}

func (q *oooQueue) empty() bool { return q.n == 0 }

func (q *oooQueue) bytes() uint32 {
	var b uint32
	for i := range q.n {
		b += q.r[i].end - q.r[i].start
	}
	return b
}

// add records [s, e) and returns false if it could not be tracked.
func (q *oooQueue) add(s, e uint32) bool {
	if q.r == nil {
		q.r = new([maxOOORanges]sackBlock) // the first out-of-order segment of the connection's life
	}
	// Find the first range that ends at or after s.
	i := 0
	for i < q.n && before(q.r[i].end, s) {
		i++
	}
	// Merge every range that overlaps or touches [s, e).
	j := i
	for j < q.n && !after(q.r[j].start, e) {
		s = seqMin(s, q.r[j].start)
		e = seqMax(e, q.r[j].end)
		j++
	}
	if i == j { // pure insertion
		if q.n == len(q.r) {
			return false
		}
		copy(q.r[i+1:q.n+1], q.r[i:q.n])
		q.r[i] = sackBlock{s, e}
		q.n++
		return true
	}
	q.r[i] = sackBlock{s, e}
	copy(q.r[i+1:], q.r[j:q.n])
	q.n -= j - i - 1
	return true
}

// covers reports whether [s, e) is entirely inside one held range.
func (q *oooQueue) covers(s, e uint32) bool {
	for i := range q.n {
		if !before(s, q.r[i].start) && !after(e, q.r[i].end) {
			return true
		}
	}
	return false
}

// popInOrder removes ranges that start at or before rcvNxt and returns the
// new rcv_nxt.
func (q *oooQueue) popInOrder(rcvNxt uint32) uint32 {
	k := 0
	for k < q.n && !after(q.r[k].start, rcvNxt) {
		if after(q.r[k].end, rcvNxt) {
			rcvNxt = q.r[k].end
		}
		k++
	}
	if k > 0 {
		copy(q.r[:], q.r[k:q.n])
		q.n -= k
	}
	return rcvNxt
}

// clear forgets all out-of-order data (e.g. beyond a FIN).
func (q *oooQueue) clear() { q.n, q.nsack = 0, 0 }

// newOfo is tcp_sack_new_ofo_skb: extend a block the segment touches and
// rotate it to the front, or push a new block in front (dropping the
// oldest when all four are used).
func (q *oooQueue) newOfo(s, e uint32) {
	for i := range q.nsack {
		b := &q.sacks[i]
		if !after(s, b.end) && !after(b.start, e) {
			if before(s, b.start) {
				b.start = s
			}
			if after(e, b.end) {
				b.end = e
			}
			for ; i > 0; i-- {
				q.sacks[i], q.sacks[i-1] = q.sacks[i-1], q.sacks[i]
			}
			q.coalesce()
			return
		}
	}
	if q.nsack == len(q.sacks) {
		q.nsack--
	}
	copy(q.sacks[1:q.nsack+1], q.sacks[:q.nsack])
	q.sacks[0] = sackBlock{s, e}
	q.nsack++
}

// coalesce merges the first block with any later one it now touches
// (tcp_sack_maybe_coalesce).
func (q *oooQueue) coalesce() {
	f := &q.sacks[0]
	for i := 1; i < q.nsack; {
		b := q.sacks[i]
		if !after(f.start, b.end) && !after(b.start, f.end) {
			if before(b.start, f.start) {
				f.start = b.start
			}
			if after(b.end, f.end) {
				f.end = b.end
			}
			copy(q.sacks[i:], q.sacks[i+1:q.nsack])
			q.nsack--
			continue
		}
		i++
	}
}

// sackRemove is tcp_sack_remove: blocks now covered by rcv_nxt go away.
func (q *oooQueue) sackRemove(rcvNxt uint32) {
	if q.n == 0 {
		q.nsack = 0
		return
	}
	for i := 0; i < q.nsack; {
		if !before(rcvNxt, q.sacks[i].start) {
			copy(q.sacks[i:], q.sacks[i+1:q.nsack])
			q.nsack--
			continue
		}
		i++
	}
}

// queueData is tcp_data_queue for a segment's payload [seq, seq+len(p))
// that passed the acceptability checks. It returns true if rcv_nxt moved.
func (c *Conn) queueData(seq uint32, p []byte, now Time) bool {
	c.seedRings()
	end := seq + uint32(len(p))
	if !after(end, c.rcvNxt) {
		// Entirely old: a retransmission we already have (DSACK, quick ACK).
		c.setDSACK(seq, end)
		c.enterQuickAck()
		c.ackNow = true
		return false
	}
	if before(seq, c.rcvNxt) {
		// Partial overlap: report the duplicate part, keep the new part.
		c.setDSACK(seq, c.rcvNxt)
		p = p[c.rcvNxt-seq:]
		seq = c.rcvNxt
	}
	// Never store beyond the ring (the advertised window keeps honest peers inside it).
	off := int(seq - c.copiedSeq)
	if room := c.rbuf.cap() - off; room < len(p) {
		if room <= 0 {
			c.ackNow = true
			return false
		}
		p = p[:room]
		end = seq + uint32(len(p))
	}
	if seq == c.rcvNxt {
		if c.receiveWindow() == 0 {
			// Zero window: out of window, drop and ACK (tcp_data_queue).
			c.ackNow = true
			return false
		}
		c.rbuf.writeAt(off, p)
		prev := c.rcvNxt
		c.rcvNxt = end
		hadOOO := !c.ooo.empty()
		if hadOOO {
			c.rcvNxt = c.ooo.popInOrder(c.rcvNxt)
			if c.ooo.empty() {
				c.ackNow = true // RFC 5681 4.2: ACK at once when a gap is filled
			}
			c.ooo.sackRemove(c.rcvNxt)
		}
		c.rbuf.n = int(c.rcvNxt - c.copiedSeq)
		c.bytesReceived += uint64(c.rcvNxt - prev)
		c.dataReceived(len(p), now)
		c.events |= EventReadable
		return true
	}
	// Out of order.
	c.inc(metrics.TcpExtTCPOFOQueue)
	if c.ooo.covers(seq, end) {
		// Already held: DSACK it (tcp_data_queue_ofo, TCPDSACKOfoSent).
		if c.sackOK && c.cfg.DSACK {
			c.inc(metrics.TcpExtTCPDSACKOfoSent)
			c.dsack, c.dsackBlk = true, sackBlock{seq, end}
		}
		c.ackPending = true
		return false
	}
	if !c.ooo.add(seq, end) {
		c.inc(metrics.TcpExtTCPOFODrop)
		c.ackPending = true
		return false
	}
	c.rbuf.writeAt(off, p)
	if c.sackOK {
		c.ooo.newOfo(seq, end)
	}
	c.ackPending = true // tcp_data_queue_ofo: inet_csk_schedule_ack
	return false
}

func (c *Conn) setDSACK(s, e uint32) {
	if !c.sackOK || !c.cfg.DSACK {
		return
	}
	c.inc(metrics.TcpExtTCPDSACKOldSent)
	c.dsack = true
	c.dsackBlk = sackBlock{s, e}
}

// dataReceived is tcp_event_data_recv: the delayed-ACK clock (ato) and
// receive-window growth (tcp_grow_window).
func (c *Conn) dataReceived(n int, now Time) {
	c.ackPending = true
	c.measureRcvMSS(n)
	if c.ato == 0 {
		// The first data segment starts the delayed-ACK engine in quick-ACK mode.
		c.incrQuickAck(maxQuickAcks)
		c.ato = c.cfg.ATOMin
	} else {
		m := time.Duration(now - c.lrcvTime)
		switch {
		case m <= c.cfg.ATOMin/2:
			c.ato = c.ato/2 + c.cfg.ATOMin/2
		case m < c.ato:
			c.ato = min(c.ato/2+m, c.rto)
		case m > c.rto:
			c.incrQuickAck(maxQuickAcks)
		}
	}
	c.lrcvTime = now
	// tcp_grow_window: each in-order segment opens the window by 2*advmss.
	if n >= 128 && c.rcvSSThr < c.winClamp && int(c.rcvSSThr) < c.freeSpace() {
		incr := uint32(max(2*c.advMSS, 2*n))
		c.rcvSSThr += min(c.winClamp-c.rcvSSThr, incr)
	}
}

// incrQuickAck is tcp_incr_quickack.
func (c *Conn) incrQuickAck(maxq int) {
	q := int(c.rcvWnd) / (2 * max(c.rcvMSS, 1))
	if q == 0 {
		q = 2
	}
	c.quick = min(max(c.quick, q), maxq)
}

// enterQuickAck is tcp_enter_quickack_mode.
func (c *Conn) enterQuickAck() {
	c.incrQuickAck(maxQuickAcks)
	c.pingpong = 0
	c.ato = c.cfg.ATOMin
}

func (c *Conn) inQuickAck() bool { return c.quick > 0 && c.pingpong < 1 }

// measureRcvMSS is tcp_measure_rcv_mss: track the peer's segment size and
// flag small (pushed) segments for tcp_cleanup_rbuf.
func (c *Conn) measureRcvMSS(n int) {
	lss := c.lastSegSize
	c.lastSegSize = 0
	if n >= c.rcvMSS {
		c.rcvMSS = min(n, c.advMSS)
		return
	}
	remnant := c.segFlags&^(header.FlagACK|header.FlagPSH) != 0
	if n >= defaultMSS || (n >= minMSS && !remnant) {
		c.lastSegSize = n
		if n == lss {
			c.rcvMSS = n
			return
		}
	}
	if c.ackPushed {
		c.ackPushed2 = true
	}
	c.ackPushed = true
}
