package tcp

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// segOpts assembles the options of an outgoing non-SYN segment into o
// (tcp_established_options): timestamps, then DSACK and SACK blocks.
func (c *Conn) segOpts(o *header.Options, now Time) {
	*o = header.Options{}
	if c.tsOK {
		o.HasTS = true
		o.TSVal = c.tsNow(now)
		o.TSEcr = c.tsRecent
	}
	if c.sackOK {
		n := 0
		if c.dsack {
			o.SACK[0] = header.SACKBlock{Start: c.dsackBlk.start, End: c.dsackBlk.end}
			n = 1
		}
		for i := 0; i < c.ooo.nsack && n < len(o.SACK); i++ {
			o.SACK[n] = header.SACKBlock{Start: c.ooo.sacks[i].start, End: c.ooo.sacks[i].end}
			n++
		}
		o.NumSACK = n
	}
}

// synOpts assembles the SYN / SYN-ACK options (tcp_syn_options,
// tcp_synack_options).
func (c *Conn) synOpts(o *header.Options, now Time) {
	*o = header.Options{HasMSS: true, MSS: uint16(c.advMSS)}
	if c.tsOK {
		o.HasTS = true
		o.TSVal = c.tsNow(now)
		if c.state == StateSynRecv {
			o.TSEcr = c.tsRecent
			if c.passive {
				c.noteSynAckTS(o)
			}
		}
	}
	o.SACKPermitted = c.sackOK
	if c.wscaleOK {
		o.HasWScale = true
		o.WScale = c.rcvWScale
	}
}

// transmit builds and emits one segment. Payload bytes come from the send
// ring at seq. It is tcp_transmit_skb plus its ACK bookkeeping.
func (c *Conn) transmit(e Emitter, seq uint32, flags uint8, n int, now Time) {
	var o header.Options
	var olen int
	syn := flags&header.FlagSYN != 0
	if syn {
		c.synOpts(&o, now)
		olen = header.SYNOptionsLen(&o)
	} else {
		c.segOpts(&o, now)
		olen = header.OptionsLen(&o)
	}
	hl := header.TCPMinSize + olen
	b := e.Buffer(hl + n)
	seg := header.TCP(b[:hl+n])
	var win uint16
	switch {
	case syn:
		win = uint16(min(c.rcvWnd, 65535)) // a SYN's window is never scaled
	case c.state == StateSynRecv && c.passive:
		// A request socket's ACK (tcp_v4_reqsk_send_ack) repeats the
		// SYN-ACK's window, scaled and truncated; nothing is re-chosen.
		win = uint16(c.reqWindow() >> c.rcvWScale)
	default:
		win = c.selectWindow()
	}
	ack := uint32(0)
	if flags&header.FlagACK != 0 {
		ack = c.rcvNxt
	}
	seg.Encode(&header.Fields{
		SrcPort:    c.tuple.LocalPort,
		DstPort:    c.tuple.RemotePort,
		Seq:        seq,
		Ack:        ack,
		DataOffset: uint8(hl),
		Flags:      flags,
		Window:     win,
	})
	if syn {
		header.PutSYNOptions(b[header.TCPMinSize:hl], &o)
	} else {
		header.PutOptions(b[header.TCPMinSize:hl], &o)
	}
	if n > 0 {
		c.sbuf.readAt(int(seq-c.sndUna), b[hl:hl+n])
		c.dataSegsOut++
		c.bytesSent += uint64(n)
		if before(seq, c.sndNxt) {
			c.bytesRetx += uint64(n) // tcp_retransmit_skb's bytes_retrans
		}
	}
	seg.SetChecksum(header.TCPChecksum(c.tuple.LocalAddr, c.tuple.RemoteAddr, seg))
	e.Send(c.tuple, seg)
	c.inc(metrics.TcpOutSegs)
	c.segsOut++
	if flags&header.FlagACK != 0 {
		c.ackSent()
	}
	if n > 0 {
		c.dataSent(now) // only segments with payload (skb->len != header)
	}
}

// ackSent is tcp_event_ack_sent: the ACK carried everything up to rcv_nxt.
func (c *Conn) ackSent() {
	if c.quick > 0 {
		pkts := 0
		if c.ackPending {
			pkts = 1
		}
		if pkts >= c.quick {
			c.quick = 0
			c.ato = c.cfg.ATOMin
		} else {
			c.quick -= pkts
		}
	}
	if c.compAcks > 0 {
		c.add(metrics.TcpExtTCPAckCompressed, uint32(c.compAcks))
		c.compAcks = 0
	}
	c.compAckAt = 0
	c.ackPending, c.ackNow = false, false
	c.ackPushed, c.ackPushed2 = false, false
	c.delackAt = 0
	c.dsack = false
}

// dataSent is tcp_event_data_sent: a reply within ato of the last received
// segment makes the connection interactive (pingpong).
func (c *Conn) dataSent(now Time) {
	if c.packetsInFlight() == 0 && c.ca != nil {
		c.snd.LSndTime = int64(c.lastSend)
		c.ca.CwndEvent(&c.snd, cc.TxStart, int64(now))
	}
	c.lastSend = now
	if c.lrcvTime != 0 && now-c.lrcvTime < Time(c.ato) {
		c.pingpong++
	}
}

// fullSpace is tcp_full_space: the window the receive buffer allows.
func (c *Conn) fullSpace() int { return c.rbuf.cap() }

// freeSpace is tcp_space: what is left of it.
func (c *Conn) freeSpace() int {
	return c.rbuf.cap() - c.rbuf.n - int(c.ooo.bytes())
}

// receiveWindow is tcp_receive_window: what is left of the last offer.
func (c *Conn) receiveWindow() uint32 {
	w := int32(c.rcvWup + c.rcvWnd - c.rcvNxt)
	if w < 0 {
		return 0
	}
	return uint32(w)
}

// chooseWindow is __tcp_select_window: the window we would offer now, in
// bytes.
func (c *Conn) chooseWindow() uint32 {
	mss := c.rcvMSS
	free := c.freeSpace()
	allowed := c.fullSpace()
	full := min(int(c.winClamp), allowed)
	if mss > full {
		mss = full
		if mss <= 0 {
			return 0
		}
	}
	if free < full>>1 {
		c.quick = 0
		free &^= (1 << c.rcvWScale) - 1
		if free < allowed>>4 || free < mss {
			return 0
		}
	}
	if free > int(c.rcvSSThr) {
		free = int(c.rcvSSThr)
	}
	if c.rcvWScale != 0 {
		unit := 1 << c.rcvWScale
		return uint32((free + unit - 1) &^ (unit - 1))
	}
	w := int(c.rcvWnd)
	if w <= free-mss || w > free {
		w = free / mss * mss
	} else if mss == full && free > w+full>>1 {
		w = free
	}
	return uint32(w)
}

// selectWindow is tcp_select_window: never shrink an offer already made,
// remember the offer, and scale it for the header.
func (c *Conn) selectWindow() uint16 {
	cur := c.receiveWindow()
	nw := c.chooseWindow()
	if nw < cur {
		unit := uint32(1) << c.rcvWScale
		nw = (cur + unit - 1) &^ (unit - 1)
	}
	c.rcvWnd = nw
	c.rcvWup = c.rcvNxt
	nw = min(nw, uint32(65535)<<c.rcvWScale)
	return uint16(nw >> c.rcvWScale)
}

// sendAck sends a pure ACK at once (tcp_send_ack).
func (c *Conn) sendAck(now Time, e Emitter) {
	if c.state == StateClose || c.state == StateSynSent {
		return
	}
	c.transmit(e, c.sndNxt, header.FlagACK, 0, now)
}

// sendChallengeAck is tcp_send_challenge_ack (RFC 5961): rate limited per
// socket by tcp_invalid_ratelimit; the global limiter is off in 6.18.
func (c *Conn) sendChallengeAck(now Time, e Emitter) {
	if c.oowRateLimited(now, metrics.TcpExtTCPACKSkippedChallenge) {
		return
	}
	c.inc(metrics.TcpExtTCPChallengeACK)
	c.sendAck(now, e)
}

// oowRateLimited is tcp_oow_rate_limited: at most one out-of-window reply
// per tcp_invalid_ratelimit.
func (c *Conn) oowRateLimited(now Time, counter metrics.ID) bool {
	lim := Time(c.cfg.InvalidRateLimit)
	if lim > 0 && c.lastOOWAck != 0 && now-c.lastOOWAck < lim {
		c.inc(counter)
		return true
	}
	c.lastOOWAck = now
	return false
}

// sendDupAck answers an unacceptable segment (tcp_oow_rate_limited +
// tcp_send_dupack). Only segments without payload (or with SYN) are rate
// limited: data segments are not part of an ACK loop.
func (c *Conn) sendDupAck(seg *Segment, now Time, e Emitter, counter metrics.ID) {
	if (seg.SegLen() == 0 || seg.Flags&header.FlagSYN != 0) && c.oowRateLimited(now, counter) {
		return
	}
	if seg.SegLen() != 0 && before(seg.Seq, c.rcvNxt) {
		c.inc(metrics.TcpExtDelayedACKLost)
		c.enterQuickAck()
		end := seg.Seq + seg.SegLen()
		if after(end, c.rcvNxt) {
			end = c.rcvNxt
		}
		c.setDSACK(seg.Seq, end)
	}
	c.sendAck(now, e)
}

// acceptableSeq is tcp_acceptable_seq: the SEQ of an active RST.
func (c *Conn) acceptableSeq() uint32 {
	wndEnd := c.sndUna + c.sndWnd
	if !before(wndEnd, c.sndNxt) || (c.wscaleOK && c.sndNxt-wndEnd < 1<<c.rcvWScale) {
		return c.sndNxt
	}
	return wndEnd
}

// sendActiveReset is tcp_send_active_reset (CLOSE-10): RST|ACK with SEQ
// from tcp_acceptable_seq and ACK rcv_nxt, never retransmitted. It goes
// through tcp_transmit_skb, which adds the established options: a
// timestamped connection's RST carries the TS option (as Linux's do on the
// wire, e.g. the trace in the kernel's conntrack_inexact_rst selftest),
// although the kernel comment and spec CLOSE-10 say "no options".
func (c *Conn) sendActiveReset(now Time, e Emitter) {
	var o header.Options
	c.segOpts(&o, now)
	hl := header.TCPMinSize + header.OptionsLen(&o)
	b := e.Buffer(hl)
	seg := header.TCP(b[:hl])
	seg.Encode(&header.Fields{
		SrcPort:    c.tuple.LocalPort,
		DstPort:    c.tuple.RemotePort,
		Seq:        c.acceptableSeq(),
		Ack:        c.rcvNxt,
		DataOffset: uint8(hl),
		Flags:      header.FlagRST | header.FlagACK,
		Window:     c.selectWindow(),
	})
	header.PutOptions(b[header.TCPMinSize:hl], &o)
	seg.SetChecksum(header.TCPChecksum(c.tuple.LocalAddr, c.tuple.RemoteAddr, seg))
	e.Send(c.tuple, seg)
	c.segsOut++
	c.inc(metrics.TcpOutSegs)
	c.inc(metrics.TcpOutRsts)
}

// curMSS is tcp_current_mss: the payload that fits beside the options this
// segment will carry.
func (c *Conn) curMSS() int {
	m := c.mssCache
	if c.sackOK && (c.dsack || c.ooo.nsack > 0) {
		n := c.ooo.nsack
		if c.dsack {
			n++
		}
		if c.tsOK {
			n = min(n, 3)
		} else {
			n = min(n, 4)
		}
		m -= 4 + 8*n
	}
	return max(m, 1)
}

// dataEnd is the end of queued data (write_seq without our FIN).
func (c *Conn) dataEnd() uint32 {
	if c.finQueued {
		return c.writeSeq - 1
	}
	return c.writeSeq
}

func (c *Conn) canSendData() bool {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
		return true
	}
	return false
}

// pushPending is tcp_push_pending_frames / tcp_write_xmit: send what cwnd,
// the peer's window and Nagle allow. force turns Nagle off for this call.
func (c *Conn) pushPending(now Time, e Emitter, force bool) {
	if c.sndUna == c.sndNxt && c.chronoType != chronoUnspec {
		c.chronoStop(chronoBusy, now) // tcp_clean_rtx_queue emptied the retransmit queue
	}
	if !c.canSendData() {
		return
	}
	hadUnsent := c.sndNxt != c.writeSeq
	rexmitNew := c.rexmitNew
	c.rexmitNew = false
	if !rexmitNew {
		c.retransmitLost(now, e)
	} else {
		force = true // tcp_xmit_recovery: REXMIT_NEW pushes with Nagle off
	}
	sent, limited, rwndLimited := false, false, false
	inflight := c.packetsInFlight() // each new segment adds one packet
	for c.sndNxt != c.writeSeq {
		// tcp_cwnd_test: a lone FIN is not held back by cwnd.
		finOnly := c.finQueued && c.sndNxt == c.writeSeq-1
		if inflight >= c.snd.Cwnd && !finOnly {
			limited = true
			break
		}
		mss := c.curMSS()
		dend := c.dataEnd()
		n := 0
		if before(c.sndNxt, dend) {
			n = c.eorClamp(c.sndNxt, int(min(dend-c.sndNxt, uint32(mss))))
		}
		fin := c.finQueued && c.sndNxt+uint32(n) == dend
		l := uint32(n)
		if fin {
			l++
		}
		if after(c.sndNxt+l, c.sndUna+c.sndWnd) {
			rwndLimited = true
			break // tcp_snd_wnd_test: the segment (FIN included) must fit the peer's window
		}
		end := c.sndNxt + uint32(n)
		// Nagle holds back only the last skb: a segment cut short by a
		// record boundary with data behind it goes (TCP_NAGLE_PUSH).
		lastSkb := end == dend
		if n < mss && !fin && !force && lastSkb && !c.nagleOK() {
			break
		}
		flags := uint8(header.FlagACK)
		if fin {
			flags |= header.FlagFIN
		}
		if n > 0 && ((before(c.sndNxt, c.pushSeq) && !before(end, c.pushSeq)) || c.eorAt(end)) {
			flags |= header.FlagPSH // the segment carries the end of a write
		}
		c.sendNew(e, n, flags, now)
		inflight++
		sent = true
		if n < mss {
			c.sndSml = end
		}
	}
	if rexmitNew && !after(c.sndNxt, c.highSeq) {
		c.frto = false // nothing new went out: conventional recovery
		c.retransmitLost(now, e)
	}
	if hadUnsent {
		// tcp_write_xmit's chronograph: the peer's window held data back.
		if rwndLimited {
			c.chronoBegin(chronoRwnd, now)
		} else {
			c.chronoStop(chronoRwnd, now)
		}
	}
	if sent || limited {
		c.cwndValidate(limited || c.packetsInFlight() >= c.snd.Cwnd)
		// tcp_cwnd_validate: an application that filled the send buffer
		// while everything queued is out and cwnd is not the limit is
		// send-buffer limited.
		if !c.cwndLimited() && c.sndNxt == c.writeSeq && c.noSpace &&
			(c.state == StateEstablished || c.state == StateCloseWait) {
			c.chronoBegin(chronoSndbuf, now)
		}
	}
	if sent {
		c.scheduleLossProbe(now, false) // one probe per tail-loss episode
	}
	c.checkProbeTimer(now)
}

// nagleOK is tcp_nagle_check inverted for a partial segment: corked never,
// TCP_NODELAY always, otherwise unless a small segment is still unacked
// (Minshall's variant).
func (c *Conn) nagleOK() bool {
	if c.cork || c.moreHold {
		return false
	}
	if c.noDelay {
		return true
	}
	if c.sndNxt != c.sndUna && after(c.sndSml, c.sndUna) && !after(c.sndSml, c.sndNxt) {
		return false
	}
	return true
}

// sendNew transmits n new bytes (and FIN if flagged) at snd_nxt.
func (c *Conn) sendNew(e Emitter, n int, flags uint8, now Time) {
	seq := c.sndNxt
	l := uint32(n)
	if flags&header.FlagFIN != 0 {
		l++
	}
	if c.caState == cc.Recovery {
		c.prrOut++
	}
	wasIdle := c.sndNxt == c.sndUna
	// tcp_event_data_sent sees the flight before this segment joins it.
	c.transmit(e, seq, flags, n, now)
	if c.txlog.n == len(c.txlog.r) {
		c.txlog.setLimit(c.sbuf.cap(), c.mssCache) // the ring may grow: bound it by the send buffer now
	}
	c.txlog.push(seq+l, now)
	c.sndNxt += l
	if after(c.sndNxt, c.sndMax) {
		c.sndMax = c.sndNxt
	}
	c.lastSegSeq, c.lastSegLen = seq, l
	if n > 0 {
		c.inc(metrics.TcpExtTCPOrigDataSent)
	}
	if wasIdle || c.rtoAt == 0 || c.probeMode {
		c.armRTO(now)
	} else if c.tlpMode {
		c.rearmRTO(now)
	}
}

// pushOne sends one new segment regardless of cwnd (tcp_write_xmit with
// push_one = 2, for a loss probe).
func (c *Conn) pushOne(now Time, e Emitter) {
	mss := c.curMSS()
	dend := c.dataEnd()
	n := 0
	if before(c.sndNxt, dend) {
		n = c.eorClamp(c.sndNxt, int(min(dend-c.sndNxt, uint32(mss))))
	}
	if n > 0 && after(c.sndNxt+uint32(n), c.sndUna+c.sndWnd) {
		return
	}
	flags := uint8(header.FlagACK)
	if c.finQueued && c.sndNxt+uint32(n) == dend {
		flags |= header.FlagFIN
	}
	if n > 0 && c.pshAt(c.sndNxt+uint32(n)) {
		flags |= header.FlagPSH
	}
	c.sendNew(e, n, flags, now)
}
