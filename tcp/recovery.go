package tcp

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// maxSACKRanges bounds the sender's scoreboard. When it is full the
// smallest new information is dropped: the data is then simply treated as
// not SACKed and may be retransmitted needlessly, never lost.
const maxSACKRanges = 32

// scoreboard is the sender's record of SACKed ranges above snd_una (the
// TCPCB_SACKED_ACKED bits of the retransmit queue, kept as ranges).
type scoreboard struct {
	r *[maxSACKRanges]sackBlock // sorted, disjoint, non-adjacent; allocated by the first add
	n int
}

// add merges [s, e) and returns how many bytes were newly SACKed.
func (b *scoreboard) add(s, e uint32) uint32 {
	if b.r == nil {
		b.r = new([maxSACKRanges]sackBlock) // the first SACK of the connection's life
	}
	before0 := b.bytesIn(s, e)
	i := 0
	for i < b.n && before(b.r[i].end, s) {
		i++
	}
	j := i
	ns, ne := s, e
	for j < b.n && !after(b.r[j].start, e) {
		ns = seqMin(ns, b.r[j].start)
		ne = seqMax(ne, b.r[j].end)
		j++
	}
	if i == j {
		if b.n == len(b.r) {
			return 0
		}
		copy(b.r[i+1:b.n+1], b.r[i:b.n])
		b.r[i] = sackBlock{ns, ne}
		b.n++
	} else {
		b.r[i] = sackBlock{ns, ne}
		copy(b.r[i+1:], b.r[j:b.n])
		b.n -= j - i - 1
	}
	return (e - s) - before0
}

// trim forgets everything below una.
func (b *scoreboard) trim(una uint32) {
	k := 0
	for k < b.n && !after(b.r[k].end, una) {
		k++
	}
	if k > 0 {
		copy(b.r[:], b.r[k:b.n])
		b.n -= k
	}
	if b.n > 0 && before(b.r[0].start, una) {
		b.r[0].start = una
	}
}

// bytesIn returns the SACKed bytes inside [s, e).
func (b *scoreboard) bytesIn(s, e uint32) uint32 {
	var t uint32
	for i := range b.n {
		lo, hi := seqMax(s, b.r[i].start), seqMin(e, b.r[i].end)
		if after(hi, lo) {
			t += hi - lo
		}
	}
	return t
}

// covering returns the end of the SACKed range holding seq, or seq itself.
func (b *scoreboard) covering(seq uint32) uint32 {
	for i := range b.n {
		if !before(seq, b.r[i].start) && before(seq, b.r[i].end) {
			return b.r[i].end
		}
	}
	return seq
}

// nextStart returns the start of the first SACKed range after seq, or limit.
func (b *scoreboard) nextStart(seq, limit uint32) uint32 {
	for i := range b.n {
		if after(b.r[i].start, seq) {
			return seqMin(b.r[i].start, limit)
		}
	}
	return limit
}

// highest returns the end of the highest SACKed range (0, false if none).
func (b *scoreboard) highest() (uint32, bool) {
	if b.n == 0 {
		return 0, false
	}
	return b.r[b.n-1].end, true
}

// sackTag is tcp_sacktag_write_queue: validate the peer's SACK blocks and
// mark them. DSACK blocks (below snd_una, or inside the second block) are
// recognised and ignored. Like tcp_match_skb_to_sack, only whole segments
// are SACKed: a block covering part of a segment marks nothing. Every newly
// SACKed segment advances RACK; a never-retransmitted one below the highest
// SACK shows reordering. It returns the newly SACKed bytes and segments
// (sack_state.sack_delivered: one per transmit-log record, by MSS past it).
func (c *Conn) sackTag(o *header.Options, ack uint32, now Time) (newly, pkts uint32) {
	c.origSacked = false
	priorFack, hadSACK := c.sacked.highest()
	reord := c.sndNxt
	for i := range o.NumSACK {
		s, e := o.SACK[i].Start, o.SACK[i].End
		if i == 0 && (before(s, ack) || (o.NumSACK > 1 && !before(s, o.SACK[1].Start) && !after(e, o.SACK[1].End))) {
			continue // DSACK
		}
		// tcp_is_sackblock_valid
		if !after(e, s) || after(e, c.sndNxt) || !after(e, c.sndUna) {
			continue
		}
		if before(s, c.sndUna) {
			s = c.sndUna
		}
		b, n := c.sackSegments(s, e, priorFack, hadSACK, &reord, now)
		newly += b
		pkts += n
	}
	if hadSACK && before(reord, priorFack) {
		fack, _ := c.sacked.highest()
		c.checkSACKReordering(reord, fack)
	}
	return newly, pkts
}

// sackSegments marks the segments lying wholly inside [s, e) (tcp_sacktag_one).
func (c *Conn) sackSegments(s, e, priorFack uint32, hadSACK bool, reord *uint32, now Time) (newly, pkts uint32) {
	start := c.sndUna
	for i := range c.txlog.n {
		r := c.txlog.at(i)
		rs, re := start, r.end
		start = re
		if before(rs, s) || !after(re, rs) {
			continue
		}
		if after(re, e) {
			break
		}
		if c.sacked.bytesIn(rs, re) == re-rs {
			continue // already SACKed
		}
		c.rackAdvance(r.rtx, re, r.at, now)
		if !r.rtx && hadSACK && before(rs, priorFack) && before(rs, *reord) {
			*reord = rs // a hole filled by never-retransmitted data
		}
		if r.relost {
			r.relost = false
			c.rack.relostN--
		}
		n := c.sacked.add(rs, re)
		if n > 0 && !before(rs, c.rtxNext) {
			c.origSacked = true // above everything retransmitted
		}
		if n > 0 {
			pkts++
		}
		newly += n
	}
	// Data past the log's last record (the log was full) is taken by bytes.
	if after(e, start) {
		from := seqMax(s, start)
		n := c.sacked.add(from, e)
		if n > 0 && !before(from, c.rtxNext) {
			c.origSacked = true
		}
		newly += n
		pkts += n / uint32(max(c.mssCache, 1))
	}
	return newly, pkts
}

// lostOut reports whether any data is marked lost and not yet
// retransmitted or SACKed (tp->lost_out != 0, near enough).
func (c *Conn) lostOut() bool {
	if c.rack.relostN > 0 {
		return true
	}
	if !after(c.lostHigh, c.sndUna) || after(c.lostHigh, c.sndNxt) {
		return false
	}
	return c.lostHigh-c.sndUna > c.sacked.bytesIn(c.sndUna, c.lostHigh)
}

// packetsInFlight is tcp_packets_in_flight: packets_out - (sacked_out +
// lost_out) + retrans_out, all counted in segments as sent (queueCounts).
// Without SACKed, lost or retransmitted data it is packets_out, in O(1).
func (c *Conn) packetsInFlight() uint32 {
	if c.sndNxt == c.sndUna {
		return 0
	}
	if c.sacked.n == 0 && c.rack.relostN == 0 && !after(c.lostHigh, c.sndUna) && (c.sackOK || c.dupAcks == 0) {
		return c.packetsOut()
	}
	out, sacked, lost, retx := c.queueCounts()
	return (out + retx) - min(out+retx, sacked+lost)
}

// retransmitLost is tcp_xmit_retransmit_queue: resend lost holes in order
// while cwnd allows: first the retransmissions RACK found lost again (they
// lie below rtxNext), then the lost range from rtxNext on.
func (c *Conn) retransmitLost(now Time, e Emitter) {
	if !after(c.lostHigh, c.sndUna) && c.rack.relostN == 0 {
		return
	}
	if before(c.rtxNext, c.sndUna) {
		c.rtxNext = c.sndUna
	}
	if c.rack.relostN > 0 && !c.retransmitRelost(now, e) {
		return
	}
	lh := seqMin(c.lostHigh, c.sndNxt)
	// Each retransmission of a lost segment adds one to retrans_out, so
	// the flight is counted once, not per segment.
	inflight := c.packetsInFlight()
	for before(c.rtxNext, lh) {
		if inflight >= c.snd.Cwnd {
			return
		}
		if end := c.sacked.covering(c.rtxNext); end != c.rtxNext {
			c.rtxNext = end
			continue
		}
		if c.rtxNext != c.sndUna && !before(c.rtxNext, c.sndUna+c.sndWnd) {
			return // tcp_retransmit_skb: beyond the peer's window, only the head goes
		}
		hole := c.sacked.nextStart(c.rtxNext, lh)
		dend := c.dataEnd()
		n := 0
		if before(c.rtxNext, dend) {
			n = c.eorClamp(c.rtxNext, int(min(seqMin(hole, dend)-c.rtxNext, uint32(c.curMSS())))) // eor.go
		}
		seq := c.rtxNext
		flags := uint8(header.FlagACK)
		l := uint32(n)
		if c.finQueued && seq+l == dend && after(hole, dend) {
			flags |= header.FlagFIN
			l++
		}
		if l == 0 {
			c.rtxNext = hole
			continue
		}
		if n > 0 && c.pshAt(seq+uint32(n)) { // eor.go: a record's end keeps its PSH
			flags |= header.FlagPSH
		}
		c.rtxNext = seq + l
		if c.caState == cc.Recovery {
			c.prrOut++
		}
		c.noteRetransmit(seq, seq+l, now)
		c.inc(metrics.TcpRetransSegs)
		c.totalRetrans++
		c.transmit(e, seq, flags, n, now)
		inflight++
		if c.rtoAt == 0 {
			c.armRTO(now)
		}
	}
}

// fastRetransAlert is a reduced tcp_fastretrans_alert: loss detection by
// RACK (SACK) or duplicate ACKs (Reno), entry into Recovery (PRR), NewReno
// partial ACKs, and the exits of Recovery and Loss. dubious is
// tcp_ack_is_dubious. It reports whether RACK armed the REO timer (the
// caller then leaves the RTO/TLP timer alone).
func (c *Conn) fastRetransAlert(seg *Segment, advanced, dup, dubious bool, ackedPkts, newlySacked uint32, now Time) bool {
	if !c.sackOK {
		// Reno emulates SACK: each duplicate ACK counts one segment that
		// left the network (tcp_add_reno_sack); cumulative ACKs eat them
		// first (tcp_remove_reno_sacks).
		if advanced {
			c.dupAcks = max(c.dupAcks-int(ackedPkts), 0)
		} else if dup {
			c.dupAcks++
		}
	}
	recovered := !before(c.sndUna, c.highSeq)
	switch c.caState {
	case cc.Loss:
		// tcp_process_loss
		if advanced && c.tryUndoLoss(seg, now) {
			c.dupAcks = 0
			c.frto = false
			return false
		}
		if c.frtoLoss(advanced, dup, newlySacked, recovered, now) {
			return false
		}
		if recovered {
			c.tryUndoRecovery(seg)
			c.exitRecovery(now)
			return false
		}
		if c.rackOn() {
			return c.rackMarkLost(now) // retransmissions lost again
		}
		return false
	case cc.Recovery:
		if recovered {
			undone := c.mayUndo(seg)
			c.tryUndoRecovery(seg)
			if !undone && c.undo.valid && c.snd.SSThresh < cc.InfiniteSSThresh {
				c.snd.Cwnd = max(c.snd.SSThresh, 1) // tcp_end_cwnd_reduction
			}
			c.ca.CwndEvent(&c.snd, cc.CompleteCwr, int64(now))
			c.exitRecovery(now)
			return false
		}
		if advanced && c.undo.valid && c.packetDelayed(seg) {
			// tcp_try_undo_partial: the original got through after all.
			c.undoCwndReduction(true)
			c.inc(metrics.TcpExtTCPPartialUndo)
			c.exitRecovery(now)
			return false
		}
		if c.tryUndoDSACK() {
			c.exitRecovery(now)
			return false
		}
		if c.rackOn() {
			return c.rackMarkLost(now)
		}
		if c.sackOK {
			if dup || (newlySacked > 0 && c.forceFastRetransmit()) {
				c.updateScoreboard(false)
			}
			return false
		}
		if advanced {
			// NewReno partial ACK: the next segment is lost too.
			c.lostHigh = seqMin(c.sndUna+uint32(c.mssCache), c.sndNxt)
			c.rtxNext = c.sndUna
		}
		return false
	}
	if newlySacked > 0 || (c.sackOK && advanced) {
		c.dupAcks = int(c.sacked.bytesIn(c.sndUna, c.sndNxt) / uint32(max(c.mssCache, 1)))
	}
	if c.sndNxt == c.sndUna {
		c.dupAcks = 0
		c.setCAState(cc.Open, now)
		return false
	}
	armed := false
	if c.rackOn() {
		// tcp_identify_packet_loss + tcp_time_to_recover: with RACK the
		// loss must be proven (lost_out), dupthresh only shapes reo_wnd.
		if dubious {
			armed = c.rackMarkLost(now)
		}
		if c.lostOut() {
			c.enterRecovery(now)
			return armed
		}
	} else if c.sackOK {
		// tcp_recovery without RACK: tcp_time_to_recover's dupack
		// heuristic (sacked_out + 1 > reordering), then
		// tcp_update_scoreboard marks the head (fast_rexmit).
		if c.lostOut() || c.sackedOut()+1 > c.reordering() {
			c.enterRecovery(now)
			c.updateScoreboard(true)
			return false
		}
	} else if c.dupAcks >= int(c.reordering()) {
		c.enterRecovery(now)
		return false
	}
	if c.dupAcks > 0 || c.sacked.n > 0 {
		c.setCAState(cc.Disorder, now)
	} else if c.caState == cc.Disorder {
		c.setCAState(cc.Open, now)
	}
	return armed
}

// exitRecovery returns to Open (or Disorder while SACKed data remains,
// tcp_try_keep_open) with nothing marked lost.
func (c *Conn) exitRecovery(now Time) {
	c.lostHigh, c.rtxNext = c.sndUna, c.sndUna
	c.clearRelost()
	if c.sackOK {
		c.dupAcks = int(c.sacked.bytesIn(c.sndUna, c.sndNxt) / uint32(max(c.mssCache, 1)))
	} else {
		c.dupAcks = 0
	}
	if c.sacked.n > 0 || c.dupAcks > 0 {
		c.setCAState(cc.Disorder, now)
	} else {
		c.setCAState(cc.Open, now)
	}
	c.highSeq = c.sndNxt
}

// enterRecovery is tcp_enter_recovery + tcp_init_cwnd_reduction.
func (c *Conn) enterRecovery(now Time) {
	c.tlpActive = false
	if c.sackOK {
		c.inc(metrics.TcpExtTCPSackRecovery)
	} else {
		c.inc(metrics.TcpExtTCPRenoRecovery)
	}
	c.highSeq = c.sndNxt
	c.priorCwnd = c.snd.Cwnd
	c.snd.PriorCwnd = c.snd.Cwnd
	c.prrDeliv, c.prrOut = 0, 0
	c.syncCC()
	c.undo.priorSSt = cc.CurrentSSThresh(&c.snd, false)
	c.initUndo()
	c.snd.SSThresh = c.ca.SSThresh(&c.snd)
	c.rtxNext = c.sndUna
	c.clearRelost()
	if !c.sackOK {
		c.lostHigh = seqMin(c.sndUna+uint32(c.mssCache), c.sndNxt)
	} else if !after(c.lostHigh, c.sndUna) && c.rack.relostN == 0 {
		// Recovery without a RACK verdict (a timer's): the head is lost.
		c.lostHigh = seqMin(c.sndUna+uint32(c.mssCache), c.sndNxt)
	}
	c.inc(metrics.TcpExtTCPFastRetrans)
	c.setCAState(cc.Recovery, now)
}

// enterLoss is tcp_enter_loss (RTO): everything outstanding is lost and
// cwnd restarts from one segment.
func (c *Conn) enterLoss(now Time) {
	newEpisode := c.caState <= cc.Disorder || !after(c.highSeq, c.sndUna) || (c.caState == cc.Loss && c.retrans == 0)
	// F-RTO step 1: unless another recovery is under way (sec 3.2 allows
	// recurring timeouts on the same snd_una).
	c.frto = c.cfg.FRTO != 0 && (newEpisode || c.retrans > 0)
	c.rexmitNew = false
	if newEpisode {
		c.syncCC()
		c.undo.priorSSt = cc.CurrentSSThresh(&c.snd, c.caState == cc.CWR || c.caState == cc.Recovery)
		c.priorCwnd = c.snd.Cwnd
		c.snd.PriorCwnd = c.snd.Cwnd
		c.snd.SSThresh = c.ca.SSThresh(&c.snd)
		c.ca.CwndEvent(&c.snd, cc.EventLoss, int64(now))
		c.initUndo()
	}
	if c.caState <= cc.Disorder && c.sackedOut() >= uint32(c.cfg.Reordering) {
		// A timeout after many SACKs: reordering was overestimated.
		c.rack.reordering = min(c.reordering(), uint32(max(c.cfg.Reordering, 1)))
	}
	c.clearRelost()
	c.lostHigh = c.sndNxt
	c.rtxNext = c.sndUna
	c.highSeq = c.sndNxt
	c.dupAcks = 0
	c.snd.Cwnd = c.packetsInFlight() + 1
	c.snd.CwndCnt = 0
	c.setCAState(cc.Loss, now)
}

// setCAState is tcp_set_ca_state: the algorithm hears every call, even
// when the state does not change (a second RTO in Loss resets CUBIC).
func (c *Conn) setCAState(s cc.CAState, now Time) {
	c.ca.SetState(&c.snd, s, int64(now))
	c.caState = s
}

// cwndValidate is tcp_cwnd_validate: remember per window whether cwnd was
// the limit, for tcp_is_cwnd_limited.
func (c *Conn) cwndValidate(limited bool) {
	out := c.packetsInFlight()
	if !before(c.sndUna, c.cwndUsageSeq) || limited || out > c.maxPktsOut {
		c.wasCwndLimited = limited
		c.maxPktsOut = out
		c.cwndUsageSeq = c.sndNxt
	}
}

// updatePacingRate is tcp_update_pacing_rate (HyStart's ACK-train cushion
// reads it): 200% of cwnd/srtt in slow start, 120% otherwise.
func (c *Conn) updatePacingRate() {
	if c.srttUs == 0 {
		return
	}
	rate := uint64(c.mssCache) * ((1000000 / 100) << 3)
	if c.snd.Cwnd < c.snd.SSThresh/2 {
		rate *= 200
	} else {
		rate *= 120
	}
	rate *= uint64(max(c.snd.Cwnd, c.packetsInFlight()))
	c.snd.PacingRate = rate / uint64(c.srttUs)
}

// syncCC copies the engine's view into the cc.Sender before a callback.
func (c *Conn) syncCC() {
	c.snd.PacketsOut = c.packetsInFlight()
	c.snd.SndNxt, c.snd.SndUna = c.sndNxt, c.sndUna
	c.snd.MSS = uint32(c.mssCache)
	c.snd.SRTTus = uint32(c.srttUs >> 3)
	c.snd.LSndTime = int64(c.lastSend)
}

// congControl is tcp_cong_control: PRR while in Recovery, otherwise the
// algorithm's cong_avoid when the ACK advanced and cwnd is the limit.
func (c *Conn) congControl(ack uint32, ackedPkts, deliveredPkts, newlyLost uint32, advanced bool, now Time) {
	c.syncCC()
	if c.caState == cc.Recovery {
		c.prrReduce(deliveredPkts, newlyLost, advanced)
		return
	}
	if advanced && c.caState != cc.CWR {
		c.snd.CwndLimited = c.cwndLimited()
		c.ca.CongAvoid(&c.snd, ack, deliveredPkts, int64(now))
	}
}

// cwndLimited is tcp_is_cwnd_limited.
func (c *Conn) cwndLimited() bool {
	if c.snd.Cwnd < c.snd.SSThresh {
		return c.snd.Cwnd < 2*c.maxPktsOut
	}
	return c.wasCwndLimited
}

// prrReduce is tcp_cwnd_reduction (RFC 6937 with SSRB).
func (c *Conn) prrReduce(newly, newlyLost uint32, advanced bool) {
	if newly == 0 || c.priorCwnd == 0 {
		return
	}
	inflight := int64(c.packetsInFlight())
	delta := int64(c.snd.SSThresh) - inflight
	c.prrDeliv += newly
	var sndcnt int64
	if delta < 0 {
		sndcnt = (int64(c.snd.SSThresh)*int64(c.prrDeliv)+int64(c.priorCwnd)-1)/int64(c.priorCwnd) - int64(c.prrOut)
	} else {
		sndcnt = max(int64(c.prrDeliv)-int64(c.prrOut), int64(newly))
		if advanced && newlyLost == 0 {
			sndcnt++
		}
		sndcnt = min(delta, sndcnt)
	}
	if c.prrOut == 0 {
		sndcnt = max(sndcnt, 1) // force the fast retransmit
	}
	sndcnt = max(sndcnt, 0)
	c.snd.Cwnd = uint32(inflight + sndcnt)
}

// noteRetransmit sets retrans_stamp from the segment's previous
// transmission and flags it retransmitted (Karn).
func (c *Conn) noteRetransmit(s, e uint32, now Time) {
	if c.retransTS == 0 {
		if at, _, ok := c.txlog.headSent(); ok {
			c.retransTS = at
		} else {
			c.retransTS = now
		}
	}
	c.txlog.markRtx(c.sndUna, s, e, now)
	c.undoNoteRetransmit(now)
}

// forceFastRetransmit is tcp_force_fast_retransmit: the highest SACK is
// more than tp->reordering segments above snd_una.
func (c *Conn) forceFastRetransmit() bool {
	fack, ok := c.sacked.highest()
	return ok && after(fack, c.sndUna+c.reordering()*uint32(max(c.mssCache, 1)))
}
