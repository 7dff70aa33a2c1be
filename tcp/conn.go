package tcp

import (
	"syscall"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
)

// Conn is one TCP connection (struct tcp_sock). It does no I/O of its own,
// reads no clock and holds no lock: the stack serializes the calls, passes
// the time and an Emitter, and collects Events afterwards.
type Conn struct {
	cfg        *Config
	m          *metrics.Counters
	tuple      Tuple
	state      State
	twSubstate State
	err        syscall.Errno
	// softErr is sk_err_soft: an ICMP error reported only if the
	// connection later times out (tcp_write_err).
	softErr syscall.Errno
	pmtu    int // path MTU learned from ICMP (0 = the link MTU)

	events Event

	// Flags of the socket's life.
	orphan    bool // closed by the application (SOCK_DEAD)
	rdShut    bool // RCV_SHUTDOWN
	wrShut    bool // SEND_SHUTDOWN (FIN queued or connection gone)
	finQueued bool // our FIN occupies sequence writeSeq-1
	finRcvd   bool // the peer's FIN was consumed (rcvNxt counts it)
	wantTW    bool // EventTimeWait raised, TimeWaitInfo valid
	twTimeout time.Duration
	twInfo    TimeWaitInfo

	// Send sequence space (RFC 9293 names, Linux meanings).
	iss       uint32
	sndUna    uint32
	sndNxt    uint32
	sndMax    uint32 // highest sequence ever sent (snd_nxt before an RTO rewind)
	writeSeq  uint32 // end of queued data (+1 with a queued FIN)
	sndWnd    uint32 // peer's window in bytes (already scaled)
	sndWl1    uint32
	maxWindow uint32
	sndSml    uint32 // end of the last small segment sent (Minshall's Nagle)
	pushSeq   uint32 // end of the most recent write (PSH goes there)
	mssCache  int    // effective send MSS (peer's MSS minus options we always send)
	advMSS    int    // our MSS announcement
	mssClamp  int    // peer's MSS option (or 536)
	userMSS   int    // TCP_MAXSEG
	sbuf      ring

	// Receive sequence space.
	irs       uint32
	rcvNxt    uint32
	rcvWnd    uint32 // last window we advertised, in bytes
	rcvWup    uint32 // rcvNxt at that announcement
	copiedSeq uint32
	rcvWScale uint8
	sndWScale uint8
	rcvSSThr  uint32 // rcv_ssthresh
	winClamp  uint32 // window_clamp
	rcvMSS    int    // icsk_ack.rcv_mss estimate of the peer's segment size
	rbuf      ring
	rs        rcvSpace
	ooo       oooQueue
	finSeq    uint32 // sequence of an out-of-order FIN
	oooFin    bool
	dsack     bool
	dsackBlk  sackBlock

	// Options negotiated.
	tsOK     bool
	sackOK   bool
	wscaleOK bool
	tsOffset uint32
	tsRecent uint32
	tsStamp  int64 // ts_recent_stamp in seconds, 0 = none
	// synTSFirst/synTSLast are the TSvals of our first and latest SYN-ACK
	// (snt_tsval_first/last): a passive SYN_RECV accepts only a TSecr in
	// between (PAWS-12). synTSFirst 0 means no SYN-ACK carried a TS yet.
	synTSFirst uint32
	synTSLast  uint32

	// RTT and timers.
	srttUs     int64 // srtt << 3, microseconds
	mdevUs     int64 // mdev << 2
	mdevMaxUs  int64
	rttvarUs   int64
	rttSeq     uint32
	rto        time.Duration
	backoff    int
	retrans    int  // icsk_retransmits
	retransTS  Time // retrans_stamp: first transmission of the oldest unacked retransmitted data (0 none)
	rtoAt      Time // retransmit / SYN retransmit / zero-window probe
	probeMode  bool // rtoAt is the persist (probe0) timer
	tlpMode    bool // rtoAt is the tail loss probe timer
	tlpHigh    uint32
	tlpActive  bool   // a probe is outstanding (tlp_high_seq != 0)
	tlpRetrans bool   // the probe was a retransmission
	lastSegSeq uint32 // the most recent new segment, for the probe
	lastSegLen uint32
	probesOut  int
	delackAt   Time
	keepAt     Time // keepalive / FIN_WAIT2 timer
	twAt       Time // TIME_WAIT fallback expiry
	lastRcv    Time // rcv_tstamp: last ACK received
	lastSend   Time // lsndtime
	lastOOWAck Time // tcp_oow_rate_limited stamp (0 never)
	txlog      txLog
	synPending bool // our SYN is not acknowledged yet

	// Delayed ACK engine (icsk_ack).
	ackPending bool
	ackNow     bool
	ackPushed  bool // ICSK_ACK_PUSHED
	ackPushed2 bool // ICSK_ACK_PUSHED2
	segFlags   uint8

	compAcks      int    // compressed_ack
	compAckAt     Time   // compressed-ACK timer
	compAckRcvNxt uint32 // compressed_ack_rcv_nxt
	dupAckCounter int
	lastSegSize   int
	quick         int
	pingpong      int
	ato           time.Duration
	lrcvTime      Time

	// Congestion control.
	ca         cc.Algorithm
	cubic      cc.Cubic           // ca's state when it is CUBIC (the default), in place
	hystart    cc.HyStartReporter // ca, when it reports HyStart exits
	snd        cc.Sender
	caState    cc.CAState
	highSeq    uint32 // recovery point
	lostHigh   uint32 // bytes in [sndUna, lostHigh) not SACKed are lost
	rtxNext    uint32 // next lost byte to retransmit
	dupAcks    int
	priorCwnd  uint32
	prrDeliv   uint32
	prrOut     uint32
	sacked     scoreboard
	undo       undoState
	frto       bool // F-RTO in progress after an RTO
	rexmitNew  bool // F-RTO step 2.b: this ACK sends new data, not retransmissions
	origSacked bool // the last SACK covered never-retransmitted data

	rack rackState // RACK loss detection and reordering (rack.go)

	maxPktsOut     uint32 // max_packets_out in the current window
	wasCwndLimited bool   // is_cwnd_limited
	cwndUsageSeq   uint32
	lastRTTus      int64

	bytesAcked, bytesReceived     uint64
	segsOut, segsIn, totalRetrans uint64
	rtoArmedAt                    Time

	// Socket options.
	noDelay    bool
	cork       bool
	moreHold   bool // the push in progress is a MSG_MORE write's (pushMore)
	keepalive  bool
	lingerOn   bool
	noSpace    bool  // SOCK_NOSPACE: a write found the send buffer full
	chronoType uint8 // tp->chrono_type (chrono* constants)
	keepIdle   time.Duration
	keepIntvl  time.Duration
	keepCnt    int
	lingerSecs int
	linger2    time.Duration // 0 = sysctl; <0 = reset instead of FIN_WAIT2
	userTO     time.Duration
	rcvBufSet  int
	sndBufSet  int

	notSentLowat int // TCP_NOTSENT_LOWAT (0 = Config.NotSentLowat)
	skSndbuf     int // sk_sndbuf as tcp_sndbuf_expand grows it (SO_SNDBUF unset)

	// Record boundaries of MSG_EOR writes in (snd_una, write_seq]: no
	// segment, new or retransmitted, crosses one (tcp_skb_can_collapse).
	// eor[eorHead:] is sorted; the slice is reused, so it only grows when
	// more records are outstanding than ever before.
	eor     []uint32
	eorHead int

	// TCP_INFO bookkeeping (tcp_get_info).
	chronoStart Time     // tp->chrono_start
	chronoStat  [3]int64 // jiffies (ms) busy, rwnd-limited, sndbuf-limited
	probesTS    Time     // icsk_probes_tstamp: first zero-window probe of a series (0 none)
	estabAt     Time     // tcp_init_transfer: where icsk_ack.lrcvtime starts
	dataSegsIn  uint32
	dataSegsOut uint32
	bytesSent   uint64
	bytesRetx   uint64
	dsackDups   uint32

	// Active-open state.
	synSentAt Time // first SYN transmission (for PAWSActive)
	passive   bool // created by NewPassive (request-socket rules in SYN_RECV)
	inheritTS bool
}

// TimeWaitInfo is what a TIME-WAIT record keeps of the connection
// (TW-ENTER-5) plus the substate and timeout chosen by TW-ENTER-6.
type TimeWaitInfo struct {
	Substate      State // StateTimeWait or StateFinWait2
	RcvNxt        uint32
	SndNxt        uint32
	RcvWnd        uint32 // bytes, unscaled
	RcvWScale     uint8
	HasTS         bool
	TSRecent      uint32
	TSRecentStamp int64 // seconds
	TSOffset      uint32
	Timeout       time.Duration
	RTO           time.Duration
}

// State returns the connection state.
func (c *Conn) State() State { return c.state }

// Tuple returns the connection's 4-tuple.
func (c *Conn) Tuple() Tuple { return c.tuple }

// Err returns the error that ended the connection (a syscall.Errno), or nil.
func (c *Conn) Err() error {
	if c.err == 0 {
		return nil
	}
	return c.err
}

// TakeEvents returns and clears the accumulated events.
func (c *Conn) TakeEvents() Event {
	e := c.events
	c.events = 0
	return e
}

// TimeWaitInfo returns the record contents; valid after EventTimeWait.
func (c *Conn) TimeWaitInfo() TimeWaitInfo { return c.twInfo }

// Readable reports whether Read would return data, EOF or an error.
func (c *Conn) Readable() bool {
	return c.rbuf.n > 0 || c.finRcvd || c.rdShut || c.err != 0 || c.state == StateClose
}

// Writable reports whether Write would accept at least one byte, and,
// under TCP_NOTSENT_LOWAT, whether fewer than half the mark are unsent
// (tcp_poll's EPOLLOUT). Like tcp_poll, a negative answer marks the
// writer as waiting for room (SOCK_NOSPACE): the ACK that makes room
// raises EventWritable and ends the send-buffer-limited chronograph.
func (c *Conn) Writable() bool {
	if c.wrShut || c.err != 0 || c.state == StateClose {
		return true // the write fails at once
	}
	if c.state != StateEstablished && c.state != StateCloseWait {
		return false
	}
	if !c.writableNow() {
		c.noSpace = true
		return false
	}
	return true
}

// SetNoDelay sets TCP_NODELAY; turning it on pushes pending data.
func (c *Conn) SetNoDelay(on bool, now Time, e Emitter) {
	c.noDelay = on
	if on {
		c.moreHold = false
		c.pushPending(now, e, true)
	}
}

// SetCork sets TCP_CORK; uncorking pushes pending data.
func (c *Conn) SetCork(on bool, now Time, e Emitter) {
	c.cork = on
	if !on {
		c.moreHold = false
		c.pushPending(now, e, true)
	}
}

// SetKeepAlive sets SO_KEEPALIVE and TCP_KEEPIDLE/KEEPINTVL/KEEPCNT
// (zero values keep the sysctl defaults).
func (c *Conn) SetKeepAlive(on bool, idle, intvl time.Duration, cnt int, now Time) {
	c.keepalive = on
	c.keepIdle, c.keepIntvl, c.keepCnt = idle, intvl, cnt
	if on && c.isSynchronized() && c.state != StateFinWait2 {
		c.keepAt = now.add(c.keepIdleTime())
	} else if !on && c.state != StateFinWait2 {
		c.keepAt = 0
	}
}

// SetQuickAck sets TCP_QUICKACK: on leaves interactive mode and ACKs the
// next segments at once; off enters interactive (delayed) mode.
func (c *Conn) SetQuickAck(on bool, now Time, e Emitter) {
	if on {
		c.enterQuickAck()
		if c.ackPending && c.isSynchronized() {
			c.sendAck(now, e)
		}
	} else {
		c.pingpong = max(c.pingpong, 1)
	}
}

// SetLinger sets SO_LINGER.
func (c *Conn) SetLinger(on bool, secs int) { c.lingerOn, c.lingerSecs = on, secs }

// SetLinger2 sets TCP_LINGER2 as Linux 6.18 stores it (FW2-8): negative
// means reset instead of FIN_WAIT2, 0 means tcp_fin_timeout, larger values
// are capped at 120 s.
func (c *Conn) SetLinger2(secs int) {
	switch {
	case secs < 0:
		c.linger2 = -1
	case secs == 0:
		c.linger2 = 0
	default:
		c.linger2 = min(time.Duration(secs)*time.Second, 120*time.Second)
	}
}

// SetUserTimeout sets TCP_USER_TIMEOUT (0 = off).
func (c *Conn) SetUserTimeout(d time.Duration) { c.userTO = d }

// SetMaxSeg sets TCP_MAXSEG (user MSS clamp); effective for the handshake
// when called before it and for sending afterwards.
func (c *Conn) SetMaxSeg(mss int) {
	c.userMSS = mss
	if c.isSynchronized() {
		c.syncMSS()
	}
}

// SetRecvBuffer sets SO_RCVBUF (bytes as the user passes them; Linux doubles).
func (c *Conn) SetRecvBuffer(n int) {
	c.rcvBufSet = max(2*n, 2304)
	if c.rbuf.size > 0 && c.rcvBufSet/2 > c.rbuf.cap() {
		c.rbuf.grow(c.rcvBufSet / 2)
		c.winClamp = max(c.winClamp, uint32(c.rbuf.cap()))
	}
}

// SetSendBuffer sets SO_SNDBUF (bytes as the user passes them; Linux doubles).
// The ring's capacity becomes the value passed (as allocBuffers sizes it),
// also below what is queued: like sk_sndbuf under sk_wmem_queued, writes
// and writability then wait until ACKs drain the queue below the new size.
func (c *Conn) SetSendBuffer(n int) {
	c.sndBufSet = 2 * n
	c.sbuf.resize(max(n, 4608))
	c.txlog.setLimit(c.sbuf.cap(), c.mssCache)
}

// RecvBufferSize is getsockopt(SO_RCVBUF): the doubled SO_RCVBUF value if
// the application set one, else sk_rcvbuf: tcp_rmem[1] as autotuning
// (tcp_rcv_space_adjust) has raised it, twice the receive ring's capacity.
func (c *Conn) RecvBufferSize() int {
	if c.rcvBufSet > 0 {
		return c.rcvBufSet
	}
	return max(2*c.rbuf.cap(), c.cfg.RMem[1])
}

// TakeSoftErr returns and clears sk_err_soft, the ICMP error kept for a
// later timeout: getsockopt(SO_ERROR) reports it when sk_err is 0 and
// clears it (sock_getsockopt's xchg).
func (c *Conn) TakeSoftErr() syscall.Errno {
	err := c.softErr
	c.softErr = 0
	return err
}

func (c *Conn) isSynchronized() bool {
	switch c.state {
	case StateSynSent, StateSynRecv, StateClose, StateListen:
		return false
	}
	return true
}

func (c *Conn) inc(id metrics.ID) {
	if c.m != nil {
		c.m.Inc(id)
	}
}

func (c *Conn) add(id metrics.ID, n uint32) {
	if c.m != nil {
		c.m.Add(id, uint64(n))
	}
}

func (t Time) add(d time.Duration) Time { return t + Time(d) }

// tsNow is the TSval clock: ms plus the per-connection offset.
func (c *Conn) tsNow(now Time) uint32 { return uint32(int64(now)/1e6) + c.tsOff() }

// tsOff is the connection's TSval offset plus the stack's test skew
// (Config.TSSkew, whole ms), read at each use so the skew can change while
// the connection runs.
func (c *Conn) tsOff() uint32 {
	if c.cfg.TSSkew == nil {
		return c.tsOffset
	}
	return c.tsOffset + uint32(c.cfg.TSSkew.Load()/1e6)
}

func seconds(now Time) int64 { return int64(now) / 1e9 }

// setState applies tcp_set_state's bookkeeping (CLOSE-23).
func (c *Conn) setState(s State) {
	old := c.state
	estab := func(s State) bool { return s == StateEstablished || s == StateCloseWait }
	if estab(old) && !estab(s) {
		if c.m != nil {
			c.m.Dec(metrics.TcpCurrEstab)
		}
	} else if !estab(old) && estab(s) {
		c.inc(metrics.TcpCurrEstab)
	}
	if s == StateClose {
		switch old {
		case StateEstablished, StateCloseWait:
			c.inc(metrics.TcpEstabResets)
		case StateSynSent, StateSynRecv:
			c.inc(metrics.TcpAttemptFails)
		}
	}
	c.state = s
}

// done is tcp_done (CLOSE-24): CLOSE, timers stopped, waiters woken.
func (c *Conn) done() {
	c.setState(StateClose)
	c.stopTimers()
	c.rdShut, c.wrShut = true, true
	c.events |= EventClosed | EventReadable | EventWritable
}

// fail records err and finishes the connection (tcp_reset / tcp_write_err).
func (c *Conn) fail(err syscall.Errno) {
	c.err = err
	c.events |= EventError
	c.done()
}

func (c *Conn) stopTimers() {
	c.rtoAt, c.delackAt, c.keepAt, c.twAt, c.compAckAt = 0, 0, 0, 0, 0
	c.probeMode, c.tlpMode = false, false
	c.ackPending = false
}

// NextTimer returns the earliest armed deadline, 0 if none.
func (c *Conn) NextTimer() Time {
	t := Time(0)
	for _, d := range [...]Time{c.rtoAt, c.delackAt, c.keepAt, c.twAt, c.compAckAt} {
		if d != 0 && (t == 0 || d < t) {
			t = d
		}
	}
	return t
}

// growSendBuffer is tcp_sndbuf_expand: room for about two windows of
// segments, capped by tcp_wmem[2] (never shrinks, never when SO_SNDBUF).
func (c *Conn) growSendBuffer() {
	if c.sndBufSet > 0 {
		return
	}
	want := 4 * int(max(c.snd.Cwnd, c.cfg.InitCwnd)) * max(c.mssCache, 536)
	want = min(want, c.cfg.WMem[2])
	if want > c.sbuf.cap()+c.sbuf.cap()/2 {
		c.sbuf.grow(want)
	}
}
