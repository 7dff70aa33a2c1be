package tcp

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// A passive connection in SYN_RECV stands for Linux's request socket: its
// segments go through tcp_check_req, not tcp_validate_incoming, so PAWS,
// the TSecr check, the window test and the rate-limited replies follow the
// request-socket rules (PAWS-12, MIB-4, MIB-6, MIB-15) before the general
// input path sees the segment.

// synRecvInput runs the checks of tcp_check_req on a connection still in
// SYN_RECV. It returns true when the segment was consumed here.
func (c *Conn) synRecvInput(seg *Segment, now Time, e Emitter) bool {
	f := seg.Flags
	badAck := f&header.FlagACK != 0 && (!after(seg.Ack, c.sndUna) || after(seg.Ack, c.sndNxt))
	if !c.passive {
		// Simultaneous open: a full socket (tcp_rcv_state_process).
		if badAck && f&header.FlagRST == 0 {
			c.replyReset(seg, e)
			return true
		}
		return false
	}
	pawsReject := c.reqPawsReject(seg, now)
	if seg.Seq == c.irs && f&(header.FlagSYN|header.FlagACK|header.FlagRST) == header.FlagSYN && !pawsReject {
		// A retransmitted SYN gets the SYN-ACK again (inet_rtx_syn_ack),
		// at most once per tcp_invalid_ratelimit, and the SYN-ACK timer
		// restarts from now with the current backoff.
		if !c.oowRateLimited(now, metrics.TcpExtTCPACKSkippedSynRecv) {
			c.inc(metrics.TcpExtTCPSynRetrans)
			c.inc(metrics.TcpRetransSegs)
			c.totalRetrans++
			c.transmit(e, c.iss, header.FlagSYN|header.FlagACK, 0, now)
			if c.rtoAt != 0 {
				c.rtoAt = now.add(c.rto) // rto is RTOInit << num_timeout, capped
			}
		}
		return true
	}
	if badAck {
		// The listener answers an unacceptable ACK with a RST (never a RST
		// to a RST); the request is left alone.
		if f&header.FlagRST == 0 {
			c.replyReset(seg, e)
		}
		return true
	}
	tsecrReject := c.tsOK && seg.Opts.HasTS && seg.Opts.TSEcr != 0 &&
		!between(seg.Opts.TSEcr, c.synTSFirst, c.synTSLast)
	if pawsReject || tsecrReject || !c.reqInWindow(seg) {
		// Out of window, old TSval or a TSecr no SYN-ACK of ours carried:
		// ACK (rate limited, never for a RST) and drop; the request stays.
		if f&header.FlagRST == 0 && !c.reqOOWRateLimited(seg, now) {
			c.sendAck(now, e)
		}
		if pawsReject {
			c.inc(metrics.TcpExtPAWSEstab)
		} else if tsecrReject {
			c.inc(metrics.TcpExtTSEcrRejected)
		}
		return true
	}
	// In sequence and PAWS passed: the request remembers the TSval.
	if c.tsOK && seg.Opts.HasTS && !after(seg.Seq, c.rcvNxt) {
		c.tsRecent, c.tsStamp = seg.Opts.TSVal, seconds(now)
	}
	return false
}

// noteSynAckTS records the TSval of a SYN-ACK about to be sent
// (tcp_synack_options): the first one is never 0, so that 0 can mean
// "none sent yet".
func (c *Conn) noteSynAckTS(o *header.Options) {
	if c.synTSFirst == 0 {
		if o.TSVal == 0 {
			o.TSVal = ^uint32(0)
		}
		c.synTSFirst = o.TSVal
	}
	c.synTSLast = o.TSVal
}

// reqPawsReject is tcp_paws_reject as tcp_check_req applies it: no
// tolerance window, and ts_recent_stamp synthesized as now minus the
// current SYN-ACK timeout, so a RST passes only once that timeout reached
// TCP_PAWS_MSL.
func (c *Conn) reqPawsReject(seg *Segment, now Time) bool {
	if !seg.Opts.HasTS || c.cfg.Timestamps == 0 || c.tsRecent == 0 {
		return false
	}
	if int32(c.tsRecent-seg.Opts.TSVal) <= 0 {
		return false
	}
	if seg.Flags&header.FlagRST != 0 && int64(c.rto.Seconds()) >= pawsMSLSeconds {
		return false
	}
	return true
}

// reqInWindow is tcp_in_window over [rcv_nxt, rcv_nxt + the SYN-ACK's
// window].
func (c *Conn) reqInWindow(seg *Segment) bool {
	s := c.rcvNxt
	w := s + c.reqWindow()
	seq, end := seg.Seq, seg.Seq+seg.SegLen()
	if seq == s {
		return true
	}
	if after(end, s) && before(seq, w) {
		return true
	}
	return seq == w && seq == end
}

// reqWindow is tcp_synack_window: the window the SYN-ACK offered, in bytes.
func (c *Conn) reqWindow() uint32 { return min(c.rcvWnd, 65535) }

// reqOOWRateLimited is tcp_oow_rate_limited for a request: data without
// SYN is not part of an ACK loop and always gets its ACK.
func (c *Conn) reqOOWRateLimited(seg *Segment, now Time) bool {
	if seg.SegLen() != 0 && seg.Flags&header.FlagSYN == 0 {
		return false
	}
	return c.oowRateLimited(now, metrics.TcpExtTCPACKSkippedSynRecv)
}

// between reports whether a lies in [lo, hi] in 32-bit modular order.
func between(a, lo, hi uint32) bool { return hi-lo >= a-lo }
