package tcp

import (
	"syscall"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// rttSample is tcp_rtt_estimator + tcp_set_rto: Linux's mdev-based RFC 6298
// with rttvar floored at rto_min.
func (c *Conn) rttSample(d time.Duration) {
	m := max(int64(d/time.Microsecond), 0)
	minUs := int64(c.cfg.RTOMin / time.Microsecond)
	if c.srttUs != 0 {
		m -= c.srttUs >> 3
		c.srttUs += m
		if m < 0 {
			m = -m
			m -= c.mdevUs >> 2
			if m > 0 {
				m >>= 3
			}
		} else {
			m -= c.mdevUs >> 2
		}
		c.mdevUs += m
		if c.mdevUs > c.mdevMaxUs {
			c.mdevMaxUs = c.mdevUs
			if c.mdevMaxUs > c.rttvarUs {
				c.rttvarUs = c.mdevMaxUs
			}
		}
		if after(c.sndUna, c.rttSeq) {
			if c.mdevMaxUs < c.rttvarUs {
				c.rttvarUs -= (c.rttvarUs - c.mdevMaxUs) >> 2
			}
			c.rttSeq = c.sndNxt
			c.mdevMaxUs = minUs
		}
	} else {
		c.srttUs = m << 3
		c.mdevUs = m << 1
		c.mdevMaxUs = max(c.mdevUs, minUs)
		c.rttvarUs = c.mdevMaxUs
		c.rttSeq = c.sndNxt
	}
	if c.srttUs < 1 {
		c.srttUs = 1
	}
	// usecs_to_jiffies rounds up; the engine's jiffy is 1 ms (HZ=1000).
	rto := time.Duration((c.srttUs>>3)+c.rttvarUs) * time.Microsecond
	rto = (rto + time.Millisecond - 1).Truncate(time.Millisecond)
	c.rto = min(rto, c.cfg.RTOMax)
	c.backoff = 0
	c.snd.SRTTus = uint32(c.srttUs >> 3)
	if c.snd.MinRTTus == 0 || uint32(d/time.Microsecond) < c.snd.MinRTTus {
		c.snd.MinRTTus = uint32(max(d/time.Microsecond, 1))
	}
}

// armRTO (re)starts the retransmission timer for the current RTO.
func (c *Conn) armRTO(now Time) {
	c.probeMode, c.tlpMode, c.rack.reoMode = false, false, false
	c.rtoAt = now.add(c.rto)
	c.rtoArmedAt = now
}

// rearmRTO is tcp_rearm_rto: over a pending loss probe or REO timer the
// RTO keeps counting from the head's transmission.
func (c *Conn) rearmRTO(now Time) {
	if c.sndNxt == c.sndUna {
		c.rtoAt, c.probeMode, c.tlpMode, c.rack.reoMode = 0, false, false, false
		return
	}
	if c.tlpMode || c.rack.reoMode {
		c.tlpMode, c.rack.reoMode = false, false
		if at, _, ok := c.txlog.headSent(); ok {
			c.rtoAt = max(at.add(c.rto), now.add(time.Microsecond))
			return
		}
	}
	c.armRTO(now)
}

// scheduleLossProbe is tcp_schedule_loss_probe: with SACK, in Open or CWR,
// a probe goes out 2*srtt after the last transmission (plus the delayed-ACK
// allowance when only one segment is out), unless the RTO comes first.
func (c *Conn) scheduleLossProbe(now Time, advancingRTO bool) bool {
	if (c.cfg.EarlyRetrans != 3 && c.cfg.EarlyRetrans != 4) || c.sndNxt == c.sndUna || !c.sackOK ||
		(c.caState != cc.Open && c.caState != cc.CWR) {
		return false
	}
	var timeout time.Duration
	if c.srttUs != 0 {
		timeout = time.Duration(c.srttUs>>2) * time.Microsecond
		timeout = (timeout + time.Millisecond - 1).Truncate(time.Millisecond)
		if c.packetsOut() == 1 {
			timeout += c.cfg.RTOMin
		} else {
			timeout += 2 * time.Millisecond // TCP_TIMEOUT_MIN
		}
	} else {
		timeout = c.cfg.RTOInit
	}
	delta := c.rto
	if !advancingRTO {
		// tcp_rto_delta_us: what is left of the head's RTO.
		if at, _, ok := c.txlog.headSent(); ok {
			delta = c.rto - time.Duration(now-at)
		}
	}
	if delta > 0 {
		timeout = min(timeout, delta)
	}
	if c.rtoAt == 0 || c.probeMode || advancingRTO {
		c.rtoArmedAt = now
	}
	c.probeMode, c.tlpMode, c.rack.reoMode = false, true, false
	c.rtoAt = now.add(timeout)
	return true
}

// sendLossProbe is tcp_send_loss_probe: new data if the window allows,
// else the last segment again; then the RTO from now.
func (c *Conn) sendLossProbe(now Time, e Emitter) {
	if c.tlpActive || c.sndNxt == c.sndUna {
		c.rearmRTO(now)
		return
	}
	c.tlpRetrans = false
	sent := false
	if c.sndNxt != c.writeSeq {
		before := c.sndNxt
		c.pushOne(now, e)
		sent = c.sndNxt != before
	}
	if !sent {
		seq := c.lastSegSeq
		end := seq + c.lastSegLen
		if end != c.sndNxt || !after(end, c.sndUna) {
			seq = c.sndUna
			if c.sndNxt-seq > uint32(c.curMSS()) {
				seq = c.sndNxt - uint32(c.curMSS())
			}
			end = c.sndNxt
		}
		if before(seq, c.sndUna) {
			seq = c.sndUna
		}
		dend := c.dataEnd()
		n := int(seqMin(end, dend) - seq)
		if before(dend, seq) {
			n = 0
		}
		flags := uint8(header.FlagACK)
		if c.finQueued && end == c.writeSeq {
			flags |= header.FlagFIN
		}
		if n > 0 && seq+uint32(n) == dend {
			flags |= header.FlagPSH
		}
		l := uint32(n)
		if flags&header.FlagFIN != 0 {
			l++
		}
		c.noteRetransmit(seq, seq+l, now)
		c.inc(metrics.TcpRetransSegs)
		c.totalRetrans++
		c.transmit(e, seq, flags, n, now)
		c.tlpRetrans = true
	}
	c.tlpHigh, c.tlpActive = c.sndNxt, true
	c.inc(metrics.TcpExtTCPLossProbes)
	c.armRTO(now)
}

// processTLPAck is tcp_process_tlp_ack: a retransmitted probe that was
// needed (the ACK goes past it) means a loss: reduce cwnd once (CWR).
func (c *Conn) processTLPAck(ack uint32, advanced, notDup, dsackTLP bool, now Time) {
	if !c.tlpActive || before(ack, c.tlpHigh) {
		return
	}
	switch {
	case !c.tlpRetrans:
		c.tlpActive = false
	case dsackTLP:
		c.tlpActive = false // the DSACK shows original and probe both arrived
	case after(ack, c.tlpHigh):
		c.tlpActive = false
		c.syncCC()
		c.priorCwnd, c.snd.PriorCwnd = c.snd.Cwnd, c.snd.Cwnd
		c.snd.SSThresh = c.ca.SSThresh(&c.snd)
		c.highSeq = c.sndNxt
		c.setCAState(cc.CWR, now)
		c.snd.Cwnd = max(c.snd.SSThresh, 1)
		c.ca.CwndEvent(&c.snd, cc.CompleteCwr, int64(now))
		c.setCAState(cc.Open, now)
		c.inc(metrics.TcpExtTCPLossProbeRecovery)
	case !advanced && !notDup:
		c.tlpActive = false // original and probe both arrived: no loss
	}
}

// checkProbeTimer is tcp_check_probe_timer: with nothing in flight and
// data blocked by the peer's window, the persist timer runs.
func (c *Conn) checkProbeTimer(now Time) {
	if c.sndNxt != c.sndUna || c.sndNxt == c.writeSeq || c.rtoAt != 0 {
		return
	}
	c.probeMode = true
	c.rtoAt = now.add(c.probeInterval())
}

func (c *Conn) probeInterval() time.Duration {
	d := c.rto << c.backoff
	if d > c.cfg.RTOMax || d <= 0 {
		d = c.cfg.RTOMax
	}
	return max(d, c.cfg.RTOMin)
}

// OnTimer runs every timer that is due at now.
func (c *Conn) OnTimer(now Time, e Emitter) {
	if c.twAt != 0 && now >= c.twAt {
		c.twAt = 0
		c.done() // end of the in-Conn TIME_WAIT fallback
		return
	}
	if c.delackAt != 0 && now >= c.delackAt {
		c.delackAt = 0
		c.delackTimer(now, e)
	}
	if c.compAckAt != 0 && now >= c.compAckAt {
		// tcp_compressed_ack_kick: the ACK that goes out is not compressed.
		c.compAckAt = 0
		if c.compAcks > 0 {
			c.compAcks--
			c.sendAck(now, e)
		}
	}
	if c.rtoAt != 0 && now >= c.rtoAt {
		c.rtoAt = 0
		if c.probeMode {
			c.probeMode = false
			c.probeTimer(now, e)
		} else if c.tlpMode {
			c.tlpMode = false
			c.sendLossProbe(now, e)
		} else if c.rack.reoMode {
			c.rack.reoMode = false
			c.rackReoTimeout(now, e)
		} else {
			c.retransmitTimer(now, e)
		}
	}
	if c.keepAt != 0 && now >= c.keepAt {
		c.keepAt = 0
		c.keepaliveTimer(now, e)
	}
}

// delackTimer is tcp_delack_timer_handler.
func (c *Conn) delackTimer(now Time, e Emitter) {
	if !c.ackPending || c.state == StateClose {
		return
	}
	if c.pingpong == 0 {
		c.ato = min(c.ato<<1, c.rto) // missed: inflate ato
	} else {
		c.pingpong = 0 // missed in interactive mode: leave it
		c.ato = c.cfg.ATOMin
	}
	c.sendAck(now, e)
	c.inc(metrics.TcpExtDelayedACKs)
}

// modelTimeout is tcp_model_timeout: the time a backoff from rtoBase takes
// for `retries` retransmissions (ORPHAN-4).
func (c *Conn) modelTimeout(retries int, rtoBase time.Duration) time.Duration {
	thresh := 0
	for (rtoBase << (thresh + 1)) <= c.cfg.RTOMax {
		thresh++
	}
	if retries <= thresh {
		return time.Duration((2<<retries)-1) * rtoBase
	}
	return time.Duration((2<<thresh)-1)*rtoBase + time.Duration(retries-thresh)*c.cfg.RTOMax
}

// orphanRetries is tcp_orphan_retries (ORPHAN-3).
func (c *Conn) orphanRetries() int {
	alive := c.rto < c.cfg.RTOMax
	r := c.cfg.OrphanRetries
	if c.softErr != 0 && !alive {
		r = 0
	}
	if r == 0 && alive {
		r = 8
	}
	return r
}

// writeTimedOut is tcp_write_timeout's give-up test for synchronized
// states (retransmits_timed_out with tcp_retries2 or the orphan limit).
func (c *Conn) writeTimedOut(now Time) bool {
	if c.retrans == 0 || c.retransTS == 0 {
		return false
	}
	retries := c.cfg.Retries2
	if c.orphan {
		retries = c.orphanRetries()
	}
	timeout := c.modelTimeout(retries, c.cfg.RTOMin)
	if c.userTO > 0 {
		timeout = c.userTO
	}
	return time.Duration(now-c.retransTS) >= timeout
}

// writeErr is tcp_write_err: give up without a RST (ORPHAN-5).
func (c *Conn) writeErr() {
	c.inc(metrics.TcpExtTCPAbortOnTimeout)
	if c.softErr != 0 {
		c.fail(c.softErr)
		return
	}
	c.fail(syscall.ETIMEDOUT)
}

// retransmitTimer is tcp_retransmit_timer.
func (c *Conn) retransmitTimer(now Time, e Emitter) {
	switch c.state {
	case StateSynSent, StateSynRecv:
		limit := c.cfg.SynRetries
		if c.state == StateSynRecv {
			limit = c.cfg.SynAckRetries
		}
		if c.retrans >= limit {
			if c.state == StateSynRecv && c.passive {
				c.state = StateClose // the request expires silently
				c.stopTimers()
				c.err = syscall.ETIMEDOUT
				c.events |= EventClosed | EventError
				return
			}
			c.writeErr()
			return
		}
		c.retrans++
		c.backoff++
		c.rto = min(c.rto<<1, c.cfg.RTOMax)
		c.inc(metrics.TcpExtTCPSynRetrans)
		c.inc(metrics.TcpRetransSegs)
		c.totalRetrans++
		c.sendSYN(now, e)
		return
	case StateClose, StateTimeWait, StateListen:
		return
	}
	if c.sndNxt == c.sndUna {
		return
	}
	if c.retransTS == 0 {
		// retrans_stamp: the head's (original) transmission.
		if at, _, ok := c.txlog.headSent(); ok {
			c.retransTS = at
		} else {
			c.retransTS = c.rtoArmedAt
		}
	}
	if c.sndWnd == 0 && !c.orphan {
		// Zero window with data in flight: keep probing by retransmission
		// until nothing was heard for TCP_RTO_MAX (tcp_rtx_probe0_timed_out).
		if c.rtxProbe0TimedOut(now) {
			c.writeErr()
			return
		}
	} else if c.orphanRetransOOM(now, e) {
		return // ORPHAN-6 (close.go)
	} else if c.writeTimedOut(now) {
		c.writeErr()
		return
	}
	c.inc(metrics.TcpExtTCPTimeouts)
	c.tlpActive = false
	c.enterLoss(now)
	c.retransmitLost(now, e)
	c.backoff++
	c.retrans++
	c.rto = min(c.rto<<1, c.cfg.RTOMax)
	c.rtoAt = now.add(c.clampRTOToUserTimeout(now))
	c.rtoArmedAt = now
}

// clampRTOToUserTimeout is tcp_clamp_rto_to_user_timeout: with
// TCP_USER_TIMEOUT the timer never runs past the deadline.
func (c *Conn) clampRTOToUserTimeout(now Time) time.Duration {
	if c.userTO == 0 || c.retransTS == 0 {
		return c.rto
	}
	remaining := c.userTO - time.Duration(now-c.retransTS)
	if remaining <= 0 {
		return time.Millisecond
	}
	return min(c.rto, remaining)
}

// probeTimer is tcp_probe_timer + tcp_send_probe0: a zero-window probe.
func (c *Conn) probeTimer(now Time, e Emitter) {
	c.probe0(now, e) // probe0.go: TCP_USER_TIMEOUT and orphan rules
}

// writeWakeup is tcp_write_wakeup: send what fits of the next segment if
// the window opened; otherwise the zero-window probe, an ACK with
// sequence snd_una-1.
func (c *Conn) writeWakeup(now Time, e Emitter) {
	wndEnd := c.sndUna + c.sndWnd
	if before(c.sndNxt, wndEnd) && before(c.sndNxt, c.writeSeq) {
		dend := c.dataEnd()
		n := int(min(wndEnd-c.sndNxt, uint32(c.curMSS()), dend-c.sndNxt))
		flags := uint8(header.FlagACK | header.FlagPSH)
		if c.finQueued && c.sndNxt+uint32(n) == dend {
			flags |= header.FlagFIN
		}
		c.sendNew(e, n, flags, now)
		return
	}
	c.transmit(e, c.sndUna-1, header.FlagACK, 0, now)
	c.inc(metrics.TcpExtTCPWinProbe)
}

func (c *Conn) keepIdleTime() time.Duration {
	if c.keepIdle > 0 {
		return c.keepIdle
	}
	return c.cfg.KeepaliveTime
}

func (c *Conn) keepIntvlTime() time.Duration {
	if c.keepIntvl > 0 {
		return c.keepIntvl
	}
	return c.cfg.KeepaliveIntvl
}

func (c *Conn) keepProbes() int {
	if c.keepCnt > 0 {
		return c.keepCnt
	}
	return c.cfg.KeepaliveProbes
}

// keepaliveTimer is tcp_keepalive_timer: the FIN_WAIT2 orphan timer
// (FW2-6) and keepalive probing.
func (c *Conn) keepaliveTimer(now Time, e Emitter) {
	if c.state == StateFinWait2 && c.orphan {
		if c.linger2 >= 0 {
			if tmo := c.finTime() - timeWaitLen; tmo > 0 {
				c.enterTimeWait(StateFinWait2, tmo, now)
				return
			}
		}
		c.sendActiveReset(now, e)
		c.done()
		return
	}
	if !c.keepalive || !c.isSynchronized() || c.state == StateClose {
		return
	}
	if c.sndNxt != c.sndUna || c.sndNxt != c.writeSeq {
		c.keepAt = now.add(c.keepIdleTime()) // data in flight: the RTO handles it
		return
	}
	elapsed := time.Duration(now - max(c.lastRcv, c.lrcvTime))
	if elapsed >= c.keepIdleTime() {
		if (c.userTO > 0 && elapsed >= c.userTO && c.probesOut > 0) || (c.userTO == 0 && c.probesOut >= c.keepProbes()) {
			c.writeErr()
			return
		}
		c.transmit(e, c.sndUna-1, header.FlagACK, 0, now) // tcp_write_wakeup: the keepalive probe
		c.inc(metrics.TcpExtTCPKeepAlive)
		c.probesOut++
		c.keepAt = now.add(c.keepIntvlTime())
		return
	}
	c.keepAt = now.add(c.keepIdleTime() - elapsed)
}

// rto35 is the kernel's "3.5 * RTO" (4*rto - rto/2).
func (c *Conn) rto35() time.Duration { return 4*c.rto - c.rto/2 }

// finTime is tcp_fin_time (FW2-5).
func (c *Conn) finTime() time.Duration {
	l := c.cfg.FinTimeout
	if c.linger2 > 0 {
		l = c.linger2
	}
	return max(l, c.rto35())
}
