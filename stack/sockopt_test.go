package stack

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp/header"
)

// TestSockopt_Buffers: SO_RCVBUF/SO_SNDBUF are capped at
// net.core.[rw]mem_max, doubled and floored at SOCK_MIN_[RS]*BUF, and read
// back doubled, like Linux's sock_setsockopt/getsockopt.
func TestSockopt_Buffers(t *testing.T) {
	_, c, _ := establishActive(t, nil, Dialer{})
	if v, _ := c.ReadBuffer(); v != 131072 {
		t.Errorf("default SO_RCVBUF %d, want tcp_rmem[1] 131072", v)
	}
	if v, _ := c.WriteBuffer(); v < 16384 {
		t.Errorf("default SO_SNDBUF %d, want at least tcp_wmem[1] 16384 (tcp_sndbuf_expand grows it)", v)
	}
	for _, tc := range []struct {
		set, rcv, snd int
	}{
		{1000, 2304, 4608},
		{65536, 131072, 131072},
		{1 << 30, 2 * 212992, 2 * 212992},
		{-1, 2 * 212992, 2 * 212992},
	} {
		if err := c.SetReadBuffer(tc.set); err != nil {
			t.Fatal(err)
		}
		if err := c.SetWriteBuffer(tc.set); err != nil {
			t.Fatal(err)
		}
		rcv, _ := c.ReadBuffer()
		snd, _ := c.WriteBuffer()
		if rcv != tc.rcv || snd != tc.snd {
			t.Errorf("set %d: SO_RCVBUF %d SO_SNDBUF %d, want %d %d", tc.set, rcv, snd, tc.rcv, tc.snd)
		}
	}
}

// TestSockopt_Validation: values setsockopt refuses with EINVAL.
func TestSockopt_Validation(t *testing.T) {
	_, c, _ := establishActive(t, nil, Dialer{})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"TCP_MAXSEG 87", c.SetMaxSeg(87)},
		{"TCP_MAXSEG 32768", c.SetMaxSeg(32768)},
		{"TCP_USER_TIMEOUT -1", c.SetUserTimeout(-time.Millisecond)},
		{"TCP_KEEPIDLE 32768 s", c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 32768 * time.Second})},
		{"TCP_KEEPINTVL 40000 s", c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Interval: 40000 * time.Second})},
		{"TCP_KEEPCNT 128", c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Count: 128})},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErrno(t, tc.err, "set", syscall.EINVAL) })
	}
	for _, mss := range []int{0, 88, 32767} {
		if err := c.SetMaxSeg(mss); err != nil {
			t.Errorf("TCP_MAXSEG %d: %v", mss, err)
		}
	}
}

// TestSockopt_Getters: what getsockopt returns after the setters.
func TestSockopt_Getters(t *testing.T) {
	_, c, _ := establishActive(t, nil, Dialer{})
	if v, _ := c.NoDelay(); !v {
		t.Errorf("TCP_NODELAY off by default, Go turns it on")
	}
	if v, _ := c.Linger2(); v != 60 {
		t.Errorf("TCP_LINGER2 default %d, want tcp_fin_timeout 60", v)
	}
	// CONST-3, VER-9: TCP_LINGER2 is capped at TCP_FIN_TIMEOUT_MAX = 120 s [6.18].
	for _, tc := range []struct{ set, want int }{{30, 30}, {500, 120}, {-5, -1}, {0, 60}} {
		c.SetLinger2(tc.set)
		if v, _ := c.Linger2(); v != tc.want {
			t.Errorf("TCP_LINGER2 set %d reads %d, want %d (FW2-8)", tc.set, v, tc.want)
		}
	}
	k, _ := c.KeepAliveConfig()
	if k.Enable || k.Idle != 7200*time.Second || k.Interval != 75*time.Second || k.Count != 9 {
		t.Errorf("default keepalive %+v, want the sysctls", k)
	}
	c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 1500 * time.Millisecond, Interval: 0, Count: 3})
	k, _ = c.KeepAliveConfig()
	if !k.Enable || k.Idle != 2*time.Second || k.Interval != 15*time.Second || k.Count != 3 {
		t.Errorf("keepalive %+v, want on, 2 s (rounded up), 15 s (Go default), 3", k)
	}
	c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: false, Idle: -1, Interval: -1, Count: -1})
	k, _ = c.KeepAliveConfig()
	if k.Enable || k.Idle != 2*time.Second || k.Count != 3 {
		t.Errorf("negative values must keep the settings: %+v", k)
	}
	c.SetUserTimeout(1500*time.Microsecond + 2*time.Second)
	if v, _ := c.UserTimeout(); v != 2001*time.Millisecond {
		t.Errorf("TCP_USER_TIMEOUT %v, want 2.001s", v)
	}
	c.SetCork(true)
	if v, _ := c.Cork(); !v {
		t.Errorf("TCP_CORK not read back")
	}
	c.SetCork(false)
	c.SetNotSentLowat(4096)
	if v, _ := c.NotSentLowat(); v != 4096 {
		t.Errorf("TCP_NOTSENT_LOWAT %d", v)
	}
	c.SetTOS(0x2f)
	if v, _ := c.TOS(); v != 0x2c {
		t.Errorf("IP_TOS %#x, want 0x2c (ECN bits are TCP's)", v)
	}
	if v, _ := c.MaxSeg(); v != 1448 {
		t.Errorf("TCP_MAXSEG %d, want mss_cache 1448 (1460 - TS)", v)
	}
	c.SetLinger(3)
	if v, _ := c.Linger(); v != 3 {
		t.Errorf("SO_LINGER %d", v)
	}
	c.StartClose() // Close would wait for the FIN's ACK on the virtual clock
	if _, err := c.NoDelay(); err == nil {
		t.Errorf("getter on a closed socket succeeded")
	} else {
		isOpError(t, err, "get")
	}
}

// TestListener_Inherit: an accepted connection inherits the listener's
// socket options, as Linux's children do (sk_clone_lock).
func TestListener_Inherit(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tl := ln.(*TCPListener)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tl.SetNoDelay(false))
	must(tl.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 4}))
	must(tl.SetLinger2(20))
	must(tl.SetUserTimeout(7 * time.Second))
	must(tl.SetLinger(4))
	must(tl.SetMaxSeg(1200))
	must(tl.SetReadBuffer(65536))
	must(tl.SetWriteBuffer(32768))
	must(tl.SetNotSentLowat(1000))
	wantErrno(t, tl.SetMaxSeg(10), "set", syscall.EINVAL)
	if v, _ := tl.MaxSeg(); v != 1200 {
		t.Errorf("listener TCP_MAXSEG %d", v)
	}
	c, s := connectPair(t, l, ln)
	defer c.Close()
	sc := s.(*TCPConn)
	if v, _ := sc.NoDelay(); v {
		t.Errorf("TCP_NODELAY not inherited")
	}
	if k, _ := sc.KeepAliveConfig(); !k.Enable || k.Idle != 30*time.Second || k.Interval != 5*time.Second || k.Count != 4 {
		t.Errorf("keepalive %+v not inherited", k)
	}
	if v, _ := sc.Linger2(); v != 20 {
		t.Errorf("TCP_LINGER2 %d not inherited", v)
	}
	if v, _ := sc.UserTimeout(); v != 7*time.Second {
		t.Errorf("TCP_USER_TIMEOUT %v not inherited", v)
	}
	if v, _ := sc.Linger(); v != 4 {
		t.Errorf("SO_LINGER %d not inherited", v)
	}
	if v, _ := sc.ReadBuffer(); v != 131072 {
		t.Errorf("SO_RCVBUF %d not inherited", v)
	}
	if v, _ := sc.WriteBuffer(); v != 65536 {
		t.Errorf("SO_SNDBUF %d not inherited", v)
	}
	if v, _ := sc.NotSentLowat(); v != 1000 {
		t.Errorf("TCP_NOTSENT_LOWAT %d not inherited", v)
	}
	if v, _ := sc.MaxSeg(); v > 1200 {
		t.Errorf("send MSS %d above the inherited TCP_MAXSEG", v)
	}
	sc.SetLinger(-1)
	sc.Close()

	// Without listener options the child gets Go's TCP_NODELAY.
	ln2, err := l.b.Listen("tcp", ":81")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	c2, err := l.a.Dial("tcp", "10.0.0.2:81")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	s2, err := ln2.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, _ := s2.(*TCPConn).NoDelay(); !v {
		t.Errorf("default child has TCP_NODELAY off")
	}
}

// TestListener_NagleInherited: a child of a listener with TCP_NODELAY off
// holds a small segment while one is unacknowledged (Nagle), a packet-level
// check that the option reached the engine.
func TestListener_NagleInherited(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	ln, err := s.ListenTCP("tcp", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.SetNoDelay(false)
	p := &peer{t: t, s: s, end: end, port: 40000, lp: uint16(ln.Addr().(*net.TCPAddr).Port)}
	sa := p.sendOne(p.seg(header.FlagSYN, 1000, 0, &header.Options{HasMSS: true, MSS: 1460}, nil))
	iss := sa.tcp.Seq()
	p.sendNone(p.seg(header.FlagACK, 1001, iss+1, nil, nil))
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("a"))
	c.Write([]byte("b"))
	out := drain(end)
	if len(out) != 1 || string(parse(t, out[0]).tcp.Payload()) != "a" {
		t.Fatalf("got %d segments, want only \"a\" (Nagle holds \"b\")", len(out))
	}
	next := p.sendOne(p.seg(header.FlagACK, 1001, iss+2, nil, nil))
	if string(next.tcp.Payload()) != "b" {
		t.Errorf("after the ACK got %q, want \"b\"", next.tcp.Payload())
	}
}
