package tcp

import (
	"syscall"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// Input processes one segment addressed to this connection
// (tcp_rcv_state_process / tcp_rcv_established). seg.Payload is only read
// during the call.
func (c *Conn) Input(seg *Segment, now Time, e Emitter) {
	c.segsIn++
	if len(seg.Payload) > 0 {
		c.dataSegsIn++ // tcp_segs_in
	}
	switch c.state {
	case StateClose, StateListen:
		return // the stack answers with a RST from its no-socket path
	case StateSynSent:
		c.synSentInput(seg, now, e)
		return
	case StateTimeWait:
		c.timeWaitInput(seg, now, e)
		return
	case StateSynRecv:
		if c.synRecvInput(seg, now, e) {
			return
		}
	}
	f := seg.Flags

	// PAWS (RFC 7323) as tcp_validate_incoming applies it; a RST bypasses it (PAWS-6).
	if c.tsOK && seg.Opts.HasTS && f&header.FlagRST == 0 && c.pawsDiscard(seg, now) {
		switch {
		case f&header.FlagSYN != 0:
			c.synChallenge(now, e)
		case f == header.FlagACK && seg.SegLen() == 0 && before(seg.Seq, c.rcvNxt):
			c.inc(metrics.TcpExtPAWSOldAck) // PAWS-8: old pure ACK, silently dropped
		default:
			c.inc(metrics.TcpExtPAWSEstab)
			c.sendDupAck(seg, now, e, metrics.TcpExtTCPACKSkippedPAWS)
		}
		return
	}

	// Sequence acceptability (tcp_sequence).
	if !c.sequenceOK(seg) {
		if f&header.FlagRST == 0 {
			if f&header.FlagSYN != 0 {
				c.synChallenge(now, e)
				return
			}
			if after(seg.Seq+seg.SegLen(), c.rcvNxt+c.receiveWindow()) || after(seg.Seq, c.rcvNxt+c.receiveWindow()) {
				c.inc(metrics.TcpExtBeyondWindow)
			}
			c.sendDupAck(seg, now, e, metrics.TcpExtTCPACKSkippedSeq)
		} else if c.resetCheck(seg) {
			c.resetByPeer()
		}
		return
	}

	// tcp_check_req: any in-window RST or SYN kills a request socket
	// (embryonic reset; a SYN is answered with RST).
	if c.state == StateSynRecv && c.passive && f&(header.FlagRST|header.FlagSYN) != 0 {
		c.replyReset(seg, e)
		c.inc(metrics.TcpExtEmbryonicRsts)
		c.setState(StateClose) // counts AttemptFails
		c.stopTimers()
		c.events |= EventClosed
		return
	}

	// RFC 5961 section 3: only an exact RST resets; others in window get a challenge ACK.
	if f&header.FlagRST != 0 {
		if seg.Seq == c.rcvNxt || c.resetCheck(seg) || c.rstMatchesSACK(seg.Seq) {
			c.resetByPeer()
			return
		}
		c.sendChallengeAck(now, e)
		return
	}

	// RFC 5961 section 4: a SYN in a synchronized state gets a challenge ACK.
	if f&header.FlagSYN != 0 && c.state == StateSynRecv && f&header.FlagACK != 0 && !c.passive &&
		seg.Seq+1 == c.rcvNxt && seg.Ack == c.sndNxt && len(seg.Payload) == 0 {
		f &^= header.FlagSYN // simultaneous open: the peer's SYN-ACK completes it
	}
	if f&header.FlagSYN != 0 {
		c.synChallenge(now, e)
		return
	}

	if f&header.FlagACK == 0 {
		return
	}

	priorUna := c.sndUna
	ok := c.processAck(seg, now, e)
	if !ok {
		return
	}
	// PAWS-2: ts_recent follows segments that passed every check.
	if c.tsOK && seg.Opts.HasTS && !before(seg.Ack, priorUna) && !after(seg.Seq, c.rcvWup) {
		if int32(seg.Opts.TSVal-c.tsRecent) >= 0 || c.tsExpired(now) || c.tsRecent == 0 {
			c.tsRecent, c.tsStamp = seg.Opts.TSVal, seconds(now)
		}
	}

	switch c.state {
	case StateSynRecv:
		c.sndWnd = uint32(seg.Window) << c.sndWScale
		if seg.Flags&header.FlagSYN != 0 {
			c.sndWnd = uint32(seg.Window) // a SYN's window is never scaled
		}
		c.maxWindow = max(c.maxWindow, c.sndWnd)
		c.sndWl1 = seg.Seq
		c.syncMSS()
		// tcp_synack_rtt_meas: the first SYN-ACK's age in microseconds if
		// it was never resent (req->num_retrans); only otherwise, or on a
		// simultaneous open (no request), tcp_ack_update_rtt's TS echo.
		if c.passive && c.totalRetrans == 0 {
			c.rttSample(time.Duration(now - c.synSentAt))
		} else {
			c.tsRTTSample(seg, now)
		}
		c.establish(now)
	case StateFinWait1:
		if c.finQueued && c.sndUna == c.writeSeq {
			c.setState(StateFinWait2)
			c.wrShut = true
			c.events |= EventLingerDone | EventWritable
			if c.orphan && c.orphanReachedFW2(seg, now, e) {
				return
			}
		}
	case StateClosing:
		if c.sndUna == c.writeSeq {
			c.enterTimeWait(StateTimeWait, 0, now) // CLOSE-20
			return
		}
	case StateLastAck:
		if c.sndUna == c.writeSeq {
			c.events |= EventLingerDone
			c.done() // CLOSE-21: no TIME-WAIT for the passive closer
			return
		}
	}

	c.dataAndFin(seg, now, e)
	if c.state == StateClose || c.wantTW {
		return
	}
	c.pushPending(now, e, false)
	c.checkSpace(now) // tcp_data_snd_check → tcp_check_space
	c.ackSndCheck(now, e)
}

// dataAndFin is step 7/8 of tcp_rcv_state_process: queue payload and FIN.
func (c *Conn) dataAndFin(seg *Segment, now Time, e Emitter) {
	fin := seg.Flags&header.FlagFIN != 0
	plen := uint32(len(seg.Payload))
	if plen == 0 && !fin {
		return
	}
	end := seg.Seq + plen // end_seq - FIN
	switch c.state {
	case StateCloseWait, StateClosing, StateLastAck:
		// The peer already sent FIN: only a segment starting before
		// rcv_nxt is looked at, as in FIN_WAIT (CLOSE-12).
		if !before(seg.Seq, c.rcvNxt) {
			return
		}
		fallthrough
	case StateFinWait1, StateFinWait2:
		// RFC 1122: data after our receive side shut down resets (CLOSE-12).
		if c.rdShut && after(end, c.rcvNxt) {
			c.abortOnData(seg, e)
			return
		}
	case StateEstablished:
	default:
		return
	}
	if plen > 0 {
		c.segFlags = seg.Flags
		if c.queueData(seg.Seq, seg.Payload, now) {
			c.rcvRTTMeasure(seg, now)
		}
	}
	if fin {
		if end == c.rcvNxt {
			c.tcpFin(now, e)
		} else if after(end, c.rcvNxt) {
			c.finSeq, c.oooFin = end, true
			c.ackPending = true
		} else {
			c.ackNow = true // an old FIN again
		}
	} else if c.oooFin && c.rcvNxt == c.finSeq {
		c.tcpFin(now, e)
	}
}

// abortOnData resets the connection for data that can no longer be
// delivered (CLOSE-12, FW2-4b) and answers the segment with a RST.
func (c *Conn) abortOnData(seg *Segment, e Emitter) {
	c.inc(metrics.TcpExtTCPAbortOnData)
	c.replyReset(seg, e)
	c.resetByPeer()
}

// tcpFin is tcp_fin (CLOSE-19).
func (c *Conn) tcpFin(now Time, e Emitter) {
	c.oooFin = false
	c.rcvNxt++
	c.finRcvd = true
	c.rdShut = true
	c.events |= EventReadable
	c.ackNow = true
	c.ooo.clear()
	switch c.state {
	case StateSynRecv, StateEstablished:
		c.setState(StateCloseWait)
		c.pingpong = max(c.pingpong, 1)
	case StateFinWait1:
		c.sendAck(now, e)
		c.setState(StateClosing)
	case StateFinWait2:
		c.sendAck(now, e)
		c.enterTimeWait(StateTimeWait, 0, now)
	}
}

// ackSndCheck is __tcp_ack_snd_check: ACK now, or arm the delayed ACK.
func (c *Conn) ackSndCheck(now Time, e Emitter) {
	if !c.ackPending && !c.ackNow {
		return
	}
	if c.ackNow || c.inQuickAck() ||
		(c.rcvNxt-c.rcvWup > uint32(c.rcvMSS) && c.chooseWindow() >= c.rcvWnd) {
		c.sendAck(now, e)
		return
	}
	if c.ooo.empty() {
		c.scheduleDelack(now, e)
		return
	}
	// Out-of-order data: the first three duplicate ACKs for a given
	// rcv_nxt go at once (they drive the sender's fast retransmit), later
	// ones are compressed for 5% of the RTT, at most 1 ms and 44 ACKs
	// (tcp_comp_sack_delay_ns, tcp_comp_sack_nr).
	if !c.sackOK || c.compAcks >= compSACKNr {
		c.sendAck(now, e)
		return
	}
	if c.compAckRcvNxt != c.rcvNxt {
		c.compAckRcvNxt, c.dupAckCounter = c.rcvNxt, 0
	}
	if c.dupAckCounter < 3 {
		c.dupAckCounter++
		c.sendAck(now, e)
		return
	}
	c.compAcks++
	if c.compAckAt != 0 {
		return
	}
	delay := min(compSACKDelay, time.Duration(c.rs.rttUs>>3)*time.Microsecond/20)
	if delay <= 0 {
		c.compAcks--
		c.sendAck(now, e)
		return
	}
	c.compAckAt = now.add(delay)
}

// scheduleDelack is tcp_send_delayed_ack.
func (c *Conn) scheduleDelack(now Time, e Emitter) {
	ato := c.ato
	if ato > c.cfg.DelAckMin {
		maxATO := 500 * time.Millisecond
		if c.pingpong > 0 {
			maxATO = c.cfg.DelAckMax
		}
		if c.srttUs != 0 {
			rtt := max(time.Duration(c.srttUs>>3)*time.Microsecond, c.cfg.DelAckMin)
			maxATO = min(maxATO, rtt)
		}
		ato = min(ato, maxATO)
	}
	if ato == 0 {
		ato = c.cfg.DelAckMin
	}
	at := now.add(ato)
	if c.delackAt != 0 {
		// The timer is about to fire anyway: ACK now; never postpone it.
		if c.delackAt <= now.add(ato>>2) {
			c.sendAck(now, e)
			return
		}
		if c.delackAt <= at {
			return
		}
	}
	c.delackAt = at
}

// sequenceOK is tcp_sequence: the segment overlaps the receive window
// (the left edge is rcv_wup, as in Linux).
func (c *Conn) sequenceOK(seg *Segment) bool {
	end := seg.Seq + seg.SegLen()
	if before(end, c.rcvWup) {
		return false
	}
	return !after(seg.Seq, c.rcvNxt+c.receiveWindow())
}

// resetCheck is tcp_reset_check: after our FIN, a RST at rcv_nxt-1 (the
// peer did not count our FIN) is also exact.
func (c *Conn) resetCheck(seg *Segment) bool {
	if seg.Seq != c.rcvNxt-1 {
		return false
	}
	switch c.state {
	case StateCloseWait, StateLastAck, StateClosing:
		return true
	}
	return false
}

// rstMatchesSACK: a RST at the right edge of the highest SACK block we sent
// is accepted as exact (tcp_validate_incoming).
func (c *Conn) rstMatchesSACK(seq uint32) bool {
	if c.ooo.n == 0 {
		return false
	}
	return seq == c.ooo.r[c.ooo.n-1].end
}

// synChallenge answers a SYN on a synchronized connection (RFC 5961 4.2).
func (c *Conn) synChallenge(now Time, e Emitter) {
	c.inc(metrics.TcpExtTCPSYNChallenge)
	c.sendChallengeAck(now, e)
}

// resetByPeer is tcp_reset: the error depends on the state.
func (c *Conn) resetByPeer() {
	switch c.state {
	case StateSynSent:
		c.fail(syscall.ECONNREFUSED)
	case StateCloseWait:
		c.fail(syscall.EPIPE)
	case StateClose:
	default:
		c.fail(syscall.ECONNRESET)
	}
}

// tsExpired: ts_recent is older than TCP_PAWS_WRAP seconds (PAWS-4).
func (c *Conn) tsExpired(now Time) bool {
	return int32(int32(seconds(now))-int32(c.tsStamp+pawsWrapSeconds)) >= 0
}

// pawsReject is tcp_paws_check inverted with tolerance w; rst relaxes it
// after TCP_PAWS_MSL (PAWS-6).
func (c *Conn) pawsReject(tsval uint32, w int32, rst bool, now Time) bool {
	if int32(c.tsRecent-tsval) <= w || c.tsRecent == 0 || c.tsExpired(now) {
		return false
	}
	if rst && seconds(now) >= c.tsStamp+pawsMSLSeconds {
		return false
	}
	return true
}

// pawsDiscard is tcp_paws_discard: PAWS failure that is not a tolerated
// disordered ACK (PAWS-7).
func (c *Conn) pawsDiscard(seg *Segment, now Time) bool {
	if !c.pawsReject(seg.Opts.TSVal, pawsWindow, false, now) {
		return false
	}
	return !c.disorderedAck(seg)
}

// disorderedAck is tcp_disordered_ack (PAWS-7).
func (c *Conn) disorderedAck(seg *Segment) bool {
	if seg.Flags&(header.FlagSYN|header.FlagFIN|header.FlagRST) != 0 || seg.Flags&header.FlagACK == 0 {
		return false
	}
	if len(seg.Payload) != 0 || seg.Seq != c.rcvNxt || seg.Ack != c.sndUna {
		return false
	}
	if c.mayUpdateWindow(seg) {
		return false // a possible window update is not a disordered duplicate
	}
	allow := uint32(c.rto.Milliseconds() * 1200 / 1000)
	return int32(c.tsRecent-seg.Opts.TSVal) <= int32(allow)
}

func (c *Conn) mayUpdateWindow(seg *Segment) bool {
	nwin := uint32(seg.Window) << c.sndWScale
	return after(seg.Ack, c.sndUna) || after(seg.Seq, c.sndWl1) || (seg.Seq == c.sndWl1 && (nwin > c.sndWnd || nwin == 0))
}

// processAck is tcp_ack. It returns false when the segment must be dropped.
func (c *Conn) processAck(seg *Segment, now Time, e Emitter) bool {
	ack := seg.Ack
	priorUna := c.sndUna
	c.lastRTTus = -1
	if before(ack, priorUna) {
		// RFC 5961 5.2, with Linux's bound: never more than was ever
		// acknowledged (min(max_window, bytes_acked)), so a young
		// connection does not accept ACKs for bytes it never sent.
		maxWin := uint32(min(uint64(c.maxWindow), c.bytesAcked))
		if before(ack, priorUna-maxWin) {
			c.sendChallengeAck(now, e) // too old: TCPChallengeACK, dropped
			return false
		}
		if c.sackOK && seg.Opts.NumSACK > 0 {
			c.sackTag(&seg.Opts, priorUna, now)
		}
		return true // old ACK: ignore it, keep the data
	}
	if after(ack, c.sndNxt) {
		// ACK of unsent data (SKB_DROP_REASON_TCP_ACK_UNSENT_DATA): 6.18's
		// tcp_ack answers it with tcp_send_challenge_ack in ESTABLISHED
		// (tcp_rcv_established passes no FLAG_NO_CHALLENGE_ACK) and
		// tcp_rcv_state_process does the same for the other synchronized
		// states (CLOSE-22). The segment is dropped before
		// tcp_replace_ts_recent, so its TSval never reaches ts_recent.
		if c.state != StateSynRecv {
			c.sendChallengeAck(now, e)
		}
		return false
	}
	if c.state == StateSynRecv && !after(ack, priorUna) {
		return false
	}
	c.lastRcv = now
	c.probesOut = 0
	c.softErr = 0 // tcp_ack: "something worked", the soft error log goes
	winUpdate := false
	if c.mayUpdateWindow(seg) && c.state != StateSynRecv {
		nwin := uint32(seg.Window) << c.sndWScale
		c.sndWl1 = seg.Seq
		if nwin != c.sndWnd {
			winUpdate = true
			c.sndWnd = nwin
			if nwin > c.maxWindow {
				c.maxWindow = nwin
				c.syncMSS()
			}
		}
	}
	if c.caState < cc.Recovery {
		// Outside Recovery and Loss nothing stays marked lost between ACKs
		// (RACK marks and enters Recovery in the same ACK).
		c.lostHigh, c.rtxNext = c.sndUna, c.sndUna
		c.clearRelost()
	}
	var newlySacked, newlySackedPkts uint32
	dsack, dsackTLP := false, false
	lostBefore, priorDelivered := c.rack.lost, c.snd.Delivered
	priorFack, hadSACK := c.sacked.highest()
	if c.sackOK && seg.Opts.NumSACK > 0 {
		dsack, dsackTLP = c.checkDSACK(&seg.Opts, ack)
		newlySacked, newlySackedPkts = c.sackTag(&seg.Opts, ack, now)
	}
	advanced := after(ack, priorUna)
	c.txlog.origAcked = false
	var ackedPkts, ackedUnsacked uint32
	if advanced {
		acked := ack - priorUna
		ackedPkts, ackedUnsacked = c.ackedSegments(priorUna, ack)
		if c.sackOK {
			var tsecr uint32
			if seg.Opts.HasTS {
				tsecr = seg.Opts.TSEcr
			}
			c.rackCumAck(priorUna, ack, priorFack, hadSACK, tsecr, now)
		}
		data := acked
		// The SYN and FIN occupy sequence space but no ring bytes.
		if c.synPending {
			c.synPending = false
			data--
			if c.state != StateSynRecv {
				c.initTransfer(now) // closed while the handshake was still running
			}
		}
		if c.finQueued && !before(ack, c.writeSeq) {
			data--
		}
		if before(c.sndNxt, ack) {
			c.sndNxt = ack
		}
		c.sbuf.discard(int(data))
		c.bytesAcked += uint64(acked)
		if c.passive && c.state == StateSynRecv {
			// tcp_create_openreq_child starts the child at snt_isn+1:
			// the SYN-ACK is never part of a passive bytes_acked.
			c.bytesAcked--
		}
		c.sndUna = ack
		c.sacked.trim(ack)
		if before(c.rtxNext, ack) {
			c.rtxNext = ack
		}
		ackedPkts = max(ackedPkts, 1)
		c.retrans = 0
		c.probesOut = 0
		c.ackRTT(seg, ack, now)
		c.recountRelost()
		c.events |= EventWritable
		c.growSendBuffer()
	}
	dup := !advanced && !winUpdate && len(seg.Payload) == 0 && seg.Flags&header.FlagFIN == 0 && c.sndNxt != c.sndUna
	reoArmed := false
	if c.state != StateSynRecv {
		deliveredPkts := ackedPkts + newlySackedPkts
		if c.sackOK {
			// tcp_clean_rtx_queue counts only segments not SACKed before.
			deliveredPkts = ackedUnsacked + newlySackedPkts
		} else {
			// tcp_add_reno_sack / tcp_remove_reno_sacks: a duplicate ACK
			// delivered one segment; a cumulative ACK only what the
			// duplicates had not already counted.
			if dup {
				deliveredPkts++
			} else if advanced && c.dupAcks > 0 {
				deliveredPkts = uint32(max(int(ackedPkts)-c.dupAcks, 1))
			}
		}
		c.syncCC()
		c.snd.Delivered += deliveredPkts
		c.add(metrics.TcpExtTCPDelivered, deliveredPkts)
		c.ca.PktsAcked(&c.snd, ackedPkts, c.lastRTTus, int64(now))
		if c.hystart != nil {
			switch ex, w := c.hystart.TakeHyStartExit(); ex {
			case cc.HyStartTrain:
				c.inc(metrics.TcpExtTCPHystartTrainDetect)
				c.add(metrics.TcpExtTCPHystartTrainCwnd, w)
			case cc.HyStartDelay:
				c.inc(metrics.TcpExtTCPHystartDelayDetect)
				c.add(metrics.TcpExtTCPHystartDelayCwnd, w)
			}
		}
		if c.sackOK && deliveredPkts > 0 {
			c.rackUpdateReoWnd(priorDelivered)
		}
		dubious := dup || newlySacked > 0 || dsack || c.caState != cc.Open
		reoArmed = c.fastRetransAlert(seg, advanced, dup, dubious, ackedPkts, newlySacked, now)
		c.processTLPAck(ack, advanced, winUpdate || newlySacked > 0 || len(seg.Payload) > 0, dsackTLP, now)
		c.congControl(ack, ackedPkts, deliveredPkts, c.rack.lost-lostBefore, advanced, now)
		c.updatePacingRate()
		// retrans_stamp lives while retransmitted data is outstanding
		// (cleared once the state machine is back to Open/Disorder).
		if c.caState <= cc.Disorder {
			if _, rtx, _ := c.txlog.headSent(); !rtx && (c.sndUna == c.sndNxt || !after(c.rtxNext, ack)) {
				c.retransTS, c.undo.firstRtx = 0, 0
			}
		}
	}
	if advanced && !c.probeMode && !reoArmed {
		// tcp_set_xmit_timer (FLAG_SET_XMIT_TIMER: data was cumulatively
		// ACKed and RACK did not arm its own timer)
		if !c.scheduleLossProbe(now, true) {
			c.rearmRTO(now)
		}
	}
	if c.sndWnd != 0 && c.probeMode {
		c.probeMode = false
		c.rtoAt = 0
		c.backoff = 0
		c.probesTS = 0 // tcp_ack_probe: the window opened
		if c.sndUna != c.sndNxt {
			c.armRTO(now)
		}
	}
	return true
}

// timeWaitInput serves the plain TIME_WAIT fallback (Config.NoTimeWaitRecords):
// re-ACK a retransmitted FIN and restart the 60 s, die on an exact RST.
func (c *Conn) timeWaitInput(seg *Segment, now Time, e Emitter) {
	f := seg.Flags
	if f&header.FlagRST != 0 {
		if seg.Seq == c.rcvNxt {
			c.done()
		}
		return
	}
	if f&header.FlagSYN != 0 && f&header.FlagACK == 0 {
		c.sendAck(now, e)
		return
	}
	if c.twSubstate == StateFinWait2 && f&header.FlagFIN != 0 && seg.Seq+uint32(len(seg.Payload)) == c.rcvNxt && len(seg.Payload) == 0 {
		c.rcvNxt++ // the peer's FIN completes the FIN_WAIT2 substate (TW-PROC-9)
		c.twSubstate = StateTimeWait
		c.twInfo.Substate, c.twInfo.RcvNxt, c.twInfo.Timeout = StateTimeWait, c.rcvNxt, timeWaitLen
		c.sendAck(now, e)
		c.twAt = now.add(timeWaitLen)
		return
	}
	if f&header.FlagFIN != 0 || seg.Seq != c.rcvNxt || len(seg.Payload) > 0 {
		c.sendAck(now, e)
		c.twAt = now.add(timeWaitLen)
	}
}
