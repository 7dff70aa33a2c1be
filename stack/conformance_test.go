package stack

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/nettest"

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
