package packetdrill

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ustack/ustack/integration/packetdrill/sockets"
	"github.com/ustack/ustack/stack"
	"github.com/ustack/ustack/tcp"
)

// The adapter below plays sockets.Net on package stack's public API: a
// Manual stack (packets enter only through DeliverPacket), a VirtualClock
// and a capturing device. Every call maps onto the stack's non-blocking
// API (Dialer.Start, TryAccept, TryRead, WriteFlags with MsgDontWait,
// StartClose/Lingering, PollEvents, SoError), and the runner steps the
// clock from one deadline to the next (NextDeadline). The gaps left are
// listed in the errors it returns (unsupported).

// NewUstackHarness creates a Manual ustack on a virtual clock.
func NewUstackHarness(cfg HarnessConfig) (Harness, error) {
	opts := stack.DefaultOptions()
	var unknown []Sysctl // the last value of each name wins, as in /proc
	for _, sc := range cfg.Sysctls {
		err := opts.Set(sc.Name, sc.Value)
		switch {
		case err == nil:
		case errors.Is(err, stack.ErrUnknownOption):
			unknown = slices.DeleteFunc(unknown, func(u Sysctl) bool { return u.Name == sc.Name })
			unknown = append(unknown, sc)
		default:
			return nil, unsupportedf("sysctl %s=%s: %v", sc.Name, sc.Value, err)
		}
	}
	// Sysctls without a knob are judged against the engine configuration
	// the stack will really run with.
	eng := opts.TCPConfig(1500)
	var assumed []Assumption
	for _, sc := range unknown {
		a := SysctlBehavior(sc.Name, sc.Value, eng)
		if !a.OK {
			return nil, unsupportedf("sysctl %s=%s (no such knob in stack.Options)", sc.Name, sc.Value)
		}
		assumed = append(assumed, a)
	}
	clk := stack.NewVirtualClock()
	opts.Addrs = []netip.Addr{cfg.Local}
	opts.Clock = clk
	opts.Manual = true
	dev := &captureDev{clock: clk, closed: make(chan struct{})}
	s, err := stack.New(dev, opts)
	if err != nil {
		return nil, err
	}
	h := &ustackHarness{clock: clk, s: s, dev: dev, origin: int64(clk.Now()), assumed: assumed}
	h.net = &ustackNet{h: h}
	return h, nil
}

type ustackHarness struct {
	clock   *stack.VirtualClock
	s       *stack.Stack
	dev     *captureDev
	net     *ustackNet
	origin  int64 // ns
	assumed []Assumption
	notes   []string
}

func (h *ustackHarness) Net() sockets.Net { return h.net }
func (h *ustackHarness) Now() int64       { return (int64(h.clock.Now()) - h.origin) / 1000 }
func (h *ustackHarness) AdvanceTo(t int64) {
	h.clock.AdvanceTo(tcp.Time(h.origin + t*1000))
	h.net.settle()
}

// NextTimer implements TimerPeeker: the clock's next deadline, rounded up
// to the runner's microsecond.
func (h *ustackHarness) NextTimer() (int64, bool) {
	dl, ok := h.clock.NextDeadline()
	if !ok {
		return 0, false
	}
	return (int64(dl) - h.origin + 999) / 1000, true
}
func (h *ustackHarness) Deliver(pkt []byte) {
	h.s.DeliverPacket(pkt)
	h.net.settle()
}
func (h *ustackHarness) Sent(dst []Sent) []Sent {
	h.dev.mu.Lock()
	defer h.dev.mu.Unlock()
	for _, s := range h.dev.sent {
		dst = append(dst, Sent{At: (s.At - h.origin) / 1000, Pkt: s.Pkt})
	}
	h.dev.sent = h.dev.sent[:0]
	return dst
}

// SetSysctl is a sysctl written while the script runs: Stack.SetOption
// (the knob applies to new connections, port selection and TIME-WAIT at
// once, as in Linux); a sysctl without a knob is judged by SysctlBehavior.
func (h *ustackHarness) SetSysctl(name, value string) error {
	err := h.s.SetOption(name, value)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, stack.ErrUnknownOption):
		a := SysctlBehavior(name, value, h.s.Config())
		if !a.OK {
			return unsupportedf("sysctl %s=%s (no such knob in stack.Options)", name, value)
		}
		h.assumed = append(h.assumed, a)
		return nil
	}
	return unsupportedf("sysctl %s=%s while running: %v", name, value, err)
}
func (h *ustackHarness) Notes() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range h.assumed {
		if !seen[a.Note] {
			seen[a.Note] = true
			out = append(out, a.Note)
		}
	}
	return append(out, h.notes...)
}

// Assumptions lists the sysctls accepted without a knob.
func (h *ustackHarness) Assumptions() []Assumption { return h.assumed }
func (h *ustackHarness) Close() error {
	return h.s.Close()
}

// captureDev is the stack's device: what the stack writes is recorded
// with the virtual time; nothing is ever read (Manual mode).
type captureDev struct {
	clock     *stack.VirtualClock
	mu        sync.Mutex
	sent      []Sent // At in clock nanoseconds
	closed    chan struct{}
	closeOnce sync.Once
}

func (d *captureDev) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	<-d.closed
	return 0, os.ErrClosed
}

func (d *captureDev) Write(bufs [][]byte, offset int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := int64(d.clock.Now())
	for _, b := range bufs {
		d.sent = append(d.sent, Sent{At: now, Pkt: append([]byte(nil), b[offset:]...)})
	}
	return len(bufs), nil
}

func (d *captureDev) BatchSize() int { return 1 }
func (d *captureDev) MTU() int       { return 1500 }
func (d *captureDev) Name() string   { return "packetdrill" }
func (d *captureDev) Close() error {
	d.closeOnce.Do(func() { close(d.closed) })
	return nil
}

type ustackNet struct {
	h     *ustackHarness
	conns []*ustackConn
	lns   []*ustackListener
}

// settle samples the wake-up counters after every step of the clock or
// delivered packet.
func (n *ustackNet) settle() {
	for _, c := range n.conns {
		c.sampleWakeups()
	}
}

// sampleWakeups derives the kernel's wake-up events from what changed
// since the last step: more bytes to read, a FIN or an error (sk_data_ready,
// sk_error_report) and the socket becoming writable (sk_write_space).
// TCPConn has no wake-up counter; this is exact at the runner's step
// granularity, which is every delivered packet and timer instant.
func (c *ustackConn) sampleWakeups() {
	if c.closed {
		return
	}
	rq := c.tc.Info().RecvQueue
	ev := c.tc.PollEvents()
	fin := ev&stack.PollRdHup != 0
	writable := ev&stack.PollOut != 0
	if rq > c.lastRecvQ || fin != c.lastFin {
		c.rwake++
	}
	if writable && !c.lastWritable {
		c.wwake++
	}
	c.lastRecvQ, c.lastFin, c.lastWritable = rq, fin, writable
}

// Wakeups implements sockets.WakeCounter.
func (c *ustackConn) Wakeups() (read, write uint64) {
	c.sampleWakeups()
	return c.rwake, c.wwake
}

func (n *ustackNet) Listen(laddr netip.AddrPort, backlog int, opts *sockets.Options) (sockets.Listener, error) {
	if err := unsupportedOpenOpts(opts); err != nil {
		return nil, err
	}
	l, err := n.h.s.ListenBacklog("tcp", net.TCPAddrFromAddrPort(laddr), backlog)
	if err != nil {
		return nil, errnoOf(err)
	}
	ul := &ustackListener{n: n, l: l, addr: laddr}
	// The listener's options reach its children before their SYN-ACK
	// (TCP_MAXSEG, SO_RCVBUF shape it). Linux sockets start with Nagle on;
	// ustack's children otherwise get Go's TCP_NODELAY.
	if err := ul.SetOption(sockets.SOL_TCP, sockets.TCP_NODELAY, sockets.Value{Int: b2i(opts.NoDelay)}); err != nil {
		l.Close()
		return nil, err
	}
	for _, so := range openOpts(opts) {
		if err := ul.SetOption(so.Level, so.Name, so.Value); err != nil {
			l.Close()
			return nil, err
		}
	}
	n.lns = append(n.lns, ul)
	return ul, nil
}

// openOpts lists the options given before connect/listen that are applied
// once the socket exists (those shaping the SYN go to the Dialer).
func openOpts(o *sockets.Options) []sockets.SetOpt {
	var out []sockets.SetOpt
	add := func(level, name int, v sockets.Value) {
		out = append(out, sockets.SetOpt{Level: level, Name: name, Value: v})
	}
	if o.MaxSeg != 0 {
		add(sockets.SOL_TCP, sockets.TCP_MAXSEG, sockets.Value{Int: int64(o.MaxSeg)})
	}
	if o.SndBuf != 0 {
		add(sockets.SOL_SOCKET, sockets.SO_SNDBUF, sockets.Value{Int: int64(o.SndBuf)})
	}
	if o.RcvBuf != 0 {
		add(sockets.SOL_SOCKET, sockets.SO_RCVBUF, sockets.Value{Int: int64(o.RcvBuf)})
	}
	if o.UserTimeout != 0 {
		add(sockets.SOL_TCP, sockets.TCP_USER_TIMEOUT, sockets.Value{Int: int64(o.UserTimeout)})
	}
	if o.Cork {
		add(sockets.SOL_TCP, sockets.TCP_CORK, sockets.Value{Int: 1})
	}
	if o.Linger != nil {
		add(sockets.SOL_SOCKET, sockets.SO_LINGER, *o.Linger)
	}
	return append(out, o.Other...)
}

// unsupportedOpenOpts rejects options given before connect/listen that
// neither the stack nor the runner can take.
func unsupportedOpenOpts(o *sockets.Options) error {
	for _, so := range o.Other {
		if _, ok := noEffectOption(so.Level, so.Name, so.Value); ok {
			continue
		}
		if !knownConnOption(so.Level, so.Name) {
			return unsupportedf("socket option %s before connect/listen", sockets.OptName(so.Level, so.Name))
		}
	}
	return nil
}

// knownConnOption reports the options ustackConn.SetOption maps.
func knownConnOption(level, name int) bool {
	switch {
	case level == sockets.SOL_TCP:
		switch name {
		case sockets.TCP_NODELAY, sockets.TCP_LINGER2, sockets.TCP_USER_TIMEOUT, sockets.TCP_CORK,
			sockets.TCP_NOTSENT_LOWAT, sockets.TCP_MAXSEG:
			return true
		}
	case level == sockets.SOL_SOCKET:
		switch name {
		case sockets.SO_SNDBUF, sockets.SO_RCVBUF, sockets.SO_LINGER, sockets.SO_REUSEADDR:
			return true
		}
	}
	return false
}

// noEffectOption accepts IP-level options whose only effect is on header
// fields the runner does not compare (like packetdrill, it checks no TOS
// or DF bit unless the script asks), and TCP_INQ, which only enables the
// TCP_CM_INQ control message the socket layer computes itself.
func noEffectOption(level, name int, v sockets.Value) (string, bool) {
	switch {
	case level == sockets.SOL_IP && name == sockets.IP_MTU_DISCOVER && v.Int == sockets.IP_PMTUDISC_DONT:
		return "IP_MTU_DISCOVER=IP_PMTUDISC_DONT accepted without effect (DF is not compared)", true
	case level == sockets.SOL_IP && name == sockets.IP_TOS:
		return "IP_TOS accepted without effect (TOS is not compared)", true
	case level == sockets.SOL_TCP && name == sockets.TCP_INQ:
		return "", true
	}
	return "", false
}

// Connect is a non-blocking connect: Dialer.Start binds and sends the SYN
// with the options that shape it (TCP_MAXSEG, SO_RCVBUF, SO_SNDBUF); the
// others are applied to the connection in SYN-SENT.
func (n *ustackNet) Connect(laddr, raddr netip.AddrPort, opts *sockets.Options) (sockets.Conn, error) {
	if err := unsupportedOpenOpts(opts); err != nil {
		return nil, err
	}
	d := &stack.Dialer{Stack: n.h.s, ReuseAddr: opts.ReuseAddr, MaxSeg: opts.MaxSeg,
		RecvBuffer: opts.RcvBuf, SendBuffer: opts.SndBuf}
	if laddr.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(laddr)
	}
	tc, err := d.Start("tcp", raddr.String())
	if err != nil {
		return nil, errnoOf(err)
	}
	c := &ustackConn{n: n, tc: tc, raddr: raddr}
	if err := c.SetOption(sockets.SOL_TCP, sockets.TCP_NODELAY, sockets.Value{Int: b2i(opts.NoDelay)}); err != nil {
		tc.StartClose()
		return nil, err
	}
	o := *opts
	o.MaxSeg, o.RcvBuf, o.SndBuf = 0, 0, 0 // already in the SYN
	for _, so := range openOpts(&o) {
		if err := c.SetOption(so.Level, so.Name, so.Value); err != nil {
			tc.StartClose()
			return nil, err
		}
	}
	n.conns = append(n.conns, c)
	c.sampleWakeups()
	return c, nil
}

type ustackListener struct {
	n    *ustackNet
	l    *stack.TCPListener
	addr netip.AddrPort
}

func (l *ustackListener) Pending() bool { return l.l.Pending() > 0 }

func (l *ustackListener) Accept() (sockets.Conn, error) {
	tc, err := l.l.TryAccept()
	if err != nil {
		return nil, errnoOf(err)
	}
	c := &ustackConn{n: l.n, tc: tc, raddr: tc.RemoteAddr().(*net.TCPAddr).AddrPort()}
	l.n.conns = append(l.n.conns, c)
	c.sampleWakeups()
	return c, nil
}

// SetOption sets an option accepted connections inherit (TCPListener's
// setters: the SYN-ACK already carries TCP_MAXSEG and SO_RCVBUF).
func (l *ustackListener) SetOption(level, name int, v sockets.Value) error {
	if note, ok := noEffectOption(level, name, v); ok {
		if note != "" {
			l.n.h.notes = append(l.n.h.notes, note)
		}
		return nil
	}
	ll := l.l
	switch {
	case level == sockets.SOL_TCP && name == sockets.TCP_NODELAY:
		return errnoOf(ll.SetNoDelay(v.Int != 0))
	case level == sockets.SOL_TCP && name == sockets.TCP_CORK:
		return errnoOf(ll.SetCork(v.Int != 0))
	case level == sockets.SOL_TCP && name == sockets.TCP_MAXSEG:
		return errnoOf(ll.SetMaxSeg(int(v.Int)))
	case level == sockets.SOL_TCP && name == sockets.TCP_LINGER2:
		return errnoOf(ll.SetLinger2(int(v.Int)))
	case level == sockets.SOL_TCP && name == sockets.TCP_USER_TIMEOUT:
		return errnoOf(ll.SetUserTimeout(time.Duration(v.Int) * time.Millisecond))
	case level == sockets.SOL_TCP && name == sockets.TCP_NOTSENT_LOWAT:
		return errnoOf(ll.SetNotSentLowat(int(int32(v.Int))))
	case level == sockets.SOL_SOCKET && name == sockets.SO_SNDBUF:
		return errnoOf(ll.SetWriteBuffer(int(v.Int)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_RCVBUF:
		return errnoOf(ll.SetReadBuffer(int(v.Int)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_LINGER:
		return errnoOf(ll.SetLinger(lingerSecs(v)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_REUSEADDR:
		return nil // only matters when binding; listeners have it anyway
	}
	return unsupportedf("setsockopt %s on a listener (no API)", sockets.OptName(level, name))
}

func (l *ustackListener) Close() error { return errnoOf(l.l.Close()) }

// lingerSecs converts SO_LINGER's {onoff, linger} to SetLinger's argument.
func lingerSecs(v sockets.Value) int {
	if !v.LingerOn {
		return -1
	}
	return v.LingerSecs
}

type ustackConn struct {
	n      *ustackNet
	tc     *stack.TCPConn
	raddr  netip.AddrPort
	closed bool

	// wake-up emulation (see sampleWakeups)
	rwake, wwake uint64
	lastRecvQ    int
	lastFin      bool
	lastWritable bool
}

func (c *ustackConn) Read(p []byte) (int, error) {
	n, err := c.tc.TryRead(p)
	c.sampleWakeups() // so that data arriving later counts as a new wake-up
	if err == io.EOF {
		return 0, io.EOF
	}
	return n, errnoOf(err)
}

func (c *ustackConn) Write(p []byte, flags sockets.WriteFlags) (int, error) {
	f := stack.MsgDontWait
	if flags.More {
		f |= stack.MsgMore
	}
	if flags.EOR {
		f |= stack.MsgEOR
	}
	n, err := c.tc.WriteFlags(p, f)
	c.sampleWakeups()
	return n, errnoOf(err)
}

func (c *ustackConn) Shutdown(how int) error {
	if st := c.tc.State(); st == tcp.StateSynSent || st == tcp.StateClose {
		return syscall.ENOTCONN
	}
	switch how {
	case sockets.SHUT_RD:
		return errnoOf(c.tc.CloseRead())
	case sockets.SHUT_WR:
		return errnoOf(c.tc.CloseWrite())
	}
	if err := c.tc.CloseRead(); err != nil {
		return errnoOf(err)
	}
	return errnoOf(c.tc.CloseWrite())
}

// Close is close(2) without the SO_LINGER wait, which the socket layer
// plays through Lingering (sockets.Lingerer).
func (c *ustackConn) Close() error {
	c.closed = true
	return errnoOf(c.tc.StartClose())
}

// Lingering implements sockets.Lingerer.
func (c *ustackConn) Lingering() bool { return c.tc.Lingering() }

func (c *ustackConn) Poll() (uint32, bool) {
	ev := c.tc.PollEvents()
	st := c.tc.State()
	est := st != tcp.StateSynSent && st != tcp.StateSynRecv && ev&stack.PollErr == 0
	return uint32(ev), est
}

func (c *ustackConn) SoError() error {
	if e := c.tc.SoError(); e != 0 {
		return e
	}
	return nil
}

func (c *ustackConn) InQ() int { return c.tc.Info().RecvQueue }

func (c *ustackConn) SetOption(level, name int, v sockets.Value) error {
	if note, ok := noEffectOption(level, name, v); ok {
		if note != "" {
			c.n.h.notes = append(c.n.h.notes, note)
		}
		return nil
	}
	t := c.tc
	switch {
	case level == sockets.SOL_TCP && name == sockets.TCP_NODELAY:
		return errnoOf(t.SetNoDelay(v.Int != 0))
	case level == sockets.SOL_SOCKET && name == sockets.SO_SNDBUF:
		return errnoOf(t.SetWriteBuffer(int(v.Int)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_RCVBUF:
		return errnoOf(t.SetReadBuffer(int(v.Int)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_LINGER:
		return errnoOf(t.SetLinger(lingerSecs(v)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_REUSEADDR:
		return nil // only matters when binding
	case level == sockets.SOL_TCP && name == sockets.TCP_LINGER2:
		return errnoOf(t.SetLinger2(int(int32(v.Int))))
	case level == sockets.SOL_TCP && name == sockets.TCP_USER_TIMEOUT:
		return errnoOf(t.SetUserTimeout(time.Duration(int32(v.Int)) * time.Millisecond))
	case level == sockets.SOL_TCP && name == sockets.TCP_CORK:
		return errnoOf(t.SetCork(v.Int != 0))
	case level == sockets.SOL_TCP && name == sockets.TCP_NOTSENT_LOWAT:
		return errnoOf(t.SetNotSentLowat(int(int32(v.Int))))
	case level == sockets.SOL_TCP && name == sockets.TCP_MAXSEG:
		return errnoOf(t.SetMaxSeg(int(v.Int)))
	}
	return unsupportedf("setsockopt %s (no TCPConn API)", sockets.OptName(level, name))
}

func (c *ustackConn) GetOption(level, name int) (sockets.Value, error) {
	t := c.tc
	var v int
	var err error
	switch {
	case level == sockets.SOL_TCP && name == sockets.TCP_MAXSEG:
		v, err = t.MaxSeg()
	case level == sockets.SOL_TCP && name == sockets.TCP_NODELAY:
		var on bool
		on, err = t.NoDelay()
		v = int(b2i(on))
	case level == sockets.SOL_TCP && name == sockets.TCP_CORK:
		var on bool
		on, err = t.Cork()
		v = int(b2i(on))
	case level == sockets.SOL_TCP && name == sockets.TCP_LINGER2:
		v, err = t.Linger2()
	case level == sockets.SOL_TCP && name == sockets.TCP_USER_TIMEOUT:
		var d time.Duration
		d, err = t.UserTimeout()
		v = int(d / time.Millisecond)
	case level == sockets.SOL_TCP && name == sockets.TCP_NOTSENT_LOWAT:
		v, err = t.NotSentLowat()
	case level == sockets.SOL_SOCKET && name == sockets.SO_SNDBUF:
		v, err = t.WriteBuffer()
	case level == sockets.SOL_SOCKET && name == sockets.SO_RCVBUF:
		v, err = t.ReadBuffer()
	default:
		return sockets.Value{}, unsupportedf("getsockopt %s (no TCPConn API)", sockets.OptName(level, name))
	}
	return sockets.Value{Int: int64(v)}, errnoOf(err)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (c *ustackConn) LocalAddr() netip.AddrPort {
	return c.tc.LocalAddr().(*net.TCPAddr).AddrPort()
}

func (c *ustackConn) RemoteAddr() netip.AddrPort { return c.raddr }

// errnoOf unwraps the stack's *net.OpError to the syscall.Errno inside.
func errnoOf(err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	if errors.Is(err, net.ErrClosed) {
		return syscall.EBADF
	}
	return err
}
