// Package harness runs a ustack instance against the Linux kernel inside a
// network namespace: the namespace's kernel holds one end of a TUN device,
// the stack (running in the test process) holds the other. Tests start real
// programs in the namespace (curl, socat, ncat, wrk) or Go code on its
// kernel sockets, and compare bytes and counters on both sides.
//
// Everything an Env creates is torn down by t.Cleanup, on success, failure
// and panic alike: the stack and its TUN descriptor, the processes started
// in the namespace (killed by process-group id), and the namespace itself.
// Nothing touches the root namespace. Benchmarks use the same Env through
// testing.TB.
package harness

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/netns"
	"github.com/ustack/ustack/stack"
	"github.com/ustack/ustack/tun"
)

// Addresses of the TUN link (TEST-NET-1): the kernel's end and ustack.
var (
	HostPrefix = netip.MustParsePrefix("192.0.2.1/24")
	HostAddr   = HostPrefix.Addr()
	StackAddr  = netip.MustParseAddr("192.0.2.2")
)

// TUNName is the TUN interface's name inside the namespace.
const TUNName = "ustun0"

// Config describes one scenario's link and both stacks' settings.
type Config struct {
	// Tag names the namespace (default "it").
	Tag string
	// MTU of the TUN link (default 1500).
	MTU int
	// Impair is a tun.ParseImpair spec applied between ustack and the TUN
	// (both directions), e.g. "loss=1%,seed=7".
	Impair string
	// Rate, if set, shapes the kernel's egress into the TUN with tc tbf
	// ("50mbit").
	Rate string
	// KernelSysctls are set in the namespace before the link comes up
	// (name, value pairs).
	KernelSysctls [][2]string
	// StackOptions are ustack knobs (Options.Set name, value pairs).
	StackOptions [][2]string
	// Deadline bounds the whole scenario (default 60 s); when it passes the
	// test fails naming the stage it was in, and the Env is torn down so
	// every blocked call returns.
	Deadline time.Duration
	// NoStack leaves the namespace and its TUN-less kernel for the test
	// to equip (e.g. a router with veths).
	NoStack bool
}

// Env is one scenario's namespace, TUN link and ustack instance.
type Env struct {
	T     testing.TB
	NS    *netns.NS
	Stack *stack.Stack
	Tap   *Tap
	Cfg   Config

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // guards closers, Stack and Tap replacement
	closers  []func()
	stage    atomic.Value // string
	torn     atomic.Bool
	kstart   map[string]uint64
	faulty   *tun.Faulty
	started  time.Time
	watchdog *time.Timer
}

var setupOnce sync.Once

// Skip skips the test when namespaces or TUN devices are unavailable.
func Skip(t testing.TB) {
	t.Helper()
	if ok, why := netns.Available(); !ok {
		t.Skip("integration: " + why)
	}
}

// SkipWithout skips the test when one of the programs is missing.
func SkipWithout(t testing.TB, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if !netns.Have(p) {
			t.Skipf("integration: %s not installed", p)
		}
	}
}

// New creates a namespace with a TUN link and a ustack on it. It skips the
// test without root or /dev/net/tun.
func New(t testing.TB, cfg Config) *Env {
	t.Helper()
	Skip(t)
	setupOnce.Do(func() {
		netns.CloseOnSignal()
		if gone := netns.SweepStale(); len(gone) > 0 {
			t.Logf("removed namespaces of dead test processes: %v", gone)
		}
	})
	if cfg.Tag == "" {
		cfg.Tag = "it"
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.Deadline == 0 {
		cfg.Deadline = 60 * time.Second
	}
	ns, err := netns.New(cfg.Tag)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, NS: ns, Cfg: cfg, started: time.Now()}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.stage.Store("setup")
	// Cleanups run last-in first-out: the namespace goes after everything
	// registered later (processes, stack, device).
	t.Cleanup(func() {
		e.teardown()
		if err := ns.Close(); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	t.Cleanup(e.report)
	// No IPv6 on the link: the TUN carries raw IPv4 only, and router
	// solicitations would show up as ustack IpInHdrErrors.
	for _, k := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		ns.Sysctl(k, "1")
	}
	for _, kv := range cfg.KernelSysctls {
		if err := ns.Sysctl(kv[0], kv[1]); err != nil {
			t.Fatalf("sysctl %s=%s: %v", kv[0], kv[1], err)
		}
	}
	e.watchdog = time.AfterFunc(cfg.Deadline, func() {
		t.Errorf("DEADLINE %v exceeded in stage %q; tearing the scenario down", cfg.Deadline, e.Stage())
		e.teardown()
	})
	if !cfg.NoStack {
		e.StartStack(cfg.StackOptions...)
	}
	e.kstart, _ = ns.KernelCounters()
	return e
}

// Ctx is cancelled when the Env is torn down; commands started with it die
// then.
func (e *Env) Ctx() context.Context { return e.ctx }

// Staged records where the scenario is, for the deadline report.
func (e *Env) Staged(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	e.stage.Store(s)
}

// Stage returns the current stage.
func (e *Env) Stage() string { s, _ := e.stage.Load().(string); return s }

// Elapsed is the time since New.
func (e *Env) Elapsed() time.Duration { return time.Since(e.started) }

// OnTeardown registers f to run when the Env is torn down (before the
// namespace is deleted), in reverse order of registration.
func (e *Env) OnTeardown(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.torn.Load() {
		go f()
		return
	}
	e.closers = append(e.closers, f)
}

func (e *Env) teardown() {
	if e.torn.Swap(true) {
		return
	}
	if e.watchdog != nil {
		e.watchdog.Stop()
	}
	e.cancel()
	e.mu.Lock()
	cl := e.closers
	e.closers = nil
	e.mu.Unlock()
	for i := len(cl) - 1; i >= 0; i-- {
		cl[i]()
	}
}

// StartStack creates the TUN device inside the namespace, gives the
// kernel's end HostPrefix, and starts a ustack on it with the default
// options plus opts (name, value pairs for Options.Set).
func (e *Env) StartStack(opts ...[2]string) *stack.Stack {
	t := e.T
	t.Helper()
	var dev tun.Device
	err := e.NS.Do(func() error {
		d, err := tun.CreateTUN(TUNName, e.Cfg.MTU)
		if err != nil {
			return err
		}
		if err := tun.Configure(d.Name(), HostPrefix, e.Cfg.MTU); err != nil {
			d.Close()
			return err
		}
		dev = d
		return nil
	})
	if err != nil {
		t.Fatalf("create TUN in %s: %v", e.NS.Name, err)
	}
	if e.Cfg.Rate != "" {
		if err := e.NS.RateLimit(TUNName, e.Cfg.Rate, 50*time.Millisecond); err != nil {
			dev.Close()
			t.Fatal(err)
		}
	}
	tap := NewTap(dev, 8192)
	var top tun.Device = tap
	if e.Cfg.Impair != "" {
		fc, err := tun.ParseImpair(e.Cfg.Impair)
		if err != nil {
			tap.Close()
			t.Fatal(err)
		}
		e.faulty = tun.NewFaultyDevice(tap, fc)
		top = e.faulty
	}
	o := stack.DefaultOptions()
	o.Addrs = []netip.Addr{StackAddr}
	for _, kv := range opts {
		if err := o.Set(kv[0], kv[1]); err != nil {
			top.Close()
			t.Fatalf("stack option %s=%s: %v", kv[0], kv[1], err)
		}
	}
	s, err := stack.New(top, o)
	if err != nil {
		top.Close()
		t.Fatal(err)
	}
	e.mu.Lock()
	e.Stack, e.Tap = s, tap
	e.mu.Unlock()
	e.OnTeardown(func() { s.Close() })
	return s
}

// StopStack closes the running stack; its TUN device (and with it the
// kernel's address and route for the link) disappears.
func (e *Env) StopStack() {
	if e.Stack != nil {
		e.Stack.Close()
	}
}

// FaultStats returns the fault injector's counters (zero without Impair).
func (e *Env) FaultStats() tun.FaultStats {
	if e.faulty == nil {
		return tun.FaultStats{}
	}
	return e.faulty.Stats()
}

// StackAddrPort is StackAddr:port as a string.
func StackAddrPort(port int) string { return fmt.Sprintf("%s:%d", StackAddr, port) }

// HostAddrPort is HostAddr:port as a string.
func HostAddrPort(port int) string { return fmt.Sprintf("%s:%d", HostAddr, port) }

// Listen opens a ustack listener on StackAddr:port, closed at teardown.
func (e *Env) Listen(port int) net.Listener {
	e.T.Helper()
	l, err := e.Stack.Listen("tcp", StackAddrPort(port))
	if err != nil {
		e.T.Fatalf("ustack listen :%d: %v", port, err)
	}
	e.OnTeardown(func() { l.Close() })
	return l
}

// KernelListen opens a kernel listener inside the namespace, closed at
// teardown.
func (e *Env) KernelListen(addr string) net.Listener {
	e.T.Helper()
	var l net.Listener
	err := e.NS.Do(func() (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		e.T.Fatalf("kernel listen %s: %v", addr, err)
	}
	e.OnTeardown(func() { l.Close() })
	return l
}

// KernelDial connects a kernel socket from inside the namespace. A non-zero
// localPort binds it first with SO_REUSEADDR, like a client pinned to a
// source port.
func (e *Env) KernelDial(addr string, localPort int, timeout time.Duration) (*net.TCPConn, error) {
	return KernelDialIn(e.NS, addr, localPort, timeout)
}

// KernelDialIn is KernelDial in any namespace.
func KernelDialIn(ns *netns.NS, addr string, localPort int, timeout time.Duration) (*net.TCPConn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		d := net.Dialer{Timeout: timeout}
		if localPort != 0 {
			d.LocalAddr = &net.TCPAddr{Port: localPort}
			d.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
				}); err != nil {
					return err
				}
				return serr
			}
		}
		c, err = d.Dial("tcp4", addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// Start starts a program inside the namespace; it is killed at teardown.
func (e *Env) Start(name string, args ...string) *netns.Proc {
	e.T.Helper()
	return e.StartCmd(e.NS, nil, name, args...)
}

// StartCmd starts a program inside ns with an optional hook to set its
// standard streams; it is killed at teardown.
func (e *Env) StartCmd(ns *netns.NS, prep func(*exec.Cmd), name string, args ...string) *netns.Proc {
	e.T.Helper()
	cmd := ns.Command(e.ctx, name, args...)
	if prep != nil {
		prep(cmd)
	}
	var errBuf strings.Builder
	if cmd.Stderr == nil {
		cmd.Stderr = &lockedWriter{w: &errBuf}
	}
	p2, err := netns.Start(cmd)
	if err != nil {
		e.T.Fatalf("start %s: %v", name, err)
	}
	e.OnTeardown(p2.Kill)
	e.T.Cleanup(func() {
		if e.T.Failed() && errBuf.Len() > 0 {
			e.T.Logf("%s stderr: %s", name, strings.TrimSpace(errBuf.String()))
		}
	})
	return p2
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() < 16<<10 {
		l.w.Write(p)
	}
	return len(p), nil
}

// KernelDelta returns the namespace kernel's counters minus their values
// when the Env was created.
func (e *Env) KernelDelta() map[string]uint64 {
	now, err := e.NS.KernelCounters()
	if err != nil {
		e.T.Errorf("kernel counters: %v", err)
		return nil
	}
	d := map[string]uint64{}
	for k, v := range now {
		if v != e.kstart[k] {
			d[k] = v - e.kstart[k]
		}
	}
	return d
}

// UCounter returns one ustack counter by nstat name ("TcpExtTW").
func (e *Env) UCounter(name string) uint64 {
	return UCounterOf(e.Stack, name)
}

// UCounterOf returns one counter of s by nstat name.
func UCounterOf(s *stack.Stack, name string) uint64 {
	snap := s.Counters().Snapshot()
	return snap.Map()[name]
}

// report runs at cleanup: on failure it logs the stage, both sides'
// counters, the stack's sockets and writes the tap's pcap.
func (e *Env) report() {
	t := e.T
	if !t.Failed() {
		return
	}
	t.Logf("failed in stage %q after %v", e.Stage(), e.Elapsed().Round(time.Millisecond))
	if e.Stack != nil {
		snap := e.Stack.Counters().Snapshot()
		t.Logf("ustack counters: %s", formatCounters(snap.Map()))
		for _, s := range e.Stack.Sockets() {
			t.Logf("ustack socket: %s", s)
		}
	}
	t.Logf("kernel counter deltas: %s", formatCounters(e.KernelDelta()))
	if out, err := e.NS.Output(context.Background(), "ss", "-tani"); err == nil {
		t.Logf("kernel sockets:\n%s", out)
	}
	if e.faulty != nil {
		t.Logf("fault injector: %+v", e.faulty.Stats())
	}
	if e.Tap != nil {
		dir := os.Getenv("USTACK_ARTIFACTS")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "ustack-interop")
		}
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".pcap"
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(dir, 0o755); err == nil {
			if err := e.Tap.WritePcap(path); err == nil {
				t.Logf("last %d packets on the TUN: %s; the last 40:\n%s", e.Tap.Len(), path, e.Tap.Dump(40, nil))
			}
		}
	}
}

func formatCounters(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// KernelSendRaw sends a raw IPv4 packet (header included) from the
// namespace's kernel: a packet addressed to StackAddr leaves through the
// TUN as if the kernel's TCP had sent it.
func (e *Env) KernelSendRaw(pkt []byte) error {
	return e.NS.Do(func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		var dst syscall.SockaddrInet4
		copy(dst.Addr[:], pkt[16:20])
		return syscall.Sendto(fd, pkt, 0, &dst)
	})
}

// UTimeWait counts ustack's TIME-WAIT records whose remote port is port
// (0: all).
func (e *Env) UTimeWait(port uint16) int {
	n := 0
	for _, s := range e.Stack.Sockets() {
		if s.TimeWait && (port == 0 || s.Remote.Port() == port || s.Local.Port() == port) {
			n++
		}
	}
	return n
}
