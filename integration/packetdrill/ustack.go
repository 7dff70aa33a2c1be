package packetdrill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ustack/ustack/integration/packetdrill/script"
	"github.com/ustack/ustack/integration/packetdrill/sockets"
	"github.com/ustack/ustack/stack"
	"github.com/ustack/ustack/tcp"
)

// The adapter below plays sockets.Net on package stack's public API: a
// Manual stack (packets enter only through DeliverPacket), a VirtualClock
// and a capturing device. The public API is Go's blocking net.Conn style,
// so the non-blocking calls the socket layer needs are derived:
//   - connect runs Dial in a goroutine; its progress is read from
//     Stack.Sockets();
//   - read and accept are only issued when TCPConn.Info / Stack.Sockets say
//     they will not block;
//   - write uses a short wall-clock write deadline.
// The gaps this leaves are listed in the errors it returns (unsupported).

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
	h.clock.Set(tcp.Time(h.origin + t*1000))
	h.net.settle()
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
func (h *ustackHarness) SetSysctl(name, value string) error {
	return unsupportedf("changing sysctls of a running stack (stack.Options are fixed at New)")
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
	h.net.closeAll()
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

// synSentTo reports whether a SYN to dst is among the captured packets not
// yet handed to the runner.
func (d *captureDev) synSentTo(dst netip.AddrPort) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.sent {
		p, err := decodePacket(s.Pkt)
		if err == nil && p.Flags&script.FlagSYN != 0 && p.Dst == dst.Addr() && p.DstPort == dst.Port() {
			return true
		}
	}
	return false
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

// settle lets connect goroutines woken by the last step finish, so that
// the next call sees the connection they produced.
func (n *ustackNet) settle() {
	for _, c := range n.conns {
		if c.tc == nil && c.dialCh != nil {
			c.progress()
		}
		c.sampleWakeups()
	}
}

// sampleWakeups derives the kernel's wake-up events from what changed
// since the last step: more bytes to read, a FIN or an error (sk_data_ready,
// sk_error_report) and the socket becoming writable (sk_write_space).
// TCPConn has no wake-up counter; this is exact at the runner's step
// granularity, which is every delivered packet and timer instant.
func (c *ustackConn) sampleWakeups() {
	if c.tc == nil {
		return
	}
	rq := c.tc.Info().RecvQueue
	st := c.tc.State()
	fin := finReceived(st)
	ev, _ := c.Poll()
	writable := ev&sockets.POLLOUT != 0
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

func (n *ustackNet) closeAll() {
	for _, c := range n.conns {
		if c.cancel != nil {
			c.cancel()
		}
	}
}

func (n *ustackNet) socketInfo(match func(stack.SocketInfo) bool) (stack.SocketInfo, bool) {
	for _, si := range n.h.s.Sockets() {
		if match(si) {
			return si, true
		}
	}
	return stack.SocketInfo{}, false
}

func (n *ustackNet) Listen(laddr netip.AddrPort, backlog int, opts *sockets.Options) (sockets.Listener, error) {
	if err := unsupportedOpenOpts(opts); err != nil {
		return nil, err
	}
	l, err := n.h.s.ListenBacklog("tcp", net.TCPAddrFromAddrPort(laddr), backlog)
	if err != nil {
		return nil, errnoOf(err)
	}
	ul := &ustackListener{n: n, l: l, addr: laddr, opts: *opts}
	n.lns = append(n.lns, ul)
	return ul, nil
}

// unsupportedOpenOpts rejects options that must be known when the
// connection is created and that the public API cannot take.
func unsupportedOpenOpts(o *sockets.Options) error {
	switch {
	case o.MaxSeg != 0:
		return unsupportedf("TCP_MAXSEG (no MSS clamp in stack's Dialer or Listen API)")
	case o.UserTimeout != 0:
		return unsupportedf("TCP_USER_TIMEOUT (no API)")
	case o.Cork:
		return unsupportedf("TCP_CORK (no API)")
	}
	for _, so := range o.Other {
		if _, ok := noEffectOption(so.Level, so.Name, so.Value); !ok {
			return unsupportedf("socket option %s before connect/listen", sockets.OptName(so.Level, so.Name))
		}
	}
	return nil
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
		return "IP_TOS accepted without effect (TOS is not compared; no API)", true
	case level == sockets.SOL_TCP && name == sockets.TCP_INQ:
		return "", true
	}
	return "", false
}

func (n *ustackNet) Connect(laddr, raddr netip.AddrPort, opts *sockets.Options) (sockets.Conn, error) {
	if err := unsupportedOpenOpts(opts); err != nil {
		return nil, err
	}
	d := &stack.Dialer{Stack: n.h.s, ReuseAddr: opts.ReuseAddr}
	if laddr.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(laddr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &ustackConn{n: n, raddr: raddr, opts: *opts, dialCh: make(chan dialResult, 1), cancel: cancel, fullAt: -1}
	go func() {
		tc, err := d.DialContext(ctx, "tcp", raddr.String())
		var t *stack.TCPConn
		if tc != nil {
			t = tc.(*stack.TCPConn)
		}
		c.dialCh <- dialResult{t, err}
	}()
	// Wait (wall clock, briefly) until the SYN is out or the dial failed:
	// the goroutine runs the active open synchronously up to its first wait.
	deadline := time.Now().Add(time.Second)
	for {
		if c.resolveDial(false) {
			break
		}
		if n.h.dev.synSentTo(raddr) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("connect: the stack neither sent a SYN nor failed within 1s")
		}
		runtime.Gosched()
		time.Sleep(10 * time.Microsecond)
	}
	n.conns = append(n.conns, c)
	return c, nil
}

type dialResult struct {
	tc  *stack.TCPConn
	err error
}

type ustackListener struct {
	n       *ustackNet
	l       *stack.TCPListener
	addr    netip.AddrPort
	opts    sockets.Options
	pending []*stack.TCPConn
}

func (l *ustackListener) queued() int {
	si, ok := l.n.socketInfo(func(si stack.SocketInfo) bool { return si.State == tcp.StateListen && si.Local.Port() == l.addr.Port() })
	if !ok {
		return 0
	}
	return si.RecvQ
}

func (l *ustackListener) Pending() bool { return l.queued() > 0 }

func (l *ustackListener) Accept() (sockets.Conn, error) {
	if l.queued() == 0 {
		return nil, syscall.EAGAIN
	}
	tc, err := l.l.AcceptTCP()
	if err != nil {
		return nil, errnoOf(err)
	}
	c := &ustackConn{n: l.n, tc: tc, raddr: tc.RemoteAddr().(*net.TCPAddr).AddrPort(), opts: l.opts, fullAt: -1}
	if err := c.applyOpts(); err != nil {
		return nil, err
	}
	l.n.conns = append(l.n.conns, c)
	return c, nil
}

func (l *ustackListener) SetOption(level, name int, v sockets.Value) error {
	// Accepted sockets inherit the listener's options.
	switch {
	case level == sockets.SOL_TCP && name == sockets.TCP_NODELAY:
		l.opts.NoDelay = v.Int != 0
	case level == sockets.SOL_SOCKET && name == sockets.SO_SNDBUF:
		l.opts.SndBuf = int(v.Int)
	case level == sockets.SOL_SOCKET && name == sockets.SO_RCVBUF:
		l.opts.RcvBuf = int(v.Int)
	case level == sockets.SOL_SOCKET && name == sockets.SO_LINGER:
		vv := v
		l.opts.Linger = &vv
	case level == sockets.SOL_SOCKET && name == sockets.SO_REUSEADDR:
	default:
		return unsupportedf("setsockopt %s on a listener (no API)", sockets.OptName(level, name))
	}
	return nil
}

func (l *ustackListener) Close() error { return errnoOf(l.l.Close()) }

type ustackConn struct {
	n       *ustackNet
	tc      *stack.TCPConn
	raddr   netip.AddrPort
	opts    sockets.Options
	dialCh  chan dialResult
	dialErr error
	cancel  context.CancelFunc
	noDelay bool
	sndBuf  int
	fullAt  int // SendQueue when a write last found the buffer full, -1 if not

	// wake-up emulation (see sampleWakeups)
	rwake, wwake uint64
	lastRecvQ    int
	lastFin      bool
	lastWritable bool
}

// resolveDial collects the dial goroutine's result; with wait it blocks
// (wall clock, bounded) for a result the stack state says is due.
func (c *ustackConn) resolveDial(wait bool) bool {
	if c.dialCh == nil {
		return true
	}
	var r dialResult
	if wait {
		select {
		case r = <-c.dialCh:
		case <-time.After(time.Second):
			return false
		}
	} else {
		select {
		case r = <-c.dialCh:
		default:
			return false
		}
	}
	c.dialCh = nil
	c.tc, c.dialErr = r.tc, errnoOf(r.err)
	if c.tc != nil {
		if err := c.applyOpts(); err != nil {
			c.dialErr = err
		}
	}
	return true
}

// progress reports whether the connect finished (either way).
func (c *ustackConn) progress() bool {
	if c.resolveDial(false) {
		return true
	}
	si, ok := c.n.socketInfo(func(si stack.SocketInfo) bool { return si.Remote == c.raddr })
	if ok && si.State == tcp.StateSynSent {
		return false
	}
	// The handshake is over in the stack; the goroutine is about to return.
	return c.resolveDial(true)
}

func (c *ustackConn) applyOpts() error {
	// Linux sockets start with Nagle on; Go's (and ustack's) start with
	// TCP_NODELAY.
	if err := c.tc.SetNoDelay(c.opts.NoDelay); err != nil {
		return errnoOf(err)
	}
	c.noDelay = c.opts.NoDelay
	if c.opts.SndBuf != 0 {
		if err := c.SetOption(sockets.SOL_SOCKET, sockets.SO_SNDBUF, sockets.Value{Int: int64(c.opts.SndBuf)}); err != nil {
			return err
		}
	}
	if c.opts.RcvBuf != 0 {
		if err := c.SetOption(sockets.SOL_SOCKET, sockets.SO_RCVBUF, sockets.Value{Int: int64(c.opts.RcvBuf)}); err != nil {
			return err
		}
	}
	if c.opts.Linger != nil {
		if err := c.SetOption(sockets.SOL_SOCKET, sockets.SO_LINGER, *c.opts.Linger); err != nil {
			return err
		}
	}
	return nil
}

func finReceived(st tcp.State) bool {
	switch st {
	case tcp.StateCloseWait, tcp.StateLastAck, tcp.StateClosing, tcp.StateTimeWait, tcp.StateClose:
		return true
	}
	return false
}

func (c *ustackConn) Read(p []byte) (int, error) {
	if c.tc == nil {
		if !c.progress() || c.tc == nil {
			return 0, syscall.EAGAIN
		}
	}
	info := c.tc.Info()
	if info.RecvQueue == 0 && !finReceived(c.tc.State()) {
		return 0, syscall.EAGAIN
	}
	n, err := c.tc.Read(p)
	c.sampleWakeups() // so that data arriving later counts as a new wake-up
	if err == io.EOF {
		return 0, io.EOF
	}
	return n, errnoOf(err)
}

func (c *ustackConn) Write(p []byte, flags sockets.WriteFlags) (int, error) {
	if flags.More || flags.EOR {
		return 0, unsupportedf("MSG_MORE/MSG_EOR (TCPConn.Write has no flags)")
	}
	if c.tc == nil {
		if !c.progress() || c.tc == nil {
			return 0, syscall.EAGAIN
		}
	}
	// A wall-clock deadline turns the blocking Write into a non-blocking
	// one: it returns what fitted in the send buffer. The virtual clock
	// stands still meanwhile, so waiting longer changes nothing but
	// absorbs scheduling delays; and a write that found the buffer full is
	// not retried until an ACK freed something (SendQueue went down).
	if c.fullAt >= 0 && c.tc.Info().SendQueue >= c.fullAt {
		return 0, syscall.EAGAIN
	}
	c.tc.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := c.tc.Write(p)
	c.tc.SetWriteDeadline(time.Time{})
	c.fullAt = -1
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.fullAt = c.tc.Info().SendQueue
		if n == 0 {
			return 0, syscall.EAGAIN
		}
		return n, nil
	}
	return n, errnoOf(err)
}

func (c *ustackConn) Shutdown(how int) error {
	if c.tc == nil {
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

func (c *ustackConn) Close() error {
	if c.tc == nil {
		if c.cancel != nil {
			c.cancel()
		}
		return nil
	}
	return errnoOf(c.tc.Close())
}

func (c *ustackConn) Poll() (uint32, bool) {
	if c.tc == nil {
		if !c.progress() {
			return 0, false
		}
		if c.tc == nil {
			return sockets.POLLERR | sockets.POLLHUP, false
		}
	}
	st := c.tc.State()
	info := c.tc.Info()
	var ev uint32
	if info.RecvQueue > 0 || finReceived(st) {
		ev |= sockets.POLLIN | sockets.POLLRDHUP
		if info.RecvQueue > 0 && !finReceived(st) {
			ev &^= sockets.POLLRDHUP
		}
	}
	if st == tcp.StateEstablished || st == tcp.StateCloseWait {
		ev |= sockets.POLLOUT
	}
	if st == tcp.StateClose {
		ev |= sockets.POLLHUP
	}
	return ev, true
}

func (c *ustackConn) SoError() error {
	err := c.dialErr
	c.dialErr = nil
	return err
}

func (c *ustackConn) InQ() int {
	if c.tc == nil {
		return 0
	}
	return c.tc.Info().RecvQueue
}

func (c *ustackConn) SetOption(level, name int, v sockets.Value) error {
	if note, ok := noEffectOption(level, name, v); ok {
		if note != "" {
			c.n.h.notes = append(c.n.h.notes, note)
		}
		return nil
	}
	if c.tc == nil {
		// Connect in progress: remember it for when Dial returns.
		if err := c.opts.Remember(level, name, v); err != nil {
			return err
		}
		return unsupportedOpenOpts(&c.opts)
	}
	switch {
	case level == sockets.SOL_TCP && name == sockets.TCP_NODELAY:
		c.noDelay = v.Int != 0
		return errnoOf(c.tc.SetNoDelay(c.noDelay))
	case level == sockets.SOL_SOCKET && name == sockets.SO_SNDBUF:
		c.sndBuf = int(v.Int)
		return errnoOf(c.tc.SetWriteBuffer(int(v.Int)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_RCVBUF:
		return errnoOf(c.tc.SetReadBuffer(int(v.Int)))
	case level == sockets.SOL_SOCKET && name == sockets.SO_LINGER:
		switch {
		case !v.LingerOn:
			return errnoOf(c.tc.SetLinger(-1))
		case v.LingerSecs == 0:
			return errnoOf(c.tc.SetLinger(0))
		}
		return unsupportedf("SO_LINGER with a timeout (TCPConn.Close lingers on the wall clock)")
	case level == sockets.SOL_SOCKET && name == sockets.SO_REUSEADDR:
		return nil // only matters when binding
	case level == sockets.SOL_TCP && name == sockets.TCP_LINGER2:
		return errnoOf(c.tc.SetLinger2(int(v.Int)))
	}
	return unsupportedf("setsockopt %s (no TCPConn API)", sockets.OptName(level, name))
}

func (c *ustackConn) GetOption(level, name int) (sockets.Value, error) {
	if c.tc == nil {
		return sockets.Value{}, unsupportedf("getsockopt during a non-blocking connect")
	}
	switch {
	case level == sockets.SOL_TCP && name == sockets.TCP_MAXSEG:
		return sockets.Value{Int: int64(c.tc.Info().SndMSS)}, nil
	case level == sockets.SOL_TCP && name == sockets.TCP_NODELAY:
		return sockets.Value{Int: b2i(c.noDelay)}, nil
	}
	return sockets.Value{}, unsupportedf("getsockopt %s (no TCPConn API)", sockets.OptName(level, name))
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (c *ustackConn) LocalAddr() netip.AddrPort {
	if c.tc == nil {
		return netip.AddrPort{}
	}
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
