package cc

// PktsAcked is cubictcp_acked: track the minimum RTT and run HyStart while
// in slow start.
func (c *Cubic) PktsAcked(s *Sender, acked uint32, rttUs int64, now int64) {
	if rttUs < 0 { // duplicate ACKs without a timestamp
		return
	}
	// Samples in the first second of an epoch (just after recovery) are
	// inflated by the queue that caused the loss.
	if c.epochStart != 0 && int32(c.jiffies(now)-c.epochStart) < int32(c.cfg.HZ) {
		return
	}
	delay := uint32(rttUs)
	if delay == 0 {
		delay = 1
	}
	if c.delayMin == 0 || c.delayMin > delay {
		c.delayMin = delay
	}
	if !c.found && InSlowStart(s) && c.cfg.HyStart &&
		(!c.cfg.LegacyHyStartRounds || s.Cwnd >= c.cfg.HyStartLowWindow) {
		c.hystartUpdate(s, delay, now)
	}
}

// hystartAckDelay is hystart_ack_delay: a cushion of four GSO packets at
// the pacing rate (TSO/GRO batching), at most 1 ms.
func hystartAckDelay(s *Sender) uint32 {
	if s.PacingRate == 0 {
		return 0
	}
	gso := uint64(s.GSOMaxSize)
	if gso == 0 {
		gso = gsoLegacyMaxSize
	}
	return uint32(min(1000, gso*4*1_000_000/s.PacingRate))
}

// hystartUpdate is hystart_update. A round ends when snd_una passes the
// snd_nxt recorded at its start; rounds are tracked at any cwnd, detection
// only from HyStartLowWindow on. Either detector ends slow start by setting
// ssthresh to cwnd.
func (c *Cubic) hystartUpdate(s *Sender, delay uint32, now int64) {
	if int32(s.SndUna-c.endSeq) > 0 { // after(snd_una, end_seq)
		c.hystartReset(s, now)
	}
	if s.Cwnd < c.cfg.HyStartLowWindow {
		return
	}

	if c.cfg.HyStartDetect&HyStartACKTrain != 0 {
		nowUs := clockUs(now)
		// ACK train: closely spaced ACKs spanning more than half the
		// min RTT mean the pipe is full.
		if int32(nowUs-c.lastAck) <= c.cfg.HyStartAckDeltaUs {
			c.lastAck = nowUs
			threshold := c.delayMin + hystartAckDelay(s)
			// Unpaced, a train longer than half the min RTT is enough;
			// pacing may have stretched slow start's trains by RTT/2.
			if !s.Paced {
				threshold >>= 1
			}
			// The kernel compares (s32) against u32, i.e. unsigned.
			if nowUs-c.roundStart > threshold {
				c.exitSlowStart(s, HyStartTrain)
			}
		}
	}

	if c.cfg.HyStartDetect&HyStartDelayDetect != 0 {
		// Delay increase: the round's min RTT, once there are enough
		// samples, above delay_min + delay_min/8 (clamped to 4..16 ms).
		if c.currRTT > delay {
			c.currRTT = delay
		}
		if c.sampleCnt < hystartMinSamples {
			c.sampleCnt++
		} else if c.currRTT > c.delayMin+min(max(c.delayMin>>3, hystartDelayMin), hystartDelayMax) {
			c.exitSlowStart(s, HyStartDelay)
		}
	}
}

func (c *Cubic) exitSlowStart(s *Sender, how HyStartExit) {
	c.found = true
	c.exit |= how // both detectors can fire on one ACK; the kernel counts both
	c.exitCwnd = s.Cwnd
	s.SSThresh = s.Cwnd
}
