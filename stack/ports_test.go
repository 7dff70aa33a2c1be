package stack

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// TestPort3_EvenPortsFirst (PORT-3, SCN-52; SYSCTL-10: the two reserved ports
// are never picked, so 10 of 12 ports are usable): connect() without bind picks
// ports of the range's low parity while any is usable; bind(0) prefers the
// other parity.
func TestPort3_EvenPortsFirst(t *testing.T) {
	l, _ := newLinkedStacks(t, func(o *Options) {
		o.IPLocalPortRange = [2]int{40000, 40011}
		o.IPLocalReservedPorts = [][2]int{{40010, 40011}} // PORT-4: skipped
	}, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 10; i++ {
		c, err := l.a.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		port := c.LocalAddr().(*net.TCPAddr).Port
		if even := port%2 == 0; even != (i < 5) {
			t.Errorf("connect %d got port %d: even ports must come first", i, port)
		}
	}
	// The range is exhausted for this destination (TW-REUSE-14).
	if _, err := l.a.Dial("tcp", "10.0.0.2:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("dial with a full range: %v, want EADDRNOTAVAIL", err)
	}
	// A different destination port reuses the same local ports (4-tuple).
	ln2, err := l.b.Listen("tcp", ":81")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	c, err := l.a.Dial("tcp", "10.0.0.2:81")
	if err != nil {
		t.Fatalf("dial to another port: %v", err)
	}
	conns = append(conns, c)
}

// TestPort8_BindConflicts (PORT-8): bind to a port held by a TIME-WAIT
// record fails without SO_REUSEADDR on both; a listener port conflicts.
func TestPort8_BindConflicts(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := l.b.Listen("tcp", ":80"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second listen: %v, want EADDRINUSE", err)
	}
	if _, err := l.b.Listen("tcp", "10.9.9.9:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("listen on a foreign address: %v, want EADDRNOTAVAIL", err)
	}
	// A client connection closed first by A leaves a record on A's port.
	c, s := connectPair(t, l, ln)
	port := c.LocalAddr().(*net.TCPAddr).Port
	closeFirst(t, c, s)
	laddr := &net.TCPAddr{IP: addrA.AsSlice(), Port: port}
	raddr := &net.TCPAddr{IP: addrB.AsSlice(), Port: 80}
	if _, err := l.a.DialTCP("tcp", laddr, raddr); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("bind to a TIME-WAIT port without SO_REUSEADDR: %v, want EADDRINUSE", err)
	}
	// The record did not have SO_REUSEADDR either, so reuse on the new
	// socket alone is not enough.
	d := &Dialer{Stack: l.a, LocalAddr: laddr, ReuseAddr: true}
	if _, err := d.DialContext(t.Context(), "tcp", "10.0.0.2:80"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("bind with SO_REUSEADDR on one side only: %v, want EADDRINUSE", err)
	}
}

// TestTWReuse8_BoundPortTakesRecord (PORT-8, TW-REUSE-8, SCN-40): with
// SO_REUSEADDR on the old and the new socket, an explicit bind to the
// record's port succeeds and connect() takes the record over at once,
// whatever tcp_tw_reuse says.
func TestTWReuse8_BoundPortTakesRecord(t *testing.T) {
	l, _ := newLinkedStacks(t, func(o *Options) { o.TCPTwReuse = 0 }, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := &Dialer{Stack: l.a, ReuseAddr: true}
	c, err := d.DialContext(t.Context(), "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.TCPAddr).Port
	closeFirst(t, c, s)
	if l.a.Sockstat().TW != 1 {
		t.Fatalf("no record")
	}
	d.LocalAddr = &net.TCPAddr{IP: addrA.AsSlice(), Port: port}
	c2, err := d.DialContext(t.Context(), "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatalf("bound connect over a TIME-WAIT record: %v", err)
	}
	defer c2.Close()
	if l.a.Sockstat().TW != 0 {
		t.Errorf("record survived the reuse")
	}
}
