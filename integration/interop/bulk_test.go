package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
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

// amount is the transfer size on c: 256 MiB on a clean link, 100 MiB
// impaired under USTACK_FULL (16 MiB otherwise: at 2% loss and 40 ms RTT
// any TCP moves well under 1 MiB/s). The race detector divides by 16.
func (c condition) amount() int64 {
	if c.big {
		return size(256*mib, 256*mib)
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
		args func(port int, ustackFirst bool) []string
	}
	servers := []server{
		{"socat", func(p int, _ bool) []string {
			return []string{"socat", "-t", "60", "-T", "60", fmt.Sprintf("TCP4-LISTEN:%d,bind=%s,reuseaddr", p, harness.HostAddr), "STDIO"}
		}},
		// ncat -l stops sending as soon as its peer half-closes (checked
		// with two kernel sockets: 16 KiB of 16 MiB arrive), so when ustack
		// closes first ncat only receives.
		{"ncat", func(p int, ustackFirst bool) []string {
			a := []string{"ncat", "-4", "-l", harness.HostAddr.String(), fmt.Sprint(p)}
			if ustackFirst {
				a = append(a, "--recv-only")
			}
			return a
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
				if srv.tool == "ncat" && order == "ustack-closes-first" {
					down = 0
				}
				got := harness.NewHashWriter()
				args := srv.args(5001, order == "ustack-closes-first")
				// The kernel server's stream is held back until ustack has
				// half-closed when ustack is to close first, so the FINs
				// leave in the order the scenario names.
				gate := make(chan struct{})
				if order == "kernel-closes-first" {
					close(gate)
				}
				p := e.StartCmd(e.NS, func(c *exec.Cmd) {
					c.Stdin = &gatedReader{gate: gate, done: e.Ctx().Done(), r: harness.NewPattern(21, down)}
					c.Stdout = got
				}, args[0], args[1:]...)
				e.Staged("wait for %s to listen", srv.tool)
				waitListen(t, e, 5001)
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
					close(gate)
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
				c.Close()
				orderlyClose(t, e)
				utw := e.UTimeWait(5001)
				ktw, _ := e.NS.TimeWaitSockets(":5001")
				// The first to close holds TIME-WAIT; the other may too if
				// its own FIN crossed (a simultaneous close: CLOSING).
				if order == "ustack-closes-first" && utw != 1 || order == "kernel-closes-first" && ktw != 1 {
					t.Errorf("%s: TIME-WAIT on ustack %d, on the kernel %d; FINs:\n%s", order, utw, ktw,
						e.Tap.Dump(10, func(h harness.TCPFields) bool { return h.Flags&harness.FIN != 0 }))
				}
				harness.Summary(t, up+down, d, "up", up, "down", down,
					"ustack_tw", utw, "kernel_tw", ktw)
			})
		}
	}
}

// waitListen waits (bounded) until a kernel socket listens on port in the
// namespace, so the first SYN is not refused.
func waitListen(t *testing.T, e *harness.Env, port int) {
	t.Helper()
	waitFor(t, 10*time.Second, func() bool {
		out, err := e.NS.Output(e.Ctx(), "ss", "-Hltn", fmt.Sprintf("sport = :%d", port))
		return err == nil && strings.TrimSpace(out) != ""
	}, func() string { return fmt.Sprintf("nothing listens on port %d after 10 s", port) })
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

// orderlyClose checks that no RST was sent, on links that cannot deliver a
// segment after the connection is gone: with reordering, jitter or
// duplication a late ACK can reach a closed socket and be answered with a
// RST, by Linux as by ustack.
func orderlyClose(t *testing.T, e *harness.Env) {
	t.Helper()
	if strings.Contains(e.Cfg.Impair, "reorder") || strings.Contains(e.Cfg.Impair, "jitter") || strings.Contains(e.Cfg.Impair, "dup") {
		return
	}
	settle()
	noRSTs(t, e)
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
	orderlyClose(t, e)
	fs := e.FaultStats()
	ooo, _ := e.Tap.OutOfOrderSends()
	harness.Summary(t, n, d, "dir", "both", "ustack_retrans", e.UCounter("TcpRetransSegs"),
		"ustack_dsack_recv", e.UCounter("TcpExtTCPDSACKRecv"), "ustack_ooo_writes_last8k", ooo,
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
	orderlyClose(t, e)
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
	orderlyClose(t, e)
	ooo, ex := e.Tap.OutOfOrderSends()
	if ooo > 0 {
		t.Logf("ustack wrote %d data segments out of sequence order (last 8k packets), e.g. %s", ooo, ex)
	}
	harness.Summary(t, n, d, "dir", "ustack->kernel", "ustack_retrans", e.UCounter("TcpRetransSegs"),
		"ustack_dsack_recv", e.UCounter("TcpExtTCPDSACKRecv"), "ustack_ooo_writes_last8k", ooo,
		"kernel_ofo_queued", e.KernelDelta()["TcpExtTCPOFOQueue"])
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

// gatedReader blocks until gate is closed, then reads from r; it returns
// EOF if done is closed first (the Env's teardown), so the command's
// stdin copier never outlives the scenario.
type gatedReader struct {
	gate, done <-chan struct{}
	r          io.Reader
}

func (g *gatedReader) Read(p []byte) (int, error) {
	select {
	case <-g.gate:
		return g.r.Read(p)
	case <-g.done:
		return 0, io.EOF
	}
}
