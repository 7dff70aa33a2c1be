package tcp

import "time"

// txLog remembers when each outstanding segment was sent and whether it
// was ever retransmitted: the skb_mstamp and TCPCB_EVER_RETRANS bits of
// Linux's retransmit queue, which give µs RTT samples (Karn's rule
// included), retrans_stamp, the head's age for the loss-probe timer and
// the per-segment packet counts (packets_out, sacked_out, lost_out,
// retrans_out count these records, as Linux counts skbs).
//
// It is a ring of records whose storage starts inline (small, enough for a
// request and a FIN), then is allocated as more segments are outstanding
// at once, doubling from minTxLog, up to one record per MSS of the send buffer
// (limit, kept by the Conn), so a bulk transfer with a large cwnd keeps
// every in-flight segment visible to SACK tagging and RACK. Once the ring
// is at its limit, new segments go unrecorded; they are then counted by
// MSS and their ACKs yield no RTT sample.
type txLog struct {
	r     []txRec  // len is 0 or a power of two
	small [2]txRec // r's first storage: a short exchange allocates nothing
	head  int
	n     int
	limit int // the most records the ring may grow to
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

const (
	minTxLog     = 16
	defaultTxLog = 256 // limit before the send buffer is known
)

func (l *txLog) reset() { l.head, l.n = 0, 0 }

func (l *txLog) at(i int) *txRec { return &l.r[(l.head+i)&(len(l.r)-1)] }

// last returns the newest record; l.n must be > 0.
func (l *txLog) last() *txRec { return l.at(l.n - 1) }

// push records a new segment ending at end.
func (l *txLog) push(end uint32, now Time) {
	if l.n == len(l.r) && !l.grow() {
		return
	}
	*l.at(l.n) = txRec{end: end, at: now}
	l.n++
}

// grow doubles the storage (in order, head at 0) unless at the limit.
func (l *txLog) grow() bool {
	lim := l.limit
	if lim == 0 {
		lim = defaultTxLog
	}
	if len(l.r) >= lim {
		return false
	}
	if len(l.r) == 0 {
		l.r = l.small[:]
		return true
	}
	nr := make([]txRec, max(2*len(l.r), minTxLog))
	for i := range l.n {
		nr[i] = *l.at(i)
	}
	l.r, l.head = nr, 0
	return true
}

// setLimit bounds the ring to about one record per MSS of a send buffer
// of sndbuf bytes (rounded up to a power of two, at least defaultTxLog).
func (l *txLog) setLimit(sndbuf, mss int) {
	if mss <= 0 {
		mss = 536 // not synchronized yet: the default MSS
	}
	want := max(sndbuf/mss+1, defaultTxLog)
	lim := minTxLog
	for lim < want {
		lim <<= 1
	}
	l.limit = max(lim, len(l.r))
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
		l.head = (l.head + 1) & (len(l.r) - 1)
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
	if seqRTT < 0 && c.passive && c.state == StateSynRecv {
		// The child of tcp_create_openreq_child starts at snt_isn+1 with
		// no SYN-ACK in its retransmit queue: the ACK completing the
		// handshake is not FLAG_ACKED, so no TS sample here;
		// tcp_synack_rtt_meas takes the one sample.
		return
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

// ackedSegments counts what a cumulative ACK from priorUna to ack removes
// from the retransmit queue before the log pops it: the segments wholly
// acknowledged (tcp_clean_rtx_queue's pkts_acked; a partly acknowledged
// one-MSS skb counts nothing, as tcp_tso_acked leaves its pcount) and how
// many of them were not SACKed before (the ones delivered now). Data past
// the log's last record counts by MSS.
func (c *Conn) ackedSegments(priorUna, ack uint32) (pkts, unsacked uint32) {
	l := &c.txlog
	start := priorUna
	for i := range l.n {
		r := l.at(i)
		if after(r.end, ack) {
			return pkts, unsacked
		}
		pkts++
		if after(r.end, start) && c.sacked.bytesIn(start, r.end) != r.end-start {
			unsacked++
		}
		start = r.end
	}
	if after(ack, start) {
		mss := uint32(max(c.mssCache, 1))
		b := ack - start
		pkts += (b + mss - 1) / mss
		unsacked += (b - c.sacked.bytesIn(start, ack) + mss - 1) / mss
	}
	return pkts, unsacked
}

// tsRTTSample is the TS-echo fallback of tcp_ack_update_rtt
// (tcp_rtt_tsopt_us): ms ticks, at least one.
func (c *Conn) tsRTTSample(seg *Segment, now Time) {
	if !c.tsOK || !seg.Opts.HasTS || seg.Opts.TSEcr == 0 {
		return
	}
	if d := int32(c.tsNow(now) - seg.Opts.TSEcr); d >= 0 {
		c.rttSample(time.Duration(max(d, 1)) * time.Millisecond)
	}
}
