package stack

import (
	"net"
	"syscall"
	"time"

	"github.com/ustack/ustack/tcp"
)

// Socket options of TCPConn and TCPListener. Each setter applies the value
// to the engine (where the engine has the knob) and records it, so the
// getters answer like getsockopt(2), and a listener's options are copied
// to the connections it accepts, as Linux's sk_clone copies the parent's.
//
// Values are validated like the kernel's setsockopt: what Linux refuses
// with EINVAL fails with a *net.OpError wrapping syscall.EINVAL.

// Kernel limits applied by setsockopt.
const (
	minMaxSeg      = 88    // TCP_MIN_MSS
	maxMaxSeg      = 32767 // MAX_TCP_WINDOW
	maxKeepIdle    = 32767 // MAX_TCP_KEEPIDLE, seconds
	maxKeepIntvl   = 32767 // MAX_TCP_KEEPINTVL, seconds
	maxKeepCnt     = 127   // MAX_TCP_KEEPCNT
	maxLinger2     = 120   // TCP_FIN_TIMEOUT_MAX, seconds
	sockMinRcvbuf  = 2304  // SOCK_MIN_RCVBUF
	sockMinSndbuf  = 4608  // SOCK_MIN_SNDBUF
	defaultKeepCnt = 9     // Go's default for KeepAliveConfig.Count == 0
	// goKeepAlive is Go's default keep-alive idle time and interval for
	// KeepAliveConfig zero values.
	goKeepAlive = 15 * time.Second
)

// Which options were set explicitly (an accepted connection inherits
// exactly those; the others keep Go's or the sysctl defaults).
const (
	optNoDelay uint16 = 1 << iota
	optCork
	optKeepAlive
	optLinger
	optLinger2
	optUserTimeout
	optMaxSeg
	optRcvBuf
	optSndBuf
	optNotSentLowat
	optTOS
)

// sockOpts are the socket options as the user set them.
type sockOpts struct {
	set          uint16 // opt* bits
	noDelay      bool
	cork         bool
	keepAlive    bool
	keepIdle     time.Duration // 0: tcp_keepalive_time
	keepIntvl    time.Duration // 0: tcp_keepalive_intvl
	keepCnt      int           // 0: tcp_keepalive_probes
	linger       int           // Go's meaning: -1 off, 0 reset on close, > 0 seconds
	linger2      int           // as stored by Linux: -1, 0 (tcp_fin_timeout) or 1..120 s
	userTimeout  time.Duration // ms resolution, 0 off
	maxSeg       int           // user_mss, 0 none
	rcvBuf       int           // sk_rcvbuf after SO_RCVBUF (already doubled), 0 = not set
	sndBuf       int           // sk_sndbuf after SO_SNDBUF (already doubled), 0 = not set
	notSentLowat int           // TCP_NOTSENT_LOWAT, 0 = tcp_notsent_lowat
	tos          uint8         // IP_TOS (DSCP bits; TCP keeps ECN to itself)
}

func defaultSockOpts() sockOpts { return sockOpts{linger: -1} }

// bufValue is what SO_RCVBUF/SO_SNDBUF store: the value capped at
// net.core.[rw]mem_max (a negative int is a huge u32 in the kernel), then
// doubled, at least min.
func bufValue(v, limit, min int) int {
	if v < 0 || v > limit {
		v = limit
	}
	v = minInt(v, 1<<30-1) // INT_MAX / 2
	return max(2*v, min)
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func keepSecs(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second) // Go's roundDurationUp
}

// keepAliveConfig validates a net.KeepAliveConfig with Go's rules (zero
// means Go's default of 15 s / 9 probes, negative leaves the value as it
// is) and the kernel's ranges, and applies it to o.
func (o *sockOpts) keepAliveConfig(cfg net.KeepAliveConfig) error {
	idle, intvl, cnt := o.keepIdle, o.keepIntvl, o.keepCnt
	switch {
	case cfg.Idle == 0:
		idle = goKeepAlive
	case cfg.Idle > 0:
		if s := keepSecs(cfg.Idle); s < 1 || s > maxKeepIdle {
			return syscall.EINVAL
		}
		idle = time.Duration(keepSecs(cfg.Idle)) * time.Second
	}
	switch {
	case cfg.Interval == 0:
		intvl = goKeepAlive
	case cfg.Interval > 0:
		if s := keepSecs(cfg.Interval); s < 1 || s > maxKeepIntvl {
			return syscall.EINVAL
		}
		intvl = time.Duration(keepSecs(cfg.Interval)) * time.Second
	}
	switch {
	case cfg.Count == 0:
		cnt = defaultKeepCnt
	case cfg.Count > 0:
		if cfg.Count > maxKeepCnt {
			return syscall.EINVAL
		}
		cnt = cfg.Count
	}
	o.keepAlive, o.keepIdle, o.keepIntvl, o.keepCnt = cfg.Enable, idle, intvl, cnt
	o.set |= optKeepAlive
	return nil
}

// keepAliveView reports the effective keep-alive settings (the sysctls
// where nothing was set), like TCP_KEEPIDLE/KEEPINTVL/KEEPCNT getsockopt.
func (o *sockOpts) keepAliveView(so *Options) net.KeepAliveConfig {
	k := net.KeepAliveConfig{Enable: o.keepAlive, Idle: o.keepIdle, Interval: o.keepIntvl, Count: o.keepCnt}
	if k.Idle == 0 {
		k.Idle = so.TCPKeepaliveTime
	}
	if k.Interval == 0 {
		k.Interval = so.TCPKeepaliveIntvl
	}
	if k.Count == 0 {
		k.Count = so.TCPKeepaliveProbes
	}
	return k
}

// linger2Value is TCP_LINGER2's setsockopt (FW2-8): negative means reset
// instead of FIN_WAIT2, values above 120 s are capped.
func linger2Value(sec int) int {
	switch {
	case sec < 0:
		return -1
	case sec > maxLinger2:
		return maxLinger2
	}
	return sec
}

// linger2View is TCP_LINGER2's getsockopt: 0 reads back as tcp_fin_timeout.
func (o *sockOpts) linger2View(so *Options) int {
	if o.linger2 == 0 {
		return int(so.TCPFinTimeout / time.Second)
	}
	return o.linger2
}

// apply pushes the options marked in mask into an engine connection.
func (o *sockOpts) apply(mask uint16, e *tcp.Conn, now tcp.Time, b *batch) {
	m := o.set & mask
	if m&optMaxSeg != 0 {
		e.SetMaxSeg(o.maxSeg)
	}
	if m&optRcvBuf != 0 {
		e.SetRecvBuffer(o.rcvBuf / 2)
	}
	if m&optSndBuf != 0 {
		e.SetSendBuffer(o.sndBuf / 2)
	}
	if m&optKeepAlive != 0 {
		e.SetKeepAlive(o.keepAlive, o.keepIdle, o.keepIntvl, o.keepCnt, now)
	}
	if m&optLinger != 0 {
		e.SetLinger(o.linger >= 0, max(o.linger, 0))
	}
	if m&optLinger2 != 0 {
		e.SetLinger2(o.linger2)
	}
	if m&optUserTimeout != 0 {
		e.SetUserTimeout(o.userTimeout)
	}
	if m&optNotSentLowat != 0 {
		e.SetNotSentLowat(o.notSentLowat)
	}
	if m&optCork != 0 {
		e.SetCork(o.cork, now, b)
	}
	if m&optNoDelay != 0 {
		e.SetNoDelay(o.noDelay, now, b)
	}
}

// passiveOpts are the options a listener's child needs before its SYN-ACK
// (advertised MSS, window from SO_RCVBUF), for tcp.NewPassiveOpts.
func (o *sockOpts) passiveOpts() tcp.PassiveOpts {
	var p tcp.PassiveOpts
	if o.set&optMaxSeg != 0 {
		p.MSS = o.maxSeg
	}
	if o.set&optRcvBuf != 0 {
		p.RecvBuffer = o.rcvBuf / 2
	}
	if o.set&optSndBuf != 0 {
		p.SendBuffer = o.sndBuf / 2
	}
	p.NoDelay = o.noDelay || o.set&optNoDelay == 0
	p.KeepAlive = o.keepAlive
	return p
}

// ---- TCPConn ----

// setOpt runs f with c.mu held (f may update t.opts) unless the
// connection is closed; f's error is wrapped in a *net.OpError{Op: "set"}.
func (t *TCPConn) setOpt(f func(e *tcp.Conn, now tcp.Time, b *batch) error) error {
	if t.closed.Load() {
		return t.opErr("set", net.ErrClosed)
	}
	var err error
	t.s.run(t.c, func(e *tcp.Conn, now tcp.Time, b *batch) { err = f(e, now, b) })
	if err != nil {
		return t.opErr("set", err)
	}
	return nil
}

// getOpt runs f with c.mu held unless the connection is closed.
func (t *TCPConn) getOpt(f func()) error {
	if t.closed.Load() {
		return t.opErr("get", net.ErrClosed)
	}
	t.c.mu.Lock()
	f()
	t.c.mu.Unlock()
	return nil
}

// SetLinger sets SO_LINGER with Go's meaning: sec < 0 is the default
// (close returns at once, the FIN goes out in the background); sec == 0
// resets the connection on Close (CLOSE-7); sec > 0 makes Close wait up to
// sec seconds of the stack's clock for the FIN to be acknowledged (CLOSE-13).
func (t *TCPConn) SetLinger(sec int) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) error {
		t.linger.Store(int64(sec))
		t.opts.linger, t.opts.set = sec, t.opts.set|optLinger
		e.SetLinger(sec >= 0, max(sec, 0))
		return nil
	})
}

// Linger returns SO_LINGER in SetLinger's terms (-1: off).
func (t *TCPConn) Linger() (int, error) {
	if t.closed.Load() {
		return 0, t.opErr("get", net.ErrClosed)
	}
	return int(t.linger.Load()), nil
}

// SetNoDelay sets TCP_NODELAY (on by default, as in Go; a Linux socket
// starts with it off). Turning it on pushes data Nagle held back.
func (t *TCPConn) SetNoDelay(noDelay bool) error {
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, b *batch) error {
		t.opts.noDelay, t.opts.set = noDelay, t.opts.set|optNoDelay
		e.SetNoDelay(noDelay, now, b)
		return nil
	})
}

// NoDelay returns TCP_NODELAY.
func (t *TCPConn) NoDelay() (bool, error) {
	var v bool
	err := t.getOpt(func() { v = t.opts.noDelay })
	return v, err
}

// SetCork sets TCP_CORK: partial segments wait until uncorked (or the
// engine's 200 ms cork limit); uncorking pushes them.
func (t *TCPConn) SetCork(on bool) error {
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, b *batch) error {
		t.opts.cork, t.opts.set = on, t.opts.set|optCork
		e.SetCork(on, now, b)
		return nil
	})
}

// Cork returns TCP_CORK.
func (t *TCPConn) Cork() (bool, error) {
	var v bool
	err := t.getOpt(func() { v = t.opts.cork })
	return v, err
}

// SetQuickAck sets TCP_QUICKACK (on: acknowledge at once and leave
// delayed-ACK mode; off: delayed ACKs). Like Linux it is not sticky.
func (t *TCPConn) SetQuickAck(on bool) error {
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, b *batch) error {
		e.SetQuickAck(on, now, b)
		return nil
	})
}

// SetKeepAlive sets SO_KEEPALIVE, keeping TCP_KEEPIDLE/KEEPINTVL/KEEPCNT.
func (t *TCPConn) SetKeepAlive(keepalive bool) error {
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, _ *batch) error {
		o := &t.opts
		o.keepAlive, o.set = keepalive, o.set|optKeepAlive
		e.SetKeepAlive(keepalive, o.keepIdle, o.keepIntvl, o.keepCnt, now)
		return nil
	})
}

// SetKeepAlivePeriod sets TCP_KEEPIDLE and TCP_KEEPINTVL to d rounded up
// to seconds (at least 1 s) and turns keepalive on.
func (t *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	secs := max(keepSecs(d), 1)
	if secs > maxKeepIdle {
		return t.opErr("set", syscall.EINVAL)
	}
	d = time.Duration(secs) * time.Second
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, _ *batch) error {
		o := &t.opts
		o.keepAlive, o.keepIdle, o.keepIntvl, o.set = true, d, d, o.set|optKeepAlive
		e.SetKeepAlive(true, d, d, o.keepCnt, now)
		return nil
	})
}

// SetKeepAliveConfig is net.TCPConn.SetKeepAliveConfig: SO_KEEPALIVE,
// TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT in one call, with Go's rules
// (zero Idle/Interval mean 15 s, zero Count means 9, negative values leave
// the current setting) and the kernel's ranges (EINVAL outside them).
func (t *TCPConn) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, _ *batch) error {
		o := t.opts
		if err := o.keepAliveConfig(cfg); err != nil {
			return err
		}
		t.opts = o
		e.SetKeepAlive(o.keepAlive, o.keepIdle, o.keepIntvl, o.keepCnt, now)
		return nil
	})
}

// KeepAliveConfig returns SO_KEEPALIVE and the effective TCP_KEEPIDLE,
// TCP_KEEPINTVL and TCP_KEEPCNT (the sysctls where none was set).
func (t *TCPConn) KeepAliveConfig() (net.KeepAliveConfig, error) {
	var k net.KeepAliveConfig
	err := t.getOpt(func() { k = t.opts.keepAliveView(t.s.o()) })
	return k, err
}

// SetReadBuffer sets SO_RCVBUF: like Linux the value is capped at
// net.core.rmem_max and doubled (ReadBuffer returns the doubled value).
func (t *TCPConn) SetReadBuffer(bytes int) error {
	v := bufValue(bytes, t.s.o().CoreRmemMax, sockMinRcvbuf)
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) error {
		t.opts.rcvBuf, t.opts.set = v, t.opts.set|optRcvBuf
		e.SetRecvBuffer(v / 2)
		return nil
	})
}

// ReadBuffer returns SO_RCVBUF as getsockopt does (the doubled value).
// Without SetReadBuffer it is tcp_rmem[1], the kernel's initial
// sk_rcvbuf (receive-buffer autotuning is not reflected).
func (t *TCPConn) ReadBuffer() (int, error) {
	var v int
	err := t.getOpt(func() {
		if v = t.opts.rcvBuf; v == 0 {
			v = t.c.tc.RecvBufferSize()
		}
	})
	return v, err
}

// SetWriteBuffer sets SO_SNDBUF: capped at net.core.wmem_max and doubled.
func (t *TCPConn) SetWriteBuffer(bytes int) error {
	v := bufValue(bytes, t.s.o().CoreWmemMax, sockMinSndbuf)
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) error {
		t.opts.sndBuf, t.opts.set = v, t.opts.set|optSndBuf
		e.SetSendBuffer(v / 2)
		return nil
	})
}

// WriteBuffer returns SO_SNDBUF as getsockopt does: the doubled value
// if set, else sk_sndbuf as tcp_wmem[1] and tcp_sndbuf_expand made it.
func (t *TCPConn) WriteBuffer() (int, error) {
	var v int
	err := t.getOpt(func() {
		if v = t.opts.sndBuf; v == 0 {
			v = t.c.tc.SendBufferSize()
		}
	})
	return v, err
}

// SetLinger2 sets TCP_LINGER2 (FW2-8): negative resets instead of
// FIN_WAIT2, 0 means tcp_fin_timeout, values above 120 s are capped.
func (t *TCPConn) SetLinger2(sec int) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) error {
		t.opts.linger2, t.opts.set = linger2Value(sec), t.opts.set|optLinger2
		e.SetLinger2(sec)
		return nil
	})
}

// Linger2 returns TCP_LINGER2 as getsockopt does: -1, or the FIN_WAIT2
// timeout in seconds (tcp_fin_timeout when unset).
func (t *TCPConn) Linger2() (int, error) {
	var v int
	err := t.getOpt(func() { v = t.opts.linger2View(t.s.o()) })
	return v, err
}

// SetUserTimeout sets TCP_USER_TIMEOUT (millisecond resolution; 0 turns
// it off; negative is EINVAL).
func (t *TCPConn) SetUserTimeout(d time.Duration) error {
	if d < 0 {
		return t.opErr("set", syscall.EINVAL)
	}
	d = d.Truncate(time.Millisecond)
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) error {
		t.opts.userTimeout, t.opts.set = d, t.opts.set|optUserTimeout
		e.SetUserTimeout(d)
		return nil
	})
}

// UserTimeout returns TCP_USER_TIMEOUT (0: off).
func (t *TCPConn) UserTimeout() (time.Duration, error) {
	var v time.Duration
	err := t.getOpt(func() { v = t.opts.userTimeout })
	return v, err
}

// SetMaxSeg sets TCP_MAXSEG (the user MSS clamp; 0 removes it, values
// outside [88, 32767] are EINVAL). Set before the handshake (Dialer.MaxSeg,
// TCPListener.SetMaxSeg) it also lowers the MSS option of our SYN.
func (t *TCPConn) SetMaxSeg(mss int) error {
	if mss != 0 && (mss < minMaxSeg || mss > maxMaxSeg) {
		return t.opErr("set", syscall.EINVAL)
	}
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) error {
		t.opts.maxSeg, t.opts.set = mss, t.opts.set|optMaxSeg
		e.SetMaxSeg(mss)
		return nil
	})
}

// MaxSeg returns TCP_MAXSEG as getsockopt does: the current send MSS
// (mss_cache), or the user's clamp once the connection is closed.
func (t *TCPConn) MaxSeg() (int, error) {
	var v int
	err := t.getOpt(func() { v = t.c.tc.MaxSeg() })
	return v, err
}

// SetNotSentLowat sets TCP_NOTSENT_LOWAT (0: the tcp_notsent_lowat
// sysctl; a negative int is a huge u32 to the kernel: no limit). Writes
// queue unsent data only below the mark and POLLOUT needs fewer than half
// of it unsent.
func (t *TCPConn) SetNotSentLowat(bytes int) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) error {
		t.opts.notSentLowat, t.opts.set = bytes, t.opts.set|optNotSentLowat
		e.SetNotSentLowat(bytes)
		return nil
	})
}

// NotSentLowat returns TCP_NOTSENT_LOWAT as set (0 when unset).
func (t *TCPConn) NotSentLowat() (int, error) {
	var v int
	err := t.getOpt(func() { v = t.opts.notSentLowat })
	return v, err
}

// SetTOS sets IP_TOS. As for any TCP socket in Linux the ECN bits are the
// stack's and are ignored. The value is recorded for TOS; packets do not
// carry it yet (the connection's TOS is not plumbed into the output path).
func (t *TCPConn) SetTOS(tos int) error {
	return t.setOpt(func(*tcp.Conn, tcp.Time, *batch) error {
		t.opts.tos, t.opts.set = uint8(tos)&^3, t.opts.set|optTOS
		return nil
	})
}

// TOS returns IP_TOS.
func (t *TCPConn) TOS() (int, error) {
	var v int
	err := t.getOpt(func() { v = int(t.opts.tos) })
	return v, err
}

// ---- TCPListener ----

// setOpt updates the listener's options under its lock.
func (l *TCPListener) setOpt(f func(o *sockOpts) error) error {
	if l.closed.Load() {
		return opError("set", nil, l.addr, net.ErrClosed)
	}
	l.optMu.Lock()
	o := l.opts
	err := f(&o)
	if err == nil {
		l.opts = o
		po := o.passiveOpts()
		l.l.child.Store(&po)
	}
	l.optMu.Unlock()
	if err != nil {
		return opError("set", nil, l.addr, err)
	}
	return nil
}

func (l *TCPListener) sockOpts() sockOpts {
	l.optMu.Lock()
	defer l.optMu.Unlock()
	return l.opts
}

// SetNoDelay sets TCP_NODELAY for accepted connections (without it they
// get Go's default, on).
func (l *TCPListener) SetNoDelay(on bool) error {
	return l.setOpt(func(o *sockOpts) error { o.noDelay, o.set = on, o.set|optNoDelay; return nil })
}

// SetCork sets TCP_CORK for accepted connections.
func (l *TCPListener) SetCork(on bool) error {
	return l.setOpt(func(o *sockOpts) error { o.cork, o.set = on, o.set|optCork; return nil })
}

// SetKeepAlive sets SO_KEEPALIVE for accepted connections.
func (l *TCPListener) SetKeepAlive(on bool) error {
	return l.setOpt(func(o *sockOpts) error { o.keepAlive, o.set = on, o.set|optKeepAlive; return nil })
}

// SetKeepAliveConfig is TCPConn.SetKeepAliveConfig for accepted connections.
func (l *TCPListener) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	return l.setOpt(func(o *sockOpts) error { return o.keepAliveConfig(cfg) })
}

// SetLinger sets SO_LINGER (TCPConn.SetLinger's meaning) for accepted
// connections.
func (l *TCPListener) SetLinger(sec int) error {
	return l.setOpt(func(o *sockOpts) error { o.linger, o.set = sec, o.set|optLinger; return nil })
}

// SetLinger2 sets TCP_LINGER2 for accepted connections.
func (l *TCPListener) SetLinger2(sec int) error {
	return l.setOpt(func(o *sockOpts) error { o.linger2, o.set = linger2Value(sec), o.set|optLinger2; return nil })
}

// SetUserTimeout sets TCP_USER_TIMEOUT for accepted connections.
func (l *TCPListener) SetUserTimeout(d time.Duration) error {
	return l.setOpt(func(o *sockOpts) error {
		if d < 0 {
			return syscall.EINVAL
		}
		o.userTimeout, o.set = d.Truncate(time.Millisecond), o.set|optUserTimeout
		return nil
	})
}

// SetMaxSeg sets TCP_MAXSEG for accepted connections.
func (l *TCPListener) SetMaxSeg(mss int) error {
	return l.setOpt(func(o *sockOpts) error {
		if mss != 0 && (mss < minMaxSeg || mss > maxMaxSeg) {
			return syscall.EINVAL
		}
		o.maxSeg, o.set = mss, o.set|optMaxSeg
		return nil
	})
}

// MaxSeg returns TCP_MAXSEG of the listener: the clamp if set, else
// TCP_MSS_DEFAULT (536), as getsockopt on a Linux listener does.
func (l *TCPListener) MaxSeg() (int, error) {
	if l.closed.Load() {
		return 0, opError("get", nil, l.addr, net.ErrClosed)
	}
	if o := l.sockOpts(); o.maxSeg != 0 {
		return o.maxSeg, nil
	}
	return 536, nil
}

// SetReadBuffer sets SO_RCVBUF (capped at net.core.rmem_max, doubled) for
// accepted connections.
func (l *TCPListener) SetReadBuffer(bytes int) error {
	v := bufValue(bytes, l.s.o().CoreRmemMax, sockMinRcvbuf)
	return l.setOpt(func(o *sockOpts) error { o.rcvBuf, o.set = v, o.set|optRcvBuf; return nil })
}

// ReadBuffer returns the listener's SO_RCVBUF (doubled; tcp_rmem[1] if unset).
func (l *TCPListener) ReadBuffer() (int, error) {
	if l.closed.Load() {
		return 0, opError("get", nil, l.addr, net.ErrClosed)
	}
	if v := l.sockOpts().rcvBuf; v != 0 {
		return v, nil
	}
	return l.s.o().TCPRmem[1], nil
}

// SetWriteBuffer sets SO_SNDBUF (capped at net.core.wmem_max, doubled)
// for accepted connections.
func (l *TCPListener) SetWriteBuffer(bytes int) error {
	v := bufValue(bytes, l.s.o().CoreWmemMax, sockMinSndbuf)
	return l.setOpt(func(o *sockOpts) error { o.sndBuf, o.set = v, o.set|optSndBuf; return nil })
}

// WriteBuffer returns the listener's SO_SNDBUF (doubled; tcp_wmem[1] if unset).
func (l *TCPListener) WriteBuffer() (int, error) {
	if l.closed.Load() {
		return 0, opError("get", nil, l.addr, net.ErrClosed)
	}
	if v := l.sockOpts().sndBuf; v != 0 {
		return v, nil
	}
	return l.s.o().TCPWmem[1], nil
}

// SetNotSentLowat sets TCP_NOTSENT_LOWAT for accepted connections.
func (l *TCPListener) SetNotSentLowat(bytes int) error {
	return l.setOpt(func(o *sockOpts) error { o.notSentLowat, o.set = bytes, o.set|optNotSentLowat; return nil })
}

// SetTOS sets IP_TOS for accepted connections.
func (l *TCPListener) SetTOS(tos int) error {
	return l.setOpt(func(o *sockOpts) error { o.tos, o.set = uint8(tos)&^3, o.set|optTOS; return nil })
}

// inherit wraps an accepted child and gives it the listener's options (the
// ones set explicitly; the rest keep Go's defaults: TCP_NODELAY on).
func (l *TCPListener) inherit(c *conn) *TCPConn {
	lo := l.sockOpts()
	tc := wrapConn(l.s, c)
	noDelay := lo.noDelay || lo.set&optNoDelay == 0
	l.s.run(c, func(e *tcp.Conn, now tcp.Time, b *batch) {
		o := lo
		o.noDelay = noDelay
		o.set |= optNoDelay
		tc.opts = o
		if o.set&optLinger != 0 {
			tc.linger.Store(int64(o.linger))
		}
		o.apply(^uint16(0), e, now, b)
	})
	return tc
}
