package tcp

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// Undo of spurious cwnd reductions (tcp_input.c: tcp_init_undo,
// tcp_may_undo, tcp_try_undo_recovery/_dsack/_loss/_partial): a reduction
// is taken back when every retransmission of the episode turned out
// unnecessary (each was reported by a DSACK) or when a timestamp echo shows
// an ACK was triggered by an original transmission sent before the first
// retransmission (tcp_packet_delayed).

// undoState is the tcp_sock undo bookkeeping.
type undoState struct {
	marker   uint32 // undo_marker: snd_una when the episode began
	valid    bool   // undo_marker != 0
	retrans  int    // undo_retrans: retransmissions not yet DSACKed (-1: none)
	priorSSt uint32 // prior_ssthresh
	firstRtx Time   // time of the episode's first retransmission (Linux's retrans_stamp)
}

// initUndo is tcp_init_undo.
func (c *Conn) initUndo() {
	c.undo.marker, c.undo.valid = c.sndUna, true
	c.undo.retrans = -1
	if after(c.rtxNext, c.sndUna) && after(c.lostHigh, c.sndUna) {
		c.undo.retrans = 0
	}
}

// undoNoteRetransmit counts a retransmission against undo_retrans.
func (c *Conn) undoNoteRetransmit(now Time) {
	if c.undo.firstRtx == 0 {
		c.undo.firstRtx = now
	}
	if c.undo.valid {
		c.undo.retrans = max(c.undo.retrans, 0) + 1
	}
}

// packetDelayed is tcp_packet_delayed: the ACK echoes a TSval sent before
// the first retransmission, so an original segment got through.
func (c *Conn) packetDelayed(seg *Segment) bool {
	if c.undo.firstRtx == 0 || !c.tsOK || !seg.Opts.HasTS || seg.Opts.TSEcr == 0 {
		return false
	}
	first := c.tsNow(c.undo.firstRtx)
	return int32(seg.Opts.TSEcr-first) < 0
}

// mayUndo is tcp_may_undo.
func (c *Conn) mayUndo(seg *Segment) bool {
	return c.undo.valid && (c.undo.retrans == 0 || c.packetDelayed(seg))
}

// undoCwndReduction is tcp_undo_cwnd_reduction.
func (c *Conn) undoCwndReduction(unmarkLoss bool) {
	if unmarkLoss {
		c.lostHigh, c.rtxNext = c.sndUna, c.sndUna
		c.clearRelost()
	}
	if c.undo.priorSSt != 0 {
		c.snd.Cwnd = c.ca.UndoCwnd(&c.snd)
		if c.undo.priorSSt > c.snd.SSThresh {
			c.snd.SSThresh = c.undo.priorSSt
		}
	}
	c.undo.valid = false
}

// checkDSACK is tcp_check_dsack with tcp_dsack_seen. A first block below
// the ACK, or inside the second block, is a DSACK. One wider than the
// largest window, or reporting more duplicates than were ever
// retransmitted, is ignored as dubious. Otherwise it counts against
// undo_retrans (the undo part: one retransmission was unnecessary) and,
// once reordering was seen and unless it only reports the loss probe,
// asks RACK to widen its reordering window. It reports the DSACK
// (FLAG_DSACKING_ACK) and whether it covers exactly the probe
// (FLAG_DSACK_TLP).
func (c *Conn) checkDSACK(o *header.Options, ack uint32) (dsack, tlp bool) {
	if o.NumSACK == 0 {
		return false, false
	}
	s, e := o.SACK[0].Start, o.SACK[0].End
	dsack = before(s, ack) || (o.NumSACK > 1 && !before(s, o.SACK[1].Start) && !after(e, o.SACK[1].End))
	if !dsack || !after(e, s) {
		return false, false
	}
	c.inc(metrics.TcpExtTCPDSACKRecv)
	mss := uint32(max(c.mssCache, 1))
	seqLen := e - s
	if seqLen > c.maxWindow {
		return false, false
	}
	dupSegs := uint32(1)
	if seqLen > mss {
		dupSegs = (seqLen + mss - 1) / mss
	} else if c.tlpActive && c.tlpHigh == e {
		tlp = true
	}
	c.dsackDups += dupSegs
	if uint64(c.dsackDups) > c.totalRetrans {
		return false, false // duplicates we never sent twice
	}
	if c.rack.reordSeen > 0 && !tlp {
		c.rack.dsackSeen = true
	}
	if c.undo.valid && c.undo.retrans > 0 && !before(s, c.undo.marker) {
		c.undo.retrans = max(c.undo.retrans-int(dupSegs), 0)
	}
	return true, tlp
}

// tryUndoRecovery is tcp_try_undo_recovery, run when Recovery or Loss ends.
func (c *Conn) tryUndoRecovery(seg *Segment) {
	if !c.mayUndo(seg) {
		if c.rack.reoPersist > 0 {
			c.rack.reoPersist--
		}
		return
	}
	if c.caState == cc.Loss {
		c.inc(metrics.TcpExtTCPLossUndo)
	} else {
		c.inc(metrics.TcpExtTCPFullUndo)
	}
	c.undoCwndReduction(false)
}

// tryUndoDSACK is tcp_try_undo_dsack: in Recovery, every retransmission
// was DSACKed.
func (c *Conn) tryUndoDSACK() bool {
	if c.undo.valid && c.undo.retrans == 0 {
		c.rack.reoPersist = min(c.rack.reoPersist+1, rackRecoveryThresh)
		c.undoCwndReduction(false)
		c.inc(metrics.TcpExtTCPDSACKUndo)
		return true
	}
	return false
}

// tryUndoLoss is tcp_try_undo_loss: after an RTO, an ACK that proves the
// timeout spurious restores cwnd and leaves Loss.
func (c *Conn) tryUndoLoss(seg *Segment, now Time) bool {
	if !c.mayUndo(seg) {
		return false
	}
	c.undoCwndReduction(true)
	c.inc(metrics.TcpExtTCPLossUndo)
	c.retrans = 0
	if c.sackOK {
		c.setCAState(cc.Open, now)
	}
	return true
}

// F-RTO (RFC 5682, SACK-enhanced, tcp_frto = 2) as tcp_process_loss runs
// it: after an RTO the first ACK that advances snd_una sends new data
// instead of more retransmissions; if the following ACKs then cover data
// that was never retransmitted, the timeout was spurious and is undone.

// frtoLoss handles an ACK in the Loss state. It returns true when the
// state machine is done with this ACK.
func (c *Conn) frtoLoss(advanced, dup bool, newlySacked uint32, recovered bool, now Time) bool {
	if !c.frto {
		return false
	}
	if c.txlog.origAcked || (newlySacked > 0 && c.origSacked) {
		// Step 3.b: never-retransmitted data was (S)ACKed: spurious.
		c.undoCwndReduction(true)
		c.inc(metrics.TcpExtTCPSpuriousRTOs)
		c.retrans = 0
		c.frto = false
		c.setCAState(cc.Open, now)
		c.highSeq = c.sndNxt
		return true
	}
	if after(c.sndNxt, c.highSeq) {
		if newlySacked > 0 || dup {
			c.frto = false // step 3.a: the loss was real
		}
	} else if advanced && !recovered {
		c.highSeq = c.sndNxt
		// Step 2.b: send new data if there is any and the window allows.
		if c.sndNxt != c.writeSeq && after(c.sndUna+c.sndWnd, c.sndNxt) {
			c.rexmitNew = true
			return true
		}
		c.frto = false
	}
	return false
}
