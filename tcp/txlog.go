package tcp

import "time"

// txLog remembers when each outstanding segment was sent and whether it
// was ever retransmitted: the skb_mstamp and TCPCB_EVER_RETRANS bits of
// Linux's retransmit queue, which give µs RTT samples (Karn's rule
// included), retrans_stamp and the head's age for the loss-probe timer.
// It is a fixed ring; when it is full new segments simply go unrecorded
// and their ACKs yield no sample.
type txLog struct {
	r    [256]txRec
	head int
	n    int
	// origAcked: a never-retransmitted segment was cumulatively ACKed
	// since the engine last cleared it (FLAG_ORIG_SACK_ACKED).
	origAcked bool
}

type txRec struct {
	end    uint32 // sequence after the segment
	at     Time   // last transmission
	rtx    bool   // ever retransmitted
	relost bool   // RACK: its retransmission was lost too (waits to be resent)
}

func (l *txLog) reset() { l.head, l.n = 0, 0 }

func (l *txLog) at(i int) *txRec { return &l.r[(l.head+i)%len(l.r)] }

// push records a new segment ending at end.
func (l *txLog) push(end uint32, now Time) {
	if l.n == len(l.r) {
		return
	}
	*l.at(l.n) = txRec{end: end, at: now}
	l.n++
}

// markRtx flags the records overlapping [s, e) (whose data starts at una
// for the first one) as retransmitted now.
func (l *txLog) markRtx(una, s, e uint32, now Time) {
	start := una
	for i := range l.n {
		r := l.at(i)
		if after(r.end, s) && before(start, e) {
			r.rtx = true
			r.at = now
		}
		if !before(start, e) {
			return
		}
		start = r.end
	}
}

// ack pops the records the cumulative ACK covers. first and last are the
// transmit times of the oldest and newest of them; rtx reports whether any
// was retransmitted.
func (l *txLog) ack(ack uint32) (first, last Time, rtx, ok bool) {
	for l.n > 0 {
		r := l.at(0)
		if after(r.end, ack) {
			break
		}
		if !ok {
			first, ok = r.at, true
		}
		last = r.at
		rtx = rtx || r.rtx
		l.origAcked = l.origAcked || !r.rtx
		l.head = (l.head + 1) % len(l.r)
		l.n--
	}
	return
}

// headSent returns the (last) transmit time of the oldest outstanding
// segment and whether it was retransmitted.
func (l *txLog) headSent() (Time, bool, bool) {
	if l.n == 0 {
		return 0, false, false
	}
	r := l.at(0)
	return r.at, r.rtx, true
}

// ackRTT is the RTT part of tcp_clean_rtx_queue + tcp_ack_update_rtt: the
// oldest newly acknowledged segment's age feeds the estimator, the newest's
// the congestion control; segments ever retransmitted give no sample (Karn)
// and the echoed timestamp stands in then.
func (c *Conn) ackRTT(seg *Segment, ack uint32, now Time) {
	c.lastRTTus = -1
	first, last, rtx, ok := c.txlog.ack(ack)
	seqRTT, caRTT := time.Duration(-1), time.Duration(-1)
	if ok && !rtx {
		seqRTT, caRTT = time.Duration(now-first), time.Duration(now-last)
	}
	if seqRTT < 0 && c.tsOK && seg.Opts.HasTS && seg.Opts.TSEcr != 0 {
		// tcp_rtt_tsopt_us: ms ticks, at least one.
		if d := int32(c.tsNow(now) - seg.Opts.TSEcr); d >= 0 {
			seqRTT = time.Duration(max(d, 1)) * time.Millisecond
			caRTT = seqRTT
		}
	}
	if seqRTT < 0 {
		return
	}
	c.rttSample(seqRTT)
	c.lastRTTus = int64(caRTT / time.Microsecond)
}
