package tcp

import (
	"io"
	"syscall"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
)

// Read copies received data into p (tcp_recvmsg). (0, nil) means no data
// yet; io.EOF follows the peer's FIN; the connection error follows a reset.
func (c *Conn) Read(p []byte, now Time, e Emitter) (int, error) {
	if c.rbuf.n == 0 {
		if c.err != 0 {
			return 0, c.err
		}
		if c.finRcvd || c.rdShut || c.state == StateClose {
			return 0, io.EOF
		}
		return 0, nil
	}
	n := c.rbuf.readAt(0, p[:min(len(p), c.rbuf.n)])
	c.rbuf.discard(n)
	c.copiedSeq += uint32(n)
	c.rcvSpaceAdjust(now)
	c.cleanupRbuf(n, now, e)
	return n, nil
}

// cleanupRbuf is tcp_cleanup_rbuf: after a read, send a window update if
// the window at least doubled, or the delayed ACK if it is due anyway.
func (c *Conn) cleanupRbuf(copied int, now Time, e Emitter) {
	if c.state == StateClose || c.state == StateSynSent || c.state == StateTimeWait {
		return
	}
	timeToAck := false
	if c.ackPending && (c.rcvNxt-c.rcvWup > uint32(c.rcvMSS) ||
		// The read emptied the buffer of a small pushed segment on a
		// one-way connection: ACK now rather than on the timer.
		(copied > 0 && (c.ackPushed2 || (c.ackPushed && c.pingpong == 0)) && c.rbuf.n == 0)) {
		timeToAck = true
	}
	if !timeToAck && copied > 0 && !c.rdShut {
		cur := c.receiveWindow()
		if 2*cur <= c.winClamp {
			if nw := c.chooseWindow(); nw != 0 && nw >= 2*cur {
				timeToAck = true
			}
		}
	}
	if timeToAck {
		c.sendAck(now, e)
	}
}

// Write copies p into the send buffer (tcp_sendmsg) and pushes what may go.
// (0, nil) means the buffer is full.
func (c *Conn) Write(p []byte, now Time, e Emitter) (int, error) {
	return c.WriteMsg(p, 0, now, e)
}

// WriteMore is Write with MSG_MORE: the data is not marked for PSH and a
// partial segment waits for more (as under TCP_CORK) until a plain Write,
// TCP_NODELAY, uncorking or close pushes it.
func (c *Conn) WriteMore(p []byte, now Time, e Emitter) (int, error) {
	return c.WriteMsg(p, MsgMore, now, e)
}

// MsgFlags are the send(2) flags WriteMsg understands.
type MsgFlags uint8

const (
	// MsgMore is MSG_MORE: more data follows; hold a partial segment.
	MsgMore MsgFlags = 1 << iota
	// MsgEOR is MSG_EOR: the data ends a record. Later data never shares
	// a segment with it, new or retransmitted (tcp_skb_can_collapse).
	// A write that could not copy everything sets no boundary, as in
	// Linux, where the mark goes on the last skb of a complete sendmsg.
	MsgEOR
)

// WriteMsg is Write with send(2) flags (sendmsg).
func (c *Conn) WriteMsg(p []byte, flags MsgFlags, now Time, e Emitter) (int, error) {
	if c.err != 0 {
		return 0, c.err
	}
	if c.wrShut || c.finQueued {
		return 0, syscall.EPIPE
	}
	switch c.state {
	case StateEstablished, StateCloseWait:
	case StateSynSent, StateSynRecv:
		return 0, nil // wait for the handshake
	default:
		return 0, syscall.EPIPE
	}
	if c.sndNxt == c.sndUna && c.cfg.SlowStartAfterIdle {
		// tcp_slow_start_after_idle_check: idle longer than an RTO restarts cwnd.
		if idle := now - c.lastSend; c.lastSend != 0 && time.Duration(idle) > c.rto {
			cc.RestartCwnd(c.ca, &c.snd, c.cfg.InitCwnd, int64(idle), int64(c.rto), c.caState == cc.CWR || c.caState == cc.Recovery, int64(now))
		}
	}
	more := flags&MsgMore != 0
	wasEmpty := c.sndNxt == c.writeSeq
	if len(p) > 0 {
		c.seedRings()
	}
	n := 0
	for {
		q := p[n:]
		if room := c.notSentRoom(); room < len(q) {
			q = q[:room]
		}
		k := c.sbuf.write(q)
		if k == 0 {
			break
		}
		c.writeSeq += uint32(k)
		n += k
		if n == len(p) || c.notSentLowatNow() <= 0 {
			break
		}
		// Under TCP_NOTSENT_LOWAT what the window allows leaves during
		// the copy (tcp_push_one of each full skb) and makes room.
		c.pushMore(more, now, e)
	}
	if n < len(p) {
		c.noSpace = true // SOCK_NOSPACE: the writer will wait for room
	}
	if n == 0 {
		return 0, nil
	}
	if wasEmpty {
		c.chronoBegin(chronoBusy, now) // tcp_add_write_queue_tail on an empty queue
	}
	if !more {
		c.pushSeq = c.writeSeq // tcp_mark_push
	}
	if flags&MsgEOR != 0 && n == len(p) {
		c.eorMark(c.writeSeq)
	}
	c.pushMore(more, now, e)
	return n, nil
}

// pushMore is tcp_push at the end of a sendmsg: MSG_MORE corks this push
// only (nonagle = TCP_NAGLE_CORK for the call); tp->nonagle is unchanged,
// so the next ACK or TCP_NODELAY pushes a held partial segment by the
// socket's own Nagle setting (nagle/sendmsg_msg_more.pkt).
func (c *Conn) pushMore(more bool, now Time, e Emitter) {
	c.moreHold = more
	c.pushPending(now, e, false)
	c.moreHold = false
}

// notSentRoom is how many bytes TCP_NOTSENT_LOWAT lets a write queue:
// tcp_sendmsg allocates a new skb only while fewer than lowat bytes are
// unsent (sk_stream_memory_free), so the limit is passed by up to one
// segment, which is the engine's unit of queueing.
func (c *Conn) notSentRoom() int {
	lowat := c.notSentLowatNow()
	if lowat <= 0 {
		return int(^uint(0) >> 1)
	}
	unsent := int(c.writeSeq - c.sndNxt)
	if unsent >= lowat {
		return 0
	}
	mss := max(c.mssCache, 1)
	return (lowat - unsent + mss - 1) / mss * mss
}

// notSentLowatNow is tcp_notsent_lowat: the socket's value, else the
// sysctl's (0 = unlimited).
func (c *Conn) notSentLowatNow() int {
	if c.notSentLowat > 0 {
		return c.notSentLowat
	}
	return c.cfg.NotSentLowat
}

// SetNotSentLowat sets TCP_NOTSENT_LOWAT in bytes (0: the
// tcp_notsent_lowat sysctl, Config.NotSentLowat). Writes then queue
// unsent data only below the mark, and Writable (EPOLLOUT) needs the
// unsent bytes below half of it (tcp_stream_memory_free with wake = 1).
// Values of 2^31 and above mean no limit, like the kernel's UINT_MAX.
func (c *Conn) SetNotSentLowat(n int) {
	if n < 0 || n >= 1<<31-1 {
		n = 1<<31 - 1
	}
	c.notSentLowat = n
	if c.writableNow() {
		c.events |= EventWritable
	}
}

// NotSentLowat returns TCP_NOTSENT_LOWAT as set (0: unset).
func (c *Conn) NotSentLowat() int { return c.notSentLowat }

// writableNow is the room part of sk_stream_is_writeable for poll: send
// buffer space and, with TCP_NOTSENT_LOWAT, (unsent << 1) < lowat.
func (c *Conn) writableNow() bool {
	if c.sbuf.free() <= 0 {
		return false
	}
	if lowat := c.notSentLowatNow(); lowat > 0 && int64(c.writeSeq-c.sndNxt)<<1 >= int64(lowat) {
		return false
	}
	return true
}

// checkSpace is tcp_check_space after an ACK: a writer that ran out of
// room is woken once there is room again, which also ends the
// send-buffer-limited chronograph; sk_sndbuf grows (tcp_new_space).
func (c *Conn) checkSpace(now Time) {
	if !c.noSpace {
		return
	}
	if c.sndBufSet == 0 && c.packetsInFlight() < c.snd.Cwnd {
		c.sndbufExpand()
	}
	if c.writableNow() {
		c.noSpace = false
		c.events |= EventWritable
		c.chronoStop(chronoSndbuf, now)
	}
}

// Shutdown is tcp_shutdown (CLOSE-18) plus the receive-side flag.
func (c *Conn) Shutdown(read, write bool, now Time, e Emitter) error {
	if c.state == StateClose {
		// inet_shutdown: a closed socket reports ENOTCONN (after a reset
		// or a TIME-WAIT downgrade too) but still marks the directions.
		c.rdShut = c.rdShut || read
		c.wrShut = c.wrShut || write
		c.events |= EventReadable | EventWritable
		return syscall.ENOTCONN
	}
	if read {
		c.rdShut = true
		c.events |= EventReadable
	}
	if write && !c.wrShut {
		switch c.state {
		case StateEstablished, StateSynSent, StateCloseWait, StateSynRecv:
			c.wrShut = true
			c.closeState(now, e)
			c.events |= EventWritable
		}
	}
	return nil
}

// closeState is tcp_close_state + tcp_send_fin (CLOSE-8, CLOSE-11).
func (c *Conn) closeState(now Time, e Emitter) {
	switch c.state {
	case StateEstablished, StateSynRecv:
		c.setState(StateFinWait1)
		c.sendFin(now, e)
	case StateCloseWait:
		c.setState(StateLastAck)
		c.sendFin(now, e)
	case StateSynSent:
		c.done()
	case StateFinWait1, StateFinWait2, StateClosing, StateLastAck:
	default:
		c.done()
	}
}

// sendFin queues our FIN after pending data and pushes with Nagle off.
func (c *Conn) sendFin(now Time, e Emitter) {
	if c.finQueued {
		return
	}
	if c.sndNxt == c.writeSeq {
		c.chronoBegin(chronoBusy, now) // the FIN is a new skb on an empty write queue
	}
	c.finQueued = true
	c.moreHold = false
	c.writeSeq++
	if c.state == StateFinWait1 && c.sndNxt == c.iss+1 && c.sndUna == c.iss && c.retransTS != 0 {
		// Still in the handshake (SYN_RECV close): the FIN waits for the ACK.
		return
	}
	c.pushPending(now, e, true)
	if c.sndNxt != c.writeSeq && c.sndNxt == c.sndUna && c.rtoAt == 0 {
		c.checkProbeTimer(now)
	}
}

// hasUnreadData is CLOSE-3: data beyond copied_seq, a FIN alone does not count.
func (c *Conn) hasUnreadData() bool { return c.rbuf.n > 0 }

// Close is tcp_close (CLOSE-1..17): RST on unread data, RST on zero linger,
// otherwise FIN per the close table; the connection becomes an orphan that
// timers and segments drive to its end.
func (c *Conn) Close(now Time, e Emitter) {
	c.rdShut, c.wrShut = true, true
	if c.state == StateClose {
		c.done() // CLOSE-4
		return
	}
	c.orphan = true
	unread := c.hasUnreadData()
	c.copiedSeq += uint32(c.rbuf.n)
	c.rbuf.discard(c.rbuf.n)
	c.ooo.clear()
	switch {
	case unread:
		// CLOSE-6
		old := c.state
		c.setState(StateClose)
		if old != StateSynSent && old != StateListen {
			c.sendActiveReset(now, e)
		}
		c.inc(metrics.TcpExtTCPAbortOnClose)
		c.done()
		return
	case c.lingerOn && c.lingerSecs == 0:
		c.inc(metrics.TcpExtTCPAbortOnData) // CLOSE-7
		c.disconnect(now, e)
		return
	}
	c.closeState(now, e)
	if c.state == StateFinWait2 {
		// CLOSE-15 / FW2-2
		if c.linger2 < 0 {
			c.setState(StateClose)
			c.sendActiveReset(now, e)
			c.inc(metrics.TcpExtTCPAbortOnLinger)
			c.done()
			return
		}
		tmo := c.finTime()
		if tmo <= timeWaitLen {
			c.enterTimeWait(StateFinWait2, tmo, now)
			return // a FIN_WAIT2 record is no orphan: no limit check
		}
		c.keepAt = now.add(tmo - timeWaitLen)
	}
	c.orphanOOM(now, e) // CLOSE-16
}

// Abort resets the connection from our side (CLOSE-9, tcp_disconnect).
func (c *Conn) Abort(now Time, e Emitter) { c.disconnect(now, e) }

func (c *Conn) disconnect(now Time, e Emitter) {
	old := c.state
	if old == StateSynRecv && c.passive {
		old = StateClose // a request socket goes away silently (CLOSE-2)
	}
	switch old {
	case StateEstablished, StateCloseWait, StateFinWait1, StateFinWait2, StateSynRecv:
		c.setState(StateClose)
		c.sendActiveReset(now, e)
	case StateClosing, StateLastAck:
		if c.sndNxt != c.writeSeq {
			c.setState(StateClose)
			c.sendActiveReset(now, e)
		}
	case StateSynSent:
		c.err = syscall.ECONNRESET
		c.events |= EventError
	}
	c.copiedSeq += uint32(c.rbuf.n)
	c.rbuf.discard(c.rbuf.n)
	c.ooo.clear()
	c.done()
}

// orphanReachedFW2 is FW2-4: an orphan whose FIN was just acknowledged.
// It returns true when the segment was consumed.
func (c *Conn) orphanReachedFW2(seg *Segment, now Time, e Emitter) bool {
	if c.linger2 < 0 {
		c.abortOnData(seg, e)
		return true
	}
	plen := uint32(len(seg.Payload))
	if plen > 0 && after(seg.Seq+plen, c.rcvNxt) {
		c.abortOnData(seg, e)
		return true
	}
	tmo := c.finTime()
	switch {
	case tmo > timeWaitLen:
		c.keepAt = now.add(tmo - timeWaitLen)
	case seg.Flags&0x01 != 0: // FIN present: stay a full socket, FIN processing follows
		c.keepAt = now.add(tmo)
	default:
		c.enterTimeWait(StateFinWait2, tmo, now)
		return true
	}
	return false
}

// enterTimeWait is tcp_time_wait (TW-ENTER-5/6): capture the record's
// contents, raise EventTimeWait and leave the connection in CLOSE for the
// stack to replace. With Config.NoTimeWaitRecords a TIME_WAIT stays here
// for 60 s instead (FIN_WAIT2 substates then simply time out).
func (c *Conn) enterTimeWait(sub State, timeo time.Duration, now Time) {
	timeo = max(timeo, c.rto35())
	if sub == StateTimeWait {
		timeo = timeWaitLen
	}
	rw := int32(c.rcvWup + c.rcvWnd - c.rcvNxt)
	c.twInfo = TimeWaitInfo{
		Substate:  sub,
		RcvNxt:    c.rcvNxt,
		SndNxt:    c.sndNxt,
		RcvWnd:    uint32(max(rw, 0)),
		RcvWScale: c.rcvWScale,
		HasTS:     c.tsOK,
		TSOffset:  c.tsOffset,
		Timeout:   timeo,
		RTO:       c.rto,
	}
	if c.tsOK {
		c.twInfo.TSRecent, c.twInfo.TSRecentStamp = c.tsRecent, c.tsStamp
	}
	c.wantTW = true
	c.twSubstate, c.twTimeout = sub, timeo
	if c.cfg.NoTimeWaitRecords {
		c.setState(StateTimeWait)
		c.stopTimers()
		c.rdShut, c.wrShut = true, true
		c.twAt = now.add(timeo)
		c.events |= EventReadable | EventWritable
		return
	}
	c.events |= EventTimeWait
	c.done()
}

// tooManyOrphans is tcp_check_oom's orphan test (ORPHAN-2) through the
// stack's hook, with its rate-limited log line.
func (c *Conn) tooManyOrphans(shift int) bool {
	if c.cfg.TooManyOrphans == nil || !c.cfg.TooManyOrphans(shift) {
		return false
	}
	if c.cfg.Logf != nil {
		c.cfg.Logf("too many orphaned sockets")
	}
	return true
}

// orphanOOM is the tail of __tcp_close (CLOSE-16): an orphan that would
// outlive close while the orphan limit is exceeded is reset instead.
func (c *Conn) orphanOOM(now Time, e Emitter) bool {
	if c.state == StateClose || !c.tooManyOrphans(0) {
		return false
	}
	c.setState(StateClose)
	c.sendActiveReset(now, e)
	c.inc(metrics.TcpExtTCPAbortOnMemory)
	c.done()
	return true
}

// outOfResources is tcp_out_of_resources (ORPHAN-6), run for an orphan at
// its retransmission and zero-window probe timeouts: under orphan
// pressure (penalised when nothing was sent for 2*RTO_MAX, when no RST is
// otherwise warranted, and after an ICMP soft error) the orphan is
// destroyed, with a RST if it is alive, sent something in the last 60 s
// or faces a closed window with nothing in flight.
func (c *Conn) outOfResources(doReset bool, now Time, e Emitter) bool {
	shift := 0
	idle := time.Duration(now - c.lastSend)
	if idle > 2*c.cfg.RTOMax || !doReset {
		shift++
	}
	if c.softErr != 0 {
		shift++
	}
	if !c.tooManyOrphans(shift) {
		return false
	}
	if idle <= timeWaitLen || (c.sndWnd == 0 && c.sndNxt == c.sndUna) {
		doReset = true
	}
	if doReset {
		c.sendActiveReset(now, e)
	}
	c.done()
	c.inc(metrics.TcpExtTCPAbortOnMemory)
	return true
}

// orphanRetransOOM is the orphan part of tcp_write_timeout before the
// give-up test: alive (RTO below RTO_MAX) or retries left allow a RST.
func (c *Conn) orphanRetransOOM(now Time, e Emitter) bool {
	if !c.orphan {
		return false
	}
	alive := c.rto < c.cfg.RTOMax
	doReset := alive || !c.orphanBudgetUsed(now)
	return c.outOfResources(doReset, now, e)
}

// orphanBudgetUsed is retransmits_timed_out with the orphan retry count
// and no user timeout (ORPHAN-4).
func (c *Conn) orphanBudgetUsed(now Time) bool {
	if c.retrans == 0 || c.retransTS == 0 {
		return false
	}
	return time.Duration(now-c.retransTS) >= c.modelTimeout(c.orphanRetries(), c.cfg.RTOMin)
}
