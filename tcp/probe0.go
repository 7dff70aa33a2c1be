package tcp

import "time"

// Zero-window probing (tcp_probe_timer, tcp_send_probe0) with the
// TCP_USER_TIMEOUT rules of Linux 6.x: the user timeout counts from the
// first probe of a series (icsk_probes_tstamp), which only a usable
// window resets, so a peer that keeps answering probes with a zero
// window is still given up on; the probe interval is clamped so the last
// probe fires at the deadline; tcp_retries2 bounds unanswered probes in
// any case.

// probe0 is tcp_probe_timer.
func (c *Conn) probe0(now Time, e Emitter) {
	if c.sndNxt != c.sndUna || c.sndNxt == c.writeSeq {
		c.probesOut, c.backoff, c.probesTS = 0, 0, 0
		return
	}
	if c.probesTS == 0 {
		c.probesTS = max(now, 1)
	} else if c.userTO > 0 && jiffiesSince(now, c.probesTS) >= c.userTO {
		c.writeErr()
		return
	}
	maxProbes := c.cfg.Retries2
	if c.orphan {
		// ORPHAN-7: alive while the backed-off RTO is below RTO_MAX.
		alive := c.rto<<min(c.backoff, 20) < c.cfg.RTOMax
		maxProbes = c.cfg.OrphanRetries
		if c.softErr != 0 && !alive {
			maxProbes = 0
		}
		if maxProbes == 0 && alive {
			maxProbes = 8
		}
		if !alive && c.backoff >= maxProbes {
			c.writeErr()
			return
		}
		if c.outOfResources(true, now, e) { // ORPHAN-6
			return
		}
	}
	if c.probesOut >= maxProbes {
		c.writeErr()
		return
	}
	c.sendProbe0(now, e)
}

// sendProbe0 is tcp_send_probe0: probe, then re-arm with backoff unless
// the probe carried data (the retransmission timer takes over).
func (c *Conn) sendProbe0(now Time, e Emitter) {
	c.writeWakeup(now, e)
	if c.sndNxt != c.sndUna || c.sndNxt == c.writeSeq {
		c.probesOut, c.backoff, c.probesTS = 0, 0, 0
		return
	}
	c.probesOut++
	if c.backoff < c.cfg.Retries2 {
		c.backoff++
	}
	c.probeMode, c.tlpMode = true, false
	c.rtoAt = now.add(c.clampProbe0ToUserTimeout(c.probeInterval(), now))
}

// clampProbe0ToUserTimeout is tcp_clamp_probe0_to_user_timeout.
func (c *Conn) clampProbe0ToUserTimeout(when time.Duration, now Time) time.Duration {
	if c.userTO == 0 || c.probesTS == 0 {
		return when
	}
	remaining := max(c.userTO-jiffiesSince(now, c.probesTS), 2*time.Millisecond) // TCP_TIMEOUT_MIN
	return min(remaining, when)
}

// rtxProbe0TimedOut is tcp_rtx_probe0_timed_out: data in flight into a
// zero window is retransmitted as a probe while the peer answers within
// 2*RTO_MAX (or the user timeout); with TCP_USER_TIMEOUT, retransmissions
// without progress give up after it even if the peer answers.
func (c *Conn) rtxProbe0TimedOut(now Time) bool {
	timeout := 2 * c.cfg.RTOMax
	rtxDelta := time.Duration(0)
	if c.retransTS != 0 {
		rtxDelta = jiffiesSince(now, c.retransTS)
	}
	if c.userTO > 0 {
		if rtxDelta > c.userTO {
			return true
		}
		timeout = min(timeout, c.userTO)
	}
	if jiffiesSince(now, c.lastRcv) <= timeout {
		return false
	}
	return rtxDelta > timeout
}
