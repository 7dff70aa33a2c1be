// Package cli tests the ustack command itself, as a user runs it: `ustack
// serve` and `ustack dial` on a TUN device inside a private namespace,
// against curl and kernel sockets there.
package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/netns"
)

var (
	stopping atomic.Bool
	died     = make(chan string, 1)
)

const (
	hostPrefix = "192.0.2.1/24"
	hostAddr   = "192.0.2.1"
	stackAddr  = "192.0.2.2"
)

// buildUstack builds the command once per test binary run.
func buildUstack(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ustack")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ustack/ustack/cmd/ustack").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func setup(t *testing.T) (*netns.NS, string) {
	t.Helper()
	if ok, why := netns.Available(); !ok {
		t.Skip(why)
	}
	bin := buildUstack(t)
	ns, err := netns.New("cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns, bin
}

// startServe runs `ustack serve` in ns and waits until it listens.
func startServe(t *testing.T, ns *netns.NS, bin string, extra ...string) (*netns.Proc, *strings.Builder) {
	t.Helper()
	stopping.Store(false)
	select {
	case <-died:
	default:
	}
	args := append([]string{"serve", "-dev", "ut0", "-host", hostPrefix, "-addr", stackAddr,
		"-listen", "80=http", "-listen", "7=echo"}, extra...)
	cmd := ns.Command(context.Background(), bin, args...)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	p, err := netns.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ustack serve stderr:\n%s", stderr.String())
		}
	})
	// A serve process that dies takes its TUN with it and would leave the
	// kernel-side client waiting for its deadline: fail at once instead.
	go func() {
		select {
		case <-p.Done():
			if !stopping.Load() {
				died <- fmt.Sprintf("ustack serve exited: %v\n%s", p.Wait(0), stderr.String())
			}
		case <-time.After(30 * time.Minute):
		}
	}()
	var out strings.Builder
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "SIGINT or SIGTERM stops") {
				close(ready)
				signalled = true
			}
		}
	}()
	select {
	case <-ready:
	case <-p.Done():
		t.Fatalf("ustack serve exited early: %v\n%s", p.Wait(0), stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("ustack serve did not come up\n%s", stderr.String())
	}
	return p, &out
}

func stopServe(t *testing.T, p *netns.Proc) {
	t.Helper()
	stopping.Store(true)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(20 * time.Second); err != nil {
		t.Fatalf("ustack serve did not exit cleanly on SIGTERM: %v", err)
	}
}

// echoThrough pushes n seeded bytes through the echo app from a kernel
// socket in ns and checks the sha256 of what comes back.
func echoThrough(t *testing.T, ns *netns.NS, n int64, deadline time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", stackAddr+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(deadline))
	start := time.Now()
	want := sha256.New()
	errc := make(chan error, 1)
	go func() {
		r := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), n), want)
		_, err := io.Copy(c, r)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		errc <- err
	}()
	got := sha256.New()
	type rd struct {
		m   int64
		err error
	}
	rdc := make(chan rd, 1)
	go func() {
		m, err := io.Copy(got, c)
		rdc <- rd{m, err}
	}()
	var m int64
	select {
	case r := <-rdc:
		m, err = r.m, r.err
	case msg := <-died:
		c.Close()
		t.Fatal(msg)
	}
	if err != nil {
		t.Fatalf("echo read after %d bytes: %v", m, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("echo write: %v", err)
	}
	if m != n || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("echo returned %d of %d bytes, sha256 equal: %v", m, n, string(got.Sum(nil)) == string(want.Sum(nil)))
	}
	return time.Since(start)
}

func size(full, short int64) int64 {
	if os.Getenv("USTACK_FULL") != "" {
		return full
	}
	return short
}

// Issue 2 acceptance: curl gets the page from `ustack serve`, and data
// through its echo app comes back byte-identical, on a clean link and on a
// link impaired by the seeded fault injector.
func TestServe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		impair string
		bytes  int64
	}{
		{"clean", "", size(100<<20, 100<<20)},
		{"impaired", "loss=2%,reorder=5%,dup=1%,delay=20ms,jitter=5ms,seed=7", size(100<<20, 2<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, bin := setup(t)
			var extra []string
			if tc.impair != "" {
				extra = []string{"-impair", tc.impair}
			}
			p, out := startServe(t, ns, bin, extra...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if netns.Have("curl") {
				page, err := ns.Command(ctx, "curl", "-sS", "--max-time", "25", "http://"+stackAddr+"/").CombinedOutput()
				if err != nil || !strings.Contains(string(page), "ustack") {
					t.Fatalf("curl: %v: %s", err, page)
				}
			}
			d := echoThrough(t, ns, tc.bytes, 10*time.Minute)
			stopServe(t, p)
			if !strings.Contains(out.String(), "TcpPassiveOpens") {
				t.Errorf("serve printed no counters on exit:\n%s", out.String())
			}
			fmt.Printf("SUMMARY scenario=cli/serve/%s bytes=%d secs=%.2f MiB/s=%.1f\n", tc.name, tc.bytes, d.Seconds(), float64(tc.bytes)/(1<<20)/d.Seconds())
		})
	}
}

// Issue 2 acceptance: `ustack dial` moves data to a kernel server
// byte-identically and half-closes on stdin EOF.
func TestDial(t *testing.T) {
	ns, bin := setup(t)
	n := size(100<<20, 100<<20)
	// The TUN (and so 192.0.2.1) only exists once ustack dial has made it.
	l, err := ns.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		n   int64
		sum []byte
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Minute))
		h := sha256.New()
		m, err := io.Copy(h, c) // ends at the FIN ustack sends on stdin EOF
		if err == nil {
			_, err = io.WriteString(c, "got it\n")
		}
		res <- result{m, h.Sum(nil), err}
	}()
	in := filepath.Join(t.TempDir(), "in")
	f, _ := os.Create(in)
	want := sha256.New()
	io.Copy(io.MultiWriter(f, want), io.LimitReader(rand.NewChaCha8([32]byte{2}), n))
	f.Close()
	stdin, _ := os.Open(in)
	defer stdin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := ns.Command(ctx, bin, "dial", "-dev", "ut1", "-host", hostPrefix, "-addr", stackAddr, hostAddr+":9000")
	cmd.Stdin = stdin
	start := time.Now()
	out, err := cmd.Output()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("ustack dial: %v", err)
	}
	r := <-res
	if r.err != nil || r.n != n || string(r.sum) != string(want.Sum(nil)) {
		t.Fatalf("kernel server got %d of %d bytes (err %v), sha256 equal %v", r.n, n, r.err, string(r.sum) == string(want.Sum(nil)))
	}
	if string(out) != "got it\n" {
		t.Fatalf("ustack dial printed %q, want the server's reply after the half-close", out)
	}
	fmt.Printf("SUMMARY scenario=cli/dial bytes=%d secs=%.2f MiB/s=%.1f\n", n, d.Seconds(), float64(n)/(1<<20)/d.Seconds())
}

// Clear errors for the mistakes users make.
func TestUsageErrors(t *testing.T) {
	bin := buildUstack(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "-listen"},
		{[]string{"serve", "-dev", "x", "-host", "300.1.1.1/24", "-addr", "192.0.2.2", "-listen", "80=http"}, "-host"},
		{[]string{"serve", "-dev", "x", "-host", "192.0.2.1/24", "-addr", "192.0.2.2", "-listen", "80=ftp"}, "unknown app"},
		{[]string{"serve", "-dev", "x", "-host", "192.0.2.1/24", "-addr", "192.0.2.2", "-listen", "80=http", "-o", "net.ipv4.nope=1"}, "nope"},
		{[]string{"dial", "-dev", "x", "-host", "192.0.2.1/24", "-addr", "192.0.2.2"}, "HOST:PORT"},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("ustack %s: err %v, output %q; want an error mentioning %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ustack serve") {
		t.Errorf("ustack help: %v %s", err, out)
	}
}
