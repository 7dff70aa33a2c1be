package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/harness"
)

// Ports of the ustack apps (the classic inetd services).
const (
	echoPort    = 7
	discardPort = 9
	sourcePort  = 19
)

// condition is a link the bulk transfers run over.
type condition struct {
	name   string
	impair string // tun.ParseImpair spec between ustack and the TUN
	rate   string // tc tbf on the kernel's egress into the TUN
	mtu    int
	big    bool // a clean link: full-size transfers
}

var conditions = []condition{
	{name: "clean", big: true},
	{name: "loss1", impair: "loss=1%,seed=11"},
	{name: "loss5", impair: "loss=5%,seed=12"},
	{name: "reorder10", impair: "reorder=10%,seed=13"},
	{name: "dup2", impair: "dup=2%,seed=14"},
	{name: "delay20ms-jitter5ms", impair: "delay=20ms,jitter=5ms,seed=15"},
	{name: "mix-loss2-reorder5-dup1-delay20ms", impair: "loss=2%,reorder=5%,dup=1%,delay=20ms,jitter=5ms,seed=16"},
	{name: "rate-tbf-100mbit", rate: "100mbit"},
	{name: "mtu1280", mtu: 1280},
	{name: "mtu9000", mtu: 9000},
}

func (c condition) env(t *testing.T, deadline time.Duration) *harness.Env {
	return harness.New(t, harness.Config{Tag: "bulk", Impair: c.impair, Rate: c.rate, MTU: c.mtu, Deadline: deadline})
}

// amount is the transfer size on c: 256 MiB on a clean link under
// USTACK_FULL (100 MiB otherwise), 100 MiB impaired under USTACK_FULL
// (16 MiB otherwise).
func (c condition) amount() int64 {
	if c.big {
		return size(256*mib, 100*mib)
	}
	return size(100*mib, 16*mib)
}

// TestBulk moves bulk data between kernel-side tools and ustack apps on
// every link condition, byte-exact (SHA-256), each connection ending with
// both FINs.
func TestBulk(t *testing.T) {
	harness.Skip(t)
	harness.SkipWithout(t, "socat")
	for _, c := range conditions {
		t.Run(c.name, func(t *testing.T) {
			// Kernel client → ustack echo and back: both directions cross
			// the impaired link and both stacks recover losses.
			t.Run("socat-echo", func(t *testing.T) {
				e := c.env(t, 120*time.Second)
				e.ServeEcho(e.Listen(echoPort))
				echoClient(t, e, "socat", c.amount(), "socat", "-t", "60", "-T", "60", "STDIO", "TCP4:"+harness.StackAddrPort(echoPort))
			})
			if !c.big {
				return
			}
			t.Run("socat-push-discard", func(t *testing.T) {
				e := c.env(t, 120*time.Second)
				res := e.ServeDiscard(e.Listen(discardPort))
				pushClient(t, e, res, c.amount(), "socat", "-u", "STDIN", "TCP4:"+harness.StackAddrPort(discardPort))
			})
			t.Run("socat-pull-source", func(t *testing.T) {
				e := c.env(t, 120*time.Second)
				e.ServeSource(e.Listen(sourcePort), 5, c.amount())
				pullClient(t, e, 5, c.amount(), "socat", "-u", "TCP4:"+harness.StackAddrPort(sourcePort), "STDOUT")
			})
			t.Run("ncat-echo", func(t *testing.T) {
				harness.SkipWithout(t, "ncat")
				e := c.env(t, 120*time.Second)
				e.ServeEcho(e.Listen(echoPort))
				echoClient(t, e, "ncat", c.amount(), "ncat", "-4", harness.StackAddr.String(), fmt.Sprint(echoPort))
			})
			t.Run("ncat-push-discard", func(t *testing.T) {
				harness.SkipWithout(t, "ncat")
				e := c.env(t, 120*time.Second)
				res := e.ServeDiscard(e.Listen(discardPort))
				pushClient(t, e, res, c.amount(), "ncat", "-4", "--send-only", harness.StackAddr.String(), fmt.Sprint(discardPort))
			})
			t.Run("ncat-pull-source", func(t *testing.T) {
				harness.SkipWithout(t, "ncat")
				e := c.env(t, 120*time.Second)
				e.ServeSource(e.Listen(sourcePort), 5, c.amount())
				pullClient(t, e, 5, c.amount(), "ncat", "-4", "--recv-only", harness.StackAddr.String(), fmt.Sprint(sourcePort))
			})
		})
	}
}

// TestKernelServer: socat and ncat listen on the kernel side; a ustack
// client pushes data and half-closes, or reads to the kernel's FIN first
// and then sends; both directions are checked by SHA-256.
func TestKernelServer(t *testing.T) {
	harness.Skip(t)
	type server struct {
		tool string
		args func(port int) []string
	}
	servers := []server{
		{"socat", func(p int) []string {
			return []string{"socat", "-t", "60", "-T", "60", fmt.Sprintf("TCP4-LISTEN:%d,bind=%s,reuseaddr", p, harness.HostAddr), "STDIO"}
		}},
		{"ncat", func(p int) []string {
			return []string{"ncat", "-4", "-l", harness.HostAddr.String(), fmt.Sprint(p)}
		}},
	}
	for _, srv := range servers {
		// ustack sends n bytes and half-closes; the kernel server's reply
		// (its own stream, sent concurrently) ends with its FIN.
		for _, order := range []string{"ustack-closes-first", "kernel-closes-first"} {
			t.Run(srv.tool+"/"+order, func(t *testing.T) {
				harness.SkipWithout(t, srv.tool)
				e := harness.New(t, harness.Config{Tag: "ksrv", Deadline: 120 * time.Second})
				up := size(100*mib, 100*mib) // ustack -> kernel
				down := size(16*mib, 16*mib) // kernel -> ustack
				if order == "kernel-closes-first" {
					up, down = down, up
				}
				got := harness.NewHashWriter()
				args := srv.args(5001)
				p := e.StartCmd(e.NS, func(c *exec.Cmd) {
					c.Stdin = harness.NewPattern(21, down)
					c.Stdout = got
				}, args[0], args[1:]...)
				e.Staged("dial the kernel server")
				c := dialRetry(t, e, harness.HostAddrPort(5001))
				defer c.Close()
				start := time.Now()
				recv := harness.NewHashWriter()
				var rerr error
				readDone := make(chan struct{})
				readAll := func() {
					defer close(readDone)
					_, rerr = io.CopyBuffer(recv, struct{ io.Reader }{c}, make([]byte, 256*kib))
				}
				send := func() {
					e.Staged("ustack sends %d bytes (kernel received %d)", up, got.N())
					if _, err := io.CopyBuffer(struct{ io.Writer }{c}, harness.NewPattern(22, up), make([]byte, 256*kib)); err != nil {
						t.Fatalf("ustack write: %v", err)
					}
					if err := harness.CloseWrite(c); err != nil {
						t.Fatalf("ustack CloseWrite: %v", err)
					}
				}
				if order == "ustack-closes-first" {
					go readAll()
					send()
					e.Staged("ustack reads the kernel's stream to its FIN (got %d of %d)", recv.N(), down)
					<-readDone
				} else {
					// Read everything the kernel sends up to its FIN, then
					// answer on the half-open connection.
					readAll()
					send()
				}
				if rerr != nil {
					t.Fatalf("ustack read: %v", rerr)
				}
				e.Staged("waiting for %s to exit", srv.tool)
				if err := p.Wait(60 * time.Second); err != nil {
					t.Fatalf("%s: %v (received %d of %d)", srv.tool, err, got.N(), up)
				}
				d := time.Since(start)
				checkSum(t, "kernel received", got, 22, up)
				checkSum(t, "ustack received", recv, 21, down)
				harness.Summary(t, up+down, d, "up", up, "down", down,
					"ustack_tw", e.Stack.Sockstat().TW, "kernel_TcpEstabResets", e.KernelDelta()["TcpEstabResets"])
			})
		}
	}
}

// dialRetry dials through ustack until the kernel listener is up (bounded).
func dialRetry(t *testing.T, e *harness.Env, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(e.Ctx(), 5*time.Second)
		c, err := e.Stack.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			return c
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func echoClient(t *testing.T, e *harness.Env, tool string, n int64, args ...string) {
	t.Helper()
	got := harness.NewHashWriter()
	var sent harness.Progress
	start := time.Now()
	p := e.StartCmd(e.NS, func(c *exec.Cmd) {
		c.Stdin = sent.Reader(harness.NewPattern(3, n))
		c.Stdout = got
	}, args[0], args[1:]...)
	e.Staged("%s echo: %d bytes", tool, n)
	if err := waitProgress(e, p, 110*time.Second, func() string {
		return fmt.Sprintf("%s echo: sent %d, got back %d of %d", tool, sent.N(), got.N(), n)
	}); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	checkSum(t, "echo", got, 3, n)
	fs := e.FaultStats()
	harness.Summary(t, n, d, "dir", "both", "ustack_retrans", e.UCounter("TcpRetransSegs"),
		"kernel_retrans", e.KernelDelta()["TcpRetransSegs"],
		"injected_drop", fs.In.Dropped+fs.Out.Dropped, "injected_dup", fs.In.Duplicated+fs.Out.Duplicated,
		"injected_reorder", fs.In.Reordered+fs.Out.Reordered)
}

func pushClient(t *testing.T, e *harness.Env, res <-chan harness.Result, n int64, args ...string) {
	t.Helper()
	var sent harness.Progress
	start := time.Now()
	p := e.StartCmd(e.NS, func(c *exec.Cmd) { c.Stdin = sent.Reader(harness.NewPattern(4, n)) }, args[0], args[1:]...)
	e.Staged("%s push %d bytes", args[0], n)
	if err := waitProgress(e, p, 110*time.Second, func() string {
		return fmt.Sprintf("%s push: handed %d of %d bytes to the tool", args[0], sent.N(), n)
	}); err != nil {
		t.Fatal(err)
	}
	e.Staged("waiting for the discard server's result")
	var r harness.Result
	select {
	case r = <-res:
	case <-time.After(30 * time.Second):
		t.Fatalf("discard server reported nothing 30 s after %s exited", args[0])
	}
	d := time.Since(start)
	if r.Err != nil {
		t.Fatalf("discard read: %v", r.Err)
	}
	if r.N != n || r.Sum != harness.PatternSum(4, n) {
		t.Fatalf("discard got %d bytes sha256 %s, want %d %s", r.N, r.Sum, n, harness.PatternSum(4, n))
	}
	harness.Summary(t, n, d, "dir", "kernel->ustack")
}

func pullClient(t *testing.T, e *harness.Env, seed uint64, n int64, args ...string) {
	t.Helper()
	got := harness.NewHashWriter()
	start := time.Now()
	p := e.StartCmd(e.NS, func(c *exec.Cmd) { c.Stdout = got }, args[0], args[1:]...)
	e.Staged("%s pull %d bytes", args[0], n)
	if err := waitProgress(e, p, 110*time.Second, func() string {
		return fmt.Sprintf("%s pull: got %d of %d bytes", args[0], got.N(), n)
	}); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	checkSum(t, "pull", got, seed, n)
	harness.Summary(t, n, d, "dir", "ustack->kernel")
}

// waitProgress waits for p to exit, updating the stage every second with
// how far the transfer got, so a deadline report says where it stuck.
func waitProgress(e *harness.Env, p interface {
	Wait(time.Duration) error
	Done() <-chan struct{}
}, limit time.Duration, where func() string) error {
	deadline := time.Now().Add(limit)
	for {
		e.Staged("%s", where())
		select {
		case <-p.Done():
			if err := p.Wait(0); err != nil {
				return fmt.Errorf("%v: %s", err, where())
			}
			return nil
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stuck after %v: %s", limit, where())
		}
	}
}
