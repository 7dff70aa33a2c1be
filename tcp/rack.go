package tcp

import (
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// RACK-TLP loss detection (RFC 8985) as tcp_recovery.c implements it with
// tcp_recovery = 1: a segment is lost once a segment sent after it has been
// (S)ACKed and it has itself gone unacknowledged for the latest RTT plus a
// reordering window. The window is min_rtt/4 (scaled up by DSACK-driven
// steps, capped at srtt), and zero while no reordering was ever seen and
// either recovery is running or the classic dupthresh is met. Losses that
// need more time arm the REO timer.
//
// The engine's retransmit queue is the txLog: one record per transmitted
// segment with its last transmission time. Lost data is [sndUna, lostHigh)
// minus SACKed data, plus records flagged relost: retransmissions RACK
// found lost again (TCPCB_LOST on a TCPCB_SACKED_RETRANS skb).

// rackState is struct tcp_rack plus tp->reordering and reord_seen.
type rackState struct {
	mstamp   Time   // (re)transmit time of the most recently sent (S)ACKed segment
	endSeq   uint32 // its end sequence (ties between equal times)
	rttUs    int64  // RTT of the latest (S)ACKed segment
	advanced bool   // mstamp moved since the last loss scan

	reoSteps      uint8  // reo_wnd_steps (0 means 1)
	reoPersist    uint8  // reo_wnd_persist
	dsackSeen     bool   // a DSACK arrived since the last adjustment
	lastDelivered uint32 // delivered count at the last adjustment

	reordSeen  int    // reord_seen
	reordering uint32 // tp->reordering in segments (0: tcp_reordering)
	lost       uint32 // tp->lost: segments ever marked lost
	relostN    int    // txLog records flagged relost

	reoMode bool // rtoAt is the REO timer (ICSK_TIME_REO_TIMEOUT)
}

const (
	rackRecoveryThresh = 16                     // TCP_RACK_RECOVERY_THRESH
	maxReordering      = 300                    // tcp_max_reordering (sysctl default; no Config knob yet)
	timeoutMinUs       = 2000                   // TCP_TIMEOUT_MIN_US
	jiffy              = time.Millisecond       // HZ=1000
	rackNoMinRTT       = int64(^uint32(0) >> 1) // tcp_min_rtt before any sample
)

// reordering is tp->reordering.
func (c *Conn) reordering() uint32 {
	if c.rack.reordering == 0 {
		return uint32(max(c.cfg.Reordering, 1))
	}
	return c.rack.reordering
}

func (c *Conn) minRTTUs() int64 {
	if c.snd.MinRTTus == 0 {
		return rackNoMinRTT
	}
	return int64(c.snd.MinRTTus)
}

// sentAfter is tcp_skb_sent_after: (t1, seq1) went out after (t2, seq2).
func sentAfter(t1, t2 Time, seq1, seq2 uint32) bool {
	return t1 > t2 || (t1 == t2 && after(seq1, seq2))
}

// usToJiffies is usecs_to_jiffies at HZ=1000: rounded up to whole ms.
func usToJiffies(us int64) time.Duration {
	return (time.Duration(us)*time.Microsecond + jiffy - 1).Truncate(jiffy)
}

// rackAdvance is tcp_rack_advance for a segment (S)ACKed now that was last
// sent at xmit. A retransmitted segment acknowledged sooner than min_rtt
// after its retransmission was probably acknowledged for the original.
func (c *Conn) rackAdvance(everRtx bool, end uint32, xmit, now Time) {
	rtt := int64(now-xmit) / int64(time.Microsecond)
	if everRtx && rtt < c.minRTTUs() {
		return
	}
	c.rack.advanced = true
	c.rack.rttUs = rtt
	if sentAfter(xmit, c.rack.mstamp, end, c.rack.endSeq) {
		c.rack.mstamp, c.rack.endSeq = xmit, end
	}
}

// sackedOut is tp->sacked_out: SACKed segments as sent (a 400-byte
// segment counts one, like a one-packet skb), by MSS past the log's end.
func (c *Conn) sackedOut() uint32 {
	if c.sacked.n == 0 {
		return 0
	}
	var n uint32
	start := c.sndUna
	for i := range c.txlog.n {
		r := c.txlog.at(i)
		if after(r.end, start) && c.sacked.bytesIn(start, r.end) == r.end-start {
			n++
		}
		start = r.end
	}
	if before(start, c.sndNxt) {
		mss := uint32(max(c.mssCache, 1))
		n += (c.sacked.bytesIn(start, c.sndNxt) + mss - 1) / mss
	}
	return n
}

// rackReoWnd is tcp_rack_reo_wnd in µs.
func (c *Conn) rackReoWnd() int64 {
	if c.rack.reordSeen == 0 {
		if c.caState >= cc.Recovery {
			return 0
		}
		if c.sackedOut() >= c.reordering() && c.cfg.Recovery&RecoveryNoDupthresh == 0 {
			return 0
		}
	}
	steps := int64(max(c.rack.reoSteps, 1))
	return min((c.minRTTUs()>>2)*steps, c.srttUs>>3)
}

// recLostNotRetransmitted: marked lost and waiting for its retransmission
// (Linux skips those in the time-sorted scan).
func (c *Conn) recLostNotRetransmitted(r *txRec, s uint32) bool {
	return r.relost || (!before(s, c.rtxNext) && before(s, c.lostHigh))
}

// rackDetectLoss is tcp_rack_detect_loss: mark what RACK considers lost and
// return the longest remaining wait (µs) of the segments not yet lost.
func (c *Conn) rackDetectLoss(now Time) int64 {
	reo := c.rackReoWnd()
	var timeout int64
	if before(c.rtxNext, c.sndUna) {
		c.rtxNext = c.sndUna
	}
	if before(c.lostHigh, c.sndUna) {
		c.lostHigh = c.sndUna
	}
	start := c.sndUna
	for i := range c.txlog.n {
		r := c.txlog.at(i)
		s, e := start, r.end
		start = e
		if !after(e, c.sndUna) || c.sacked.bytesIn(s, e) == e-s || c.recLostNotRetransmitted(r, s) {
			continue
		}
		if !sentAfter(c.rack.mstamp, r.at, c.rack.endSeq, e) {
			continue
		}
		rem := c.rack.rttUs + reo - int64(now-r.at)/int64(time.Microsecond)
		if rem > 0 {
			timeout = max(timeout, rem)
			continue
		}
		c.rackMarkRecordLost(r, s, e)
	}
	return timeout
}

// rackMarkRecordLost is tcp_mark_skb_lost for record r = [s, e).
func (c *Conn) rackMarkRecordLost(r *txRec, s, e uint32) {
	if before(s, c.rtxNext) {
		// A retransmission lost again (TCPLostRetransmit).
		r.relost = true
		c.rack.relostN++
		c.rack.lost++
		c.inc(metrics.TcpExtTCPLostRetransmit)
		return
	}
	mss := uint32(max(c.mssCache, 1))
	if after(e, c.lostHigh) {
		from := seqMax(c.lostHigh, c.sndUna)
		nb := (e - from) - c.sacked.bytesIn(from, e)
		c.rack.lost += (nb + mss - 1) / mss
		c.lostHigh = e
	}
}

// rackMarkLost is tcp_rack_mark_lost: scan when RACK advanced and arm the
// REO timer for segments that still have time. It reports whether the
// timer was armed (the caller then leaves the RTO/TLP timer alone).
func (c *Conn) rackMarkLost(now Time) bool {
	if !c.rack.advanced {
		return false
	}
	c.rack.advanced = false
	to := c.rackDetectLoss(now)
	if to <= 0 {
		return false
	}
	c.rtoAt = now.add(usToJiffies(to + timeoutMinUs))
	c.probeMode, c.tlpMode, c.rack.reoMode = false, false, true
	return true
}

// rackReoTimeout is tcp_rack_reo_timeout: the reordering window passed;
// mark, start recovery if needed, retransmit, then the RTO takes over.
func (c *Conn) rackReoTimeout(now Time, e Emitter) {
	if c.caState < cc.Recovery {
		c.lostHigh, c.rtxNext = c.sndUna, c.sndUna // nothing is marked yet
		c.clearRelost()
	}
	prior := c.packetsInFlight()
	lost := c.rack.lost
	c.rackDetectLoss(now)
	if prior != c.packetsInFlight() {
		// Linux also leaves Loss for Recovery here; the engine keeps Loss,
		// whose retransmission pass already covers what RACK marks.
		if c.caState < cc.Recovery {
			c.enterRecovery(now)
			c.prrReduce(1, c.rack.lost-lost, false)
		}
		c.retransmitLost(now, e)
	}
	// The REO timer is still the pending event: tcp_rearm_rto counts the
	// RTO from the head's transmission.
	c.rack.reoMode = true
	c.rearmRTO(now)
}

// rackUpdateReoWnd is tcp_rack_update_reo_wnd, run for ACKs that delivered
// data (a rate sample exists): a DSACK after the last adjustment widens the window by one step for 16 recoveries; without one
// the window shrinks back to a single step.
func (c *Conn) rackUpdateReoWnd(priorDelivered uint32) {
	if c.cfg.Recovery&RecoveryStaticReoWnd != 0 {
		return
	}
	if before(priorDelivered, c.rack.lastDelivered) {
		c.rack.dsackSeen = false
	}
	if c.rack.dsackSeen {
		c.rack.reoSteps = uint8(min(int(max(c.rack.reoSteps, 1))+1, 0xff))
		c.rack.dsackSeen = false
		c.rack.lastDelivered = c.snd.Delivered
		c.rack.reoPersist = rackRecoveryThresh
	} else if c.rack.reoPersist == 0 {
		c.rack.reoSteps = 1
	}
}

// checkSACKReordering is tcp_check_sack_reordering: never-retransmitted
// data at lowSeq was delivered below the highest SACK (fack).
func (c *Conn) checkSACKReordering(lowSeq, fack uint32) {
	if !before(lowSeq, fack) {
		return
	}
	mss := uint32(max(c.mssCache, 1))
	metric := fack - lowSeq
	if metric > c.reordering()*mss {
		c.rack.reordering = min((metric+mss-1)/mss, maxReordering)
	}
	c.rack.reordSeen++
	c.inc(metrics.TcpExtTCPSACKReorder)
}

// packetsOut is tp->packets_out: segments sent and not cumulatively ACKed,
// one per transmit-log record (a 400-byte write is one packet, as its skb
// is), data past the log's last record by MSS.
func (c *Conn) packetsOut() uint32 {
	if c.sndNxt == c.sndUna {
		return 0
	}
	l := &c.txlog
	n := uint32(l.n)
	start := c.sndUna
	if l.n > 0 {
		start = l.last().end
	}
	if before(start, c.sndNxt) {
		mss := uint32(max(c.mssCache, 1))
		n += (c.sndNxt - start + mss - 1) / mss
	}
	return n
}

// relostBytes is the unSACKed data of records RACK marked lost again.
func (c *Conn) relostBytes() uint32 {
	if c.rack.relostN == 0 {
		return 0
	}
	var t uint32
	start := c.sndUna
	for i := range c.txlog.n {
		r := c.txlog.at(i)
		if r.relost && after(r.end, c.sndUna) {
			s := seqMax(start, c.sndUna)
			t += (r.end - s) - c.sacked.bytesIn(s, r.end)
		}
		start = r.end
	}
	return t
}

// recountRelost recomputes relostN after records left the log.
func (c *Conn) recountRelost() {
	if c.rack.relostN == 0 {
		return
	}
	n := 0
	for i := range c.txlog.n {
		if c.txlog.at(i).relost {
			n++
		}
	}
	c.rack.relostN = n
}

// clearRelost forgets every relost flag (recovery ended or everything is
// marked lost anyway).
func (c *Conn) clearRelost() {
	if c.rack.relostN == 0 {
		return
	}
	for i := range c.txlog.n {
		c.txlog.at(i).relost = false
	}
	c.rack.relostN = 0
}

// retransmitRelost resends the records RACK marked lost again, in sequence
// order, while cwnd allows. It returns false when cwnd stopped it.
func (c *Conn) retransmitRelost(now Time, e Emitter) bool {
	start := c.sndUna
	for i := 0; i < c.txlog.n && c.rack.relostN > 0; i++ {
		r := c.txlog.at(i)
		rs, re := seqMax(start, c.sndUna), r.end
		start = r.end
		if !r.relost {
			continue
		}
		if !before(rs, c.rtxNext) {
			// Marked lost wholesale since (RTO, PMTU): the main pass sends it.
			r.relost = false
			c.rack.relostN--
			continue
		}
		if c.packetsInFlight() >= c.snd.Cwnd {
			return false
		}
		if rs != c.sndUna && !before(rs, c.sndUna+c.sndWnd) {
			return false // beyond the peer's window
		}
		r.relost = false
		c.rack.relostN--
		dend := c.dataEnd()
		n := 0
		if before(rs, dend) {
			n = int(min(seqMin(re, dend)-rs, uint32(c.curMSS())))
		}
		flags := uint8(header.FlagACK)
		l := uint32(n)
		if c.finQueued && rs+l == dend && after(re, dend) {
			flags |= header.FlagFIN
			l++
		}
		if l == 0 {
			continue
		}
		if n > 0 && rs+uint32(n) == dend {
			flags |= header.FlagPSH
		}
		if c.caState == cc.Recovery {
			c.prrOut++
		}
		c.noteRetransmit(rs, rs+l, now)
		c.inc(metrics.TcpRetransSegs)
		c.totalRetrans++
		c.transmit(e, rs, flags, n, now)
		if c.rtoAt == 0 {
			c.armRTO(now)
		}
	}
	return true
}

// rackCumAck is tcp_clean_rtx_queue's RACK part for the records the ACK
// covers: each one not SACKed before advances RACK, and never-retransmitted
// data filling a hole below the previous highest SACK is reordering.
//
// tsecr is the ACK's echoed timestamp (0: none); a retransmitted segment
// whose ACK echoes a time before the retransmission was ACKed for its
// original, which says nothing about RACK's clock (tcp_skb_spurious_retrans).
func (c *Conn) rackCumAck(priorUna, ack, priorFack uint32, hadSACK bool, tsecr uint32, now Time) {
	reord := c.sndNxt
	start := priorUna
	for i := range c.txlog.n {
		r := c.txlog.at(i)
		rs, re := start, r.end
		start = re
		if after(re, ack) {
			break
		}
		if c.sacked.bytesIn(rs, re) == re-rs {
			continue
		}
		if r.rtx && tsecr != 0 && c.tsOK && int32(tsecr-c.tsNow(r.at)) < 0 {
			continue
		}
		c.rackAdvance(r.rtx, re, r.at, now)
		if !r.rtx && before(rs, reord) {
			reord = rs
		}
	}
	if hadSACK && before(reord, priorFack) {
		// tcp_highest_sack_seq after the ACK: snd_una once nothing stays SACKed.
		fack := ack
		if h, ok := c.sacked.highest(); ok && after(h, ack) {
			fack = h
		}
		c.checkSACKReordering(reord, fack)
	}
}

// rackOn is tcp_is_rack: RACK loss detection runs on SACK connections
// while tcp_recovery has its bit 1 set.
func (c *Conn) rackOn() bool { return c.sackOK && c.cfg.Recovery&RecoveryRACK != 0 }

// updateScoreboard is tcp_update_scoreboard for SACK without RACK (the
// RFC 6675 rule): segments with more than tp->reordering SACKed segments
// above them are lost; on entering recovery at least the head is.
func (c *Conn) updateScoreboard(fastRexmit bool) {
	upto := int(c.sackedOut()) - int(c.reordering())
	switch {
	case upto >= 0:
		c.markHeadLost(upto, false)
	case fastRexmit:
		c.markHeadLost(1, true)
	}
}

// markHeadLost is tcp_mark_head_lost: walk from the head up to high_seq,
// counting SACKed segments, and mark the others lost until more than
// packets SACKed ones were passed (only the head with head).
func (c *Conn) markHeadLost(packets int, head bool) {
	cnt := 0
	start := c.sndUna
	for i := range c.txlog.n {
		r := c.txlog.at(i)
		s := start
		start = r.end
		if !after(r.end, s) {
			continue
		}
		if after(r.end, c.highSeq) {
			return
		}
		sacked := c.sacked.bytesIn(s, r.end) == r.end-s
		if sacked {
			cnt++
		}
		if cnt > packets {
			return
		}
		if !sacked && after(r.end, c.lostHigh) {
			c.lostHigh = r.end
			c.rack.lost++
		}
		if head {
			return
		}
	}
}
