package tcp

import (
	"math/bits"
	"syscall"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// ActiveOpts are the per-connect choices of the stack.
type ActiveOpts struct {
	// ISN replaces the secure ISN when HasISN (TW-REUSE-9: old snd_nxt + 65537).
	ISN    uint32
	HasISN bool
	// InheritTS carries ts_recent/ts_recent_stamp from a reused TIME-WAIT
	// record (TW-REUSE-9, PAWS-11).
	InheritTS     bool
	TSRecent      uint32
	TSRecentStamp int64
	// MSS is TCP_MAXSEG set before connect (0 = none).
	MSS int
	// RecvBuffer / SendBuffer are SO_RCVBUF / SO_SNDBUF set before connect
	// (the value the user passed; 0 = sysctl default).
	RecvBuffer, SendBuffer int
	NoDelay                bool
}

// newConn allocates a connection (its only allocation until data flows:
// the rings, the transmit log beyond its inline records and the SACK and
// out-of-order range arrays are allocated when first needed).
func newConn(cfg *Config, m *metrics.Counters, t Tuple) *Conn {
	c := &Conn{cfg: cfg, m: m, tuple: t}
	c.rto = cfg.RTOInit
	c.mdevUs = int64(cfg.RTOInit / time.Microsecond) // tcp_init_sock: tcpi_rttvar reads 250 ms before a sample
	switch cfg.CongestionControl {
	case "", "cubic":
		// The default lives inside the Conn: one allocation fewer per connection.
		_ = c.cubic.Setup(cc.DefaultCubicConfig())
		c.ca = &c.cubic
	default:
		c.ca, _ = cc.New(cfg.CongestionControl)
		if c.ca == nil {
			_ = c.cubic.Setup(cc.DefaultCubicConfig())
			c.ca = &c.cubic
		}
	}
	c.hystart, _ = c.ca.(cc.HyStartReporter)
	c.snd = cc.Sender{Cwnd: cfg.InitCwnd, SSThresh: cc.InfiniteSSThresh, CwndClamp: ^uint32(0)}
	return c
}

// allocBuffers sizes the rings from SO_RCVBUF/SO_SNDBUF or tcp_rmem/tcp_wmem.
func (c *Conn) allocBuffers() {
	rcvbuf := c.cfg.RMem[1]
	if c.rcvBufSet > 0 {
		rcvbuf = max(c.rcvBufSet, 2304)
	}
	// tcp_win_from_space with the default scaling ratio: half of the buffer
	// is payload, the rest is the kernel's per-skb overhead.
	c.rbuf = newRing(rcvbuf / 2)
	snd := max(c.cfg.WMem[1]*4, 64<<10)
	if c.sndBufSet > 0 {
		snd = max(c.sndBufSet/2, 4608)
	}
	c.sbuf = newRing(snd)
}

// initialWindow is tcp_select_initial_window: the SYN's window (at most
// 65535, rounded to the MSS) and our window scale, chosen for tcp_rmem[2].
func (c *Conn) initialWindow() {
	space := c.fullSpace()
	mss := c.advMSS
	// The passive side knows the peer offered timestamps; tcp_connect_init
	// only deducts them for an inherited ts_recent (TIME-WAIT reuse), so a
	// plain active SYN offers 64240 where a SYN-ACK offers 65160.
	if c.tsOK && (c.passive || c.tsStamp != 0) {
		mss -= 12
	}
	clamp := uint32(65535) << maxWScale
	if space > mss {
		space = space / mss * mss
	}
	c.rcvWnd = uint32(min(space, 65535))
	c.rcvWScale = 0
	if c.wscaleOK {
		s := max(space, c.cfg.RMem[2], 212992 /* net.core.rmem_max */)
		if c.rcvBufSet > 0 {
			s = space // SO_RCVBUF locks the buffer: scale for what it holds
		}
		ws := bits.Len(uint(s)) - 1 - 15
		c.rcvWScale = uint8(min(max(ws, 0), maxWScale))
	}
	c.winClamp = min(clamp, uint32(65535)<<c.rcvWScale)
	c.rcvSSThr = c.rcvWnd
	// tcp_initialize_rcv_mss
	hint := min(c.advMSS, c.mssClampOr(c.advMSS), int(c.rcvWnd)/2, defaultMSS)
	c.rcvMSS = max(hint, minMSS)
}

func (c *Conn) mssClampOr(d int) int {
	if c.mssClamp > 0 {
		return c.mssClamp
	}
	return d
}

// NewActive starts an active open (tcp_v4_connect + tcp_connect): it sends
// the SYN and returns the connection in SYN_SENT.
func NewActive(cfg *Config, m *metrics.Counters, t Tuple, opts ActiveOpts, now Time, e Emitter) *Conn {
	c := newConn(cfg, m, t)
	c.userMSS = opts.MSS
	if opts.RecvBuffer > 0 {
		c.rcvBufSet = max(2*opts.RecvBuffer, 2304)
	}
	if opts.SendBuffer > 0 {
		c.sndBufSet = 2 * opts.SendBuffer
	}
	c.noDelay = opts.NoDelay
	c.allocBuffers()
	c.iss = opts.ISN
	if !opts.HasISN {
		c.iss = ISN(cfg, t, now)
	}
	c.tsOffset = TSOffset(cfg, t)
	if opts.InheritTS {
		c.inheritTS = true
		c.tsRecent, c.tsStamp = opts.TSRecent, opts.TSRecentStamp
	}
	c.tsOK = cfg.Timestamps != 0
	c.sackOK = cfg.SACK
	c.wscaleOK = cfg.WindowScaling
	c.advMSS = cfg.advMSS()
	if c.userMSS > 0 {
		c.advMSS = min(c.advMSS, c.userMSS)
	}
	c.initialWindow()
	c.state = StateSynSent
	c.sndUna, c.sndNxt, c.sndMax, c.writeSeq = c.iss, c.iss, c.iss, c.iss+1
	c.sndSml, c.pushSeq = c.iss, c.iss
	c.synPending = true
	c.inc(metrics.TcpActiveOpens)
	c.synSentAt, c.retransTS = now, now
	c.sendSYN(now, e)
	return c
}

// sendSYN (re)transmits our SYN or SYN-ACK at iss.
func (c *Conn) sendSYN(now Time, e Emitter) {
	flags := uint8(header.FlagSYN)
	if c.state == StateSynRecv {
		flags |= header.FlagACK
	}
	c.sndNxt = c.iss + 1
	c.sndMax = c.sndNxt
	c.transmit(e, c.iss, flags, 0, now)
	c.rtoAt = now.add(c.rto)
	c.probeMode = false
}

// NewPassive creates the connection for an accepted SYN (the listener's
// request socket and child in one): it sends the SYN-ACK and returns the
// connection in SYN_RECV. isn 0 means the secure ISN.
func NewPassive(cfg *Config, m *metrics.Counters, t Tuple, syn *Segment, isn uint32, now Time, e Emitter) *Conn {
	return NewPassiveOpts(cfg, m, t, syn, isn, PassiveOpts{}, now, e)
}

// PassiveOpts are the listener's socket options a child inherits before
// its SYN-ACK goes out.
type PassiveOpts struct {
	MSS                    int // TCP_MAXSEG on the listener (0 = none)
	RecvBuffer, SendBuffer int // SO_RCVBUF / SO_SNDBUF as the user set them (0 = default)
	NoDelay                bool
	KeepAlive              bool
}

// NewPassiveOpts is NewPassive with the listener's inherited options.
func NewPassiveOpts(cfg *Config, m *metrics.Counters, t Tuple, syn *Segment, isn uint32, opts PassiveOpts, now Time, e Emitter) *Conn {
	c := newConn(cfg, m, t)
	c.userMSS = opts.MSS
	if opts.RecvBuffer > 0 {
		c.rcvBufSet = max(2*opts.RecvBuffer, 2304)
	}
	if opts.SendBuffer > 0 {
		c.sndBufSet = 2 * opts.SendBuffer
	}
	c.noDelay, c.keepalive = opts.NoDelay, opts.KeepAlive
	c.allocBuffers()
	c.iss = isn
	if isn == 0 {
		c.iss = ISN(cfg, t, now)
	}
	c.tsOffset = TSOffset(cfg, t)
	c.passive = true
	c.negotiate(syn, now)
	c.advMSS = cfg.advMSS()
	if c.userMSS > 0 {
		c.advMSS = min(c.advMSS, c.userMSS)
	}
	c.initialWindow()
	c.irs = syn.Seq
	c.rcvNxt, c.rcvWup, c.copiedSeq = syn.Seq+1, syn.Seq+1, syn.Seq+1
	c.sndWnd = uint32(syn.Window)
	c.maxWindow = c.sndWnd
	c.sndWl1 = syn.Seq
	c.state = StateSynRecv
	c.passive = true
	c.synPending = true
	c.sndUna, c.writeSeq = c.iss, c.iss+1
	c.sndSml, c.pushSeq = c.iss, c.iss
	c.inc(metrics.TcpPassiveOpens)
	c.retransTS, c.synSentAt = now, now
	c.sendSYN(now, e)
	return c
}

// negotiate applies the peer's SYN options (both directions must agree).
func (c *Conn) negotiate(syn *Segment, now Time) {
	o := &syn.Opts
	c.tsOK = o.HasTS && c.cfg.Timestamps != 0
	c.sackOK = o.SACKPermitted && c.cfg.SACK
	c.wscaleOK = o.HasWScale && c.cfg.WindowScaling
	if c.wscaleOK {
		c.sndWScale = min(o.WScale, maxWScale)
	} else {
		c.sndWScale = 0
	}
	c.mssClamp = defaultMSS
	if o.HasMSS {
		c.mssClamp = int(o.MSS)
	}
	if c.tsOK {
		c.tsRecent, c.tsStamp = o.TSVal, seconds(now)
	} else {
		c.tsRecent, c.tsStamp = 0, 0
	}
}

// syncMSS is tcp_sync_mss: the MSS we send with.
func (c *Conn) syncMSS() {
	m := min(c.mssClampOr(defaultMSS), c.cfg.advMSS())
	if c.pmtu != 0 {
		m = min(m, c.pmtu-40)
	}
	if c.userMSS > 0 {
		m = min(m, c.userMSS)
	}
	if c.tsOK {
		m -= 12
	}
	// tcp_bound_to_half_wnd
	cut := c.maxWindow
	if cut > defaultMSS {
		cut >>= 1
	}
	if cut > 0 && m > int(cut) {
		m = max(int(cut), 68-20)
	}
	c.mssCache = max(m, 48) // tcp_min_snd_mss
	c.snd.MSS = uint32(c.mssCache)
}

// synSentInput is tcp_rcv_synsent_state_process.
func (c *Conn) synSentInput(seg *Segment, now Time, e Emitter) {
	f := seg.Flags
	if f&header.FlagACK != 0 {
		if !after(seg.Ack, c.sndUna) || after(seg.Ack, c.sndNxt) {
			c.replyReset(seg, e) // unacceptable ACK: RST with SEQ = SEG.ACK
			return
		}
		if seg.Opts.HasTS && seg.Opts.TSEcr != 0 && c.cfg.Timestamps != 0 {
			ecr := seg.Opts.TSEcr - c.tsOff()
			if int32(ecr-uint32(int64(c.synSentAt)/1e6)) < 0 || int32(ecr-uint32(int64(now)/1e6)) > 0 {
				c.inc(metrics.TcpExtPAWSActive) // PAWS-10
				c.replyReset(seg, e)
				return
			}
		}
		if f&header.FlagRST != 0 {
			c.fail(syscall.ECONNREFUSED)
			return
		}
		if f&header.FlagSYN == 0 {
			return
		}
		c.negotiate(seg, now)
		if !c.tsOK {
			c.tsRecent, c.tsStamp = 0, 0
		}
		if !c.wscaleOK {
			c.rcvWScale = 0
			c.winClamp = min(c.winClamp, 65535)
		}
		c.irs = seg.Seq
		c.rcvNxt, c.rcvWup, c.copiedSeq = seg.Seq+1, seg.Seq+1, seg.Seq+1
		c.sndWnd = uint32(seg.Window) // never scaled on a SYN
		c.maxWindow = c.sndWnd
		c.sndWl1 = seg.Seq
		c.synAcked(seg, now)
		c.establish(now)
		c.sendAck(now, e)
		c.pushPending(now, e, false)
		return
	}
	if f&header.FlagRST != 0 {
		return // PAWS-11: a RST without ACK is dropped in SYN_SENT
	}
	if f&header.FlagSYN != 0 {
		// Simultaneous open.
		if c.inheritTS && c.tsStamp != 0 && seg.Opts.HasTS && c.pawsReject(seg.Opts.TSVal, 0, false, now) {
			return // PAWS-11
		}
		c.negotiate(seg, now)
		if !c.wscaleOK {
			c.rcvWScale = 0
			c.winClamp = min(c.winClamp, 65535)
		}
		c.irs = seg.Seq
		c.rcvNxt, c.rcvWup, c.copiedSeq = seg.Seq+1, seg.Seq+1, seg.Seq+1
		c.sndWnd = uint32(seg.Window)
		c.maxWindow = c.sndWnd
		c.sndWl1 = seg.Seq
		c.state = StateSynRecv
		c.syncMSS()
		c.transmit(e, c.iss, header.FlagSYN|header.FlagACK, 0, now)
	}
}

// synAcked accounts the ACK of our SYN: snd_una moves, RTT is sampled.
func (c *Conn) synAcked(seg *Segment, now Time) {
	c.sndUna = seg.Ack
	c.synPending = false
	c.lastRcv = now
	c.syncMSS()
	// tcp_clean_rtx_queue: a SYN sent once is timed in microseconds from
	// its transmission; a retransmitted one (Karn) only by the TS echo.
	if c.retrans == 0 {
		c.rttSample(time.Duration(now - c.retransTS))
	} else {
		c.tsRTTSample(seg, now)
	}
}

// establish is tcp_finish_connect / tcp_init_transfer.
func (c *Conn) establish(now Time) {
	c.setState(StateEstablished)
	c.snd.Delivered++ // the SYN or SYN-ACK was delivered (tcp_clean_rtx_queue / SYN_RECV's tp->delivered++)
	c.initTransfer(now)
	c.events |= EventEstablished | EventWritable
}

// initTransfer is tcp_init_transfer: buffers, RTO fallback, initial cwnd
// and the congestion control's init. It also runs for a connection closed
// before its handshake completed, when the SYN is finally acknowledged.
func (c *Conn) initTransfer(now Time) {
	// tcp_init_buffer_space: the clamp starts at what the buffer holds and
	// grows with receive-buffer autotuning.
	c.winClamp = min(c.winClamp, uint32(c.fullSpace()))
	c.rcvSSThr = min(c.rcvSSThr, c.winClamp)
	c.initRcvSpace(now)
	c.rtoAt, c.probeMode = 0, false
	if c.srttUs == 0 && c.retrans > 0 {
		c.rto = 3 * time.Second // TCP_TIMEOUT_FALLBACK after a retransmitted SYN
	}
	if c.retrans > 1 {
		c.snd.Cwnd = 1
	} else {
		c.snd.Cwnd = c.cfg.InitCwnd
	}
	c.retrans, c.backoff, c.retransTS = 0, 0, 0
	c.snd.SndUna, c.snd.SndNxt = c.sndUna, c.sndNxt
	c.ca.Init(&c.snd, int64(now))
	c.lastSend = now
	c.sndbufExpand() // tcp_init_buffer_space
	c.estabAt = now
	if c.keepalive {
		c.keepAt = now.add(c.keepIdleTime())
	}
}
