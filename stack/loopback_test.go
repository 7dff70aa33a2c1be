package stack

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
)

// TestLoopback_SelfConnect: connections to the stack's own address and to
// 127.0.0.1 are looped back internally, never touching the device.
func TestLoopback_SelfConnect(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, addr := range []string{"10.0.0.1:80", "127.0.0.1:80"} {
		c, err := s.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("loop")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		n, err := sc.Read(buf)
		if err != nil || string(buf[:n]) != "loop" {
			t.Fatalf("read %q %v", buf[:n], err)
		}
		c.Close()
		if _, err := sc.Read(buf); err != io.EOF {
			t.Fatalf("read after FIN: %v", err)
		}
		sc.Close()
	}
	if n := len(drain(end)); n != 0 {
		t.Errorf("%d packets reached the device", n)
	}
}

// TestTWReuse3_LoopbackOnly (TW-REUSE-2/3/5, SYSCTL-1, SCN-38): with the
// default tcp_tw_reuse = 2, a TIME-WAIT record between loopback addresses
// is reused by connect() once tcp_tw_reuse_delay has passed.
func TestTWReuse3_LoopbackOnly(t *testing.T) {
	s, _, clk := newCaptureStack(t, func(o *Options) { o.IPLocalPortRange = [2]int{40000, 40000} })
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := s.Dial("tcp", "127.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	io.ReadAll(sc)
	sc.Close()
	if s.Sockstat().TW != 1 {
		t.Fatalf("no record: %v", s.Sockets())
	}
	if _, err := s.Dial("tcp", "127.0.0.1:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("connect within the delay: %v, want EADDRNOTAVAIL", err)
	}
	clk.Advance(1002 * time.Millisecond)
	c2, err := s.Dial("tcp", "127.0.0.1:80")
	if err != nil {
		t.Fatalf("connect after the delay: %v", err)
	}
	defer c2.Close()
	if got := s.Counters().Get(metrics.TcpExtTWRecycled); got != 1 {
		t.Errorf("TWRecycled = %d, want 1", got)
	}
}

// TestTWReuse3_NotLoopback (SCN-38): the same with real addresses is
// refused under tcp_tw_reuse = 2.
func TestTWReuse3_NotLoopback(t *testing.T) {
	l, clk := newLinkedStacks(t, func(o *Options) { o.IPLocalPortRange = [2]int{40000, 40000} }, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	closeFirst(t, c, s)
	clk.Advance(2 * time.Second)
	if _, err := l.a.Dial("tcp", "10.0.0.2:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("connect: %v, want EADDRNOTAVAIL", err)
	}
}

// TestIPInput_MartianLoopback: 127.0.0.0/8 arriving from the device is
// dropped.
func TestIPInput_MartianLoopback(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	p := rstProbe()
	copy(p[16:20], []byte{127, 0, 0, 1})
	fixIPChecksum(p)
	s.DeliverPacket(p)
	if len(drain(end)) != 0 || s.Counters().Get(metrics.IpInAddrErrors) != 1 {
		t.Errorf("martian destination not dropped and counted")
	}
}
