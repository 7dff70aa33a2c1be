package tcp

import "time"

// Receive-buffer autotuning (dynamic right-sizing, tcp_rcv_space_adjust):
// once per receiver-side RTT, if the application consumed more than the
// current estimate, the receive buffer (and with it window_clamp) grows to
// twice what was read plus headroom for sender growth, up to tcp_rmem[2].
// The ring is reallocated then, which happens a handful of times per
// connection at most.

// rcvSpace is tp->rcvq_space plus tp->rcv_rtt_est.
type rcvSpace struct {
	space  uint32
	seq    uint32
	time   Time
	rttUs  int64 // rcv_rtt_est.rtt_us << 3
	rttSeq uint32
	rttAt  Time
}

// initRcvSpace is the tail of tcp_init_buffer_space.
func (c *Conn) initRcvSpace(now Time) {
	c.rs.space = min(c.rcvSSThr, c.rcvWnd, c.cfg.InitCwnd*uint32(c.advMSS))
	c.rs.seq = c.copiedSeq
	c.rs.time = now
}

// rcvRTTUpdate is tcp_rcv_rtt_update: an EWMA for timestamp samples, a
// running minimum for the once-per-window samples.
func (c *Conn) rcvRTTUpdate(sampleUs int64, winDep bool) {
	m := sampleUs
	if c.rs.rttUs != 0 {
		if !winDep {
			m -= c.rs.rttUs >> 3
			c.rs.rttUs += m
		} else if m < c.rs.rttUs>>3 {
			c.rs.rttUs = m << 3
		}
	} else {
		c.rs.rttUs = max(m, 1) << 3
	}
}

// rcvRTTMeasure samples the receiver RTT: from the echoed timestamp of an
// in-order data segment (tcp_rcv_rtt_measure_ts) or once per window.
func (c *Conn) rcvRTTMeasure(seg *Segment, now Time) {
	if c.tsOK && seg.Opts.HasTS && seg.Opts.TSEcr != 0 {
		d := int64(int32(c.tsNow(now)-seg.Opts.TSEcr)) * 1000
		if d >= 0 && len(seg.Payload) >= c.rcvMSS {
			c.rcvRTTUpdate(max(d, 1), false)
		}
		return
	}
	if c.rs.rttAt == 0 {
		c.rs.rttSeq, c.rs.rttAt = c.rcvNxt+c.rcvWnd, now
		return
	}
	if before(c.rcvNxt, c.rs.rttSeq) {
		return
	}
	c.rcvRTTUpdate(int64(time.Duration(now-c.rs.rttAt)/time.Microsecond), true)
	c.rs.rttSeq, c.rs.rttAt = c.rcvNxt+c.rcvWnd, now
}

// rcvSpaceAdjust is tcp_rcv_space_adjust, called after the application
// read data.
func (c *Conn) rcvSpaceAdjust(now Time) {
	rtt := Time(time.Duration(c.rs.rttUs>>3) * time.Microsecond)
	if c.rs.rttUs == 0 || now-c.rs.time < rtt {
		return
	}
	copied := c.copiedSeq - c.rs.seq
	if copied > c.rs.space && c.rcvBufSet == 0 && c.rs.space > 0 {
		rcvwin := uint64(copied)<<1 + 16*uint64(c.advMSS)
		grow := rcvwin * uint64(copied-c.rs.space) / uint64(c.rs.space)
		rcvwin += grow << 1
		want := min(int(rcvwin), c.cfg.RMem[2]/2)
		if want > c.rbuf.cap() {
			c.rbuf.grow(want)
			c.winClamp = uint32(want)
		}
		c.rs.space = copied
	} else if copied > c.rs.space {
		c.rs.space = copied
	}
	c.rs.seq = c.copiedSeq
	c.rs.time = now
}
