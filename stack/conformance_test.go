package stack

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/nettest"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tun"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newRealPair returns two stacks with workers and the real clock, linked
// by an in-memory tun.Pipe: the configuration of a real deployment minus
// the kernel.
func newRealPair(t testing.TB) (a, b *Stack) {
	t.Helper()
	ea, eb := tun.NewPipe(tun.PipeConfig{MTU: 1500, QueueLen: 4096})
	mk := func(dev tun.Device, addr netip.Addr) *Stack {
		o := DefaultOptions()
		o.Addrs = []netip.Addr{addr}
		o.Workers = 2
		s, err := New(dev, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return mk(ea, addrA), mk(eb, addrB)
}

// TestNetConn runs golang.org/x/net/nettest's net.Conn conformance suite
// (blocking, deadlines, concurrent use, close semantics) over two stacks.
// It uses the real clock: it tests blocking semantics, not timing.
func TestNetConn(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance suite is slow")
	}
	a, b := newRealPair(t)
	ln, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			c, err := ln.Accept()
			ch <- res{c, err}
		}()
		c1, err = a.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			return nil, nil, nil, err
		}
		r := <-ch
		if r.err != nil {
			c1.Close()
			return nil, nil, nil, r.err
		}
		c2 = r.c
		stop = func() {
			c1.Close()
			c2.Close()
		}
		return c1, c2, stop, nil
	})
}

// TestHTTP serves net/http over one stack and requests it from the other,
// with keep-alive (one connection reused) and without (a connection per
// request, closed by the server first, leaving TIME-WAIT records there).
func TestHTTP(t *testing.T) {
	a, b := newRealPair(t)
	ln, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s %s", r.URL.Path, strings.Repeat("x", 3000))
	})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-done
	}()
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keepalive=%v", keepAlive), func(t *testing.T) {
			tr := &http.Transport{
				DialContext:       a.DialContext,
				DisableKeepAlives: !keepAlive,
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for i := range 100 {
				resp, err := client.Get(fmt.Sprintf("http://10.0.0.2/r%d", i))
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !strings.HasPrefix(string(body), fmt.Sprintf("hello /r%d ", i)) || len(body) < 3000 {
					t.Fatalf("request %d: %d bytes, %v", i, len(body), err)
				}
			}
		})
	}
}

// TestWorkersVirtualClock: stacks with reader and worker goroutines on a
// virtual clock. Packets flow in real time through the workers while the
// timers only move with Advance: the server's TIME-WAIT record lives
// exactly 60 virtual seconds.
func TestWorkersVirtualClock(t *testing.T) {
	clk := NewVirtualClock()
	ea, eb := tun.NewPipe(tun.PipeConfig{MTU: 1500})
	mk := func(dev tun.Device, addr netip.Addr) *Stack {
		o := DefaultOptions()
		o.Addrs, o.Clock, o.Workers = []netip.Addr{addr}, clk, 2
		s, err := New(dev, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := mk(ea, addrA), mk(eb, addrB)
	ln, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc.Close() // the server closes first
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read: %v", err)
	}
	c.Close()
	// Wait for the TIME_WAIT substate: the record exists (as FIN_WAIT2)
	// before the client's FIN arrives.
	waitFor(t, "server TIME-WAIT", func() bool { return countState(b.Sockets(), tcp.StateTimeWait) == 1 })
	// And nothing in flight: the client got the last ACK (otherwise the
	// virtual clock could fire its FIN retransmission, which re-arms the
	// record, TIMER-2).
	waitFor(t, "client gone", func() bool { return len(a.Sockets()) == 0 })
	clk.Advance(59 * time.Second)
	if b.Sockstat().TW != 1 {
		t.Fatal("record expired early")
	}
	clk.Advance(2 * time.Second)
	if b.Sockstat().TW != 0 {
		t.Fatal("record alive after 61 s")
	}
}

// waitFor yields until cond holds (packets are in flight on worker
// goroutines); it never sleeps and gives up after a bounded number of tries.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 5_000_000; i++ {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("timed out waiting for %s", what)
}
