package stack

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

func isOpError(t *testing.T, err error, op string) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != op || oe.Net != "tcp" {
		t.Errorf("error %v (%T) is not a *net.OpError{Op: %q, Net: tcp}", err, err, op)
	}
}

// TestDial_Refused: a SYN answered by a RST fails with ECONNREFUSED
// wrapped in *net.OpError.
func TestDial_Refused(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	_, err := l.a.Dial("tcp", "10.0.0.2:9")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial: %v, want ECONNREFUSED", err)
	}
	isOpError(t, err, "dial")
	if n := len(l.a.Sockets()); n != 0 {
		t.Errorf("%d sockets left", n)
	}
}

// TestDial_SynRetriesTimeout: with every packet dropped, connect gives up
// after tcp_syn_retries (6: 1+2+...+64 = 127 s) with ETIMEDOUT, on the
// virtual clock.
func TestDial_SynRetriesTimeout(t *testing.T) {
	l, clk := newLinkedStacks(t, nil, nil)
	syns := make(chan struct{}, 16)
	l.drop = func(dir string, pkt []byte) bool {
		if dir == "a>b" {
			syns <- struct{}{}
		}
		return true
	}
	errc := make(chan error, 1)
	go func() {
		_, err := l.a.Dial("tcp", "10.0.0.2:80")
		errc <- err
	}()
	<-syns // the first SYN is out
	clk.Advance(126 * time.Second)
	select {
	case err := <-errc:
		t.Fatalf("dial ended early: %v", err)
	default:
	}
	clk.Advance(2 * time.Second)
	err := <-errc
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("dial: %v, want ETIMEDOUT", err)
	}
	if n := len(syns) + 1; n != 7 {
		t.Errorf("%d SYNs sent, want 7", n)
	}
}

// TestDial_ContextCancel: cancelling a connect in SYN_SENT returns the
// context's error and leaves nothing behind (CLOSE-8: nothing is sent).
func TestDial_ContextCancel(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	l.drop = func(dir string, pkt []byte) bool { cancel(); return true }
	_, err := l.a.DialContext(ctx, "tcp", "10.0.0.2:80")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial: %v, want context.Canceled", err)
	}
	if n := len(l.a.Sockets()); n != 0 {
		t.Errorf("%d sockets left: %v", n, l.a.Sockets())
	}
}

// TestConn_DeadlinesAndClose: deadlines wrap os.ErrDeadlineExceeded, reads
// after Close return net.ErrClosed, writes after the peer's reset fail.
func TestConn_DeadlinesAndClose(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
	isOpError(t, err, "read")
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("deadline error is not a net.Error timeout")
	}
	ln.(*TCPListener).SetDeadline(time.Now().Add(-time.Second))
	if _, err := ln.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("accept past deadline: %v", err)
	}
	// SO_LINGER 0: close resets (CLOSE-7, SCN-30).
	if err := s.(*TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := l.b.Counters().Get(metrics.TcpExtTCPAbortOnData); got != 1 {
		t.Errorf("TCPAbortOnData = %d, want 1", got)
	}
	c.SetReadDeadline(time.Time{})
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after RST: %v, want ECONNRESET", err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Errorf("write after RST succeeded")
	}
	c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if n := len(l.b.Sockets()); n != 1 {
		t.Errorf("server sockets %v, want only the listener", l.b.Sockets())
	}
}

// TestConn_HalfClose: CloseWrite sends FIN (CLOSE-18), the peer reads EOF
// and can still send; the socket that half-closed reads it.
func TestConn_HalfClose(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	if err := c.(*TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if r, w := s.(*TCPConn).Poll(); !r || !w {
		t.Errorf("Poll after the peer's FIN: readable %v writable %v, want both", r, w)
	}
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server read: %v, want EOF", err)
	}
	if _, err := s.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.(*TCPConn).Poll(); !r {
		t.Errorf("Poll: not readable with data queued")
	}
	buf := make([]byte, 10)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if st := c.(*TCPConn).State(); st != tcp.StateFinWait2 {
		t.Errorf("state %v, want FIN-WAIT-2 (attached, no timer: FW2-3)", st)
	}
	s.Close()
	c.Close()
}

// TestConn_LingerWaitsForAck (CLOSE-13): Close with linger > 0 returns once
// the FIN is acknowledged.
func TestConn_LingerWaitsForAck(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	defer s.Close()
	c.(*TCPConn).SetLinger(5)
	var finAcked bool
	l.tap = func(dir string, pkt []byte) {
		p := parse(t, pkt)
		if dir == "b>a" && p.tcp.Flags()&header.FlagACK != 0 {
			finAcked = true
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !finAcked {
		t.Errorf("Close returned before the FIN was acknowledged")
	}
}
