package stack

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// connectPair dials B:80 from A and accepts on B.
func connectPair(t *testing.T, l *syncLink, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	c, err := l.a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// closeFirst closes first, then lets other read EOF and close.
func closeFirst(t *testing.T, first, other net.Conn) {
	t.Helper()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := other.Read(buf); err != io.EOF {
		t.Fatalf("read after peer FIN: %v", err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
}

func countState(socks []SocketInfo, st tcp.State) int {
	n := 0
	for _, s := range socks {
		if s.State == st {
			n++
		}
	}
	return n
}

// TestTWEnter_ServerClosesFirst (TW-ENTER-1/7, MIB-1, MIB-STAT-1, FW2-10):
// TW-ENTER-10: the record counts in sockstat tw, not in inuse, and is
// listed with its remaining time. MIB-STAT-3: inuse counts only the
// listener once the connection became a record. TW-ENTER-8: the attached
// socket sees CLOSE.
// the server closes first and keeps the 4-tuple as a TIME-WAIT record for
// exactly 60 s; the passive closer (client) keeps nothing (CLOSE-21).
func TestTWEnter_ServerClosesFirst(t *testing.T) {
	l, clk := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	closeFirst(t, s, c)

	socks := l.b.Sockets()
	if countState(socks, tcp.StateTimeWait) != 1 {
		t.Fatalf("server sockets: %v", socks)
	}
	for _, si := range socks {
		if si.TimeWait && (si.Remaining <= 59*time.Second || si.Remaining > 60*time.Second) {
			t.Errorf("remaining %v, want 60 s", si.Remaining)
		}
	}
	if got := l.b.Counters().Get(metrics.TcpExtTW); got != 1 {
		t.Errorf("TW = %d, want 1 (counted at entry in 6.18)", got)
	}
	if len(l.a.Sockets()) != 0 {
		t.Errorf("client kept state: %v", l.a.Sockets())
	}
	if st := l.b.Sockstat(); st.TW != 1 || st.InUse != 1 {
		t.Errorf("sockstat %v, want tw 1 inuse 1 (the listener)", st)
	}
	// TW-ENTER-9: the application's socket reads EOF.
	if tc, ok := s.(*TCPConn); ok && tc.State() != tcp.StateClose {
		t.Errorf("server conn state %v, want CLOSE", tc.State())
	}
	clk.Advance(60*time.Second + time.Millisecond)
	if st := l.b.Sockstat(); st.TW != 0 {
		t.Fatalf("record alive after 60 s: %v", l.b.Sockets())
	}
}

// TestTWEnter_MaxBucketsZero (TW-ENTER-2/3, SCN-34; CLOSE-24: the socket is
// simply finished and its connect()-chosen port released): with
// tcp_max_tw_buckets = 0 no record is created, TCPTimeWaitOverflow counts,
// and the port is released at once.
func TestTWEnter_MaxBucketsZero(t *testing.T) {
	l, _ := newLinkedStacks(t, func(o *Options) { o.TCPMaxTwBuckets = 0 }, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	port := c.LocalAddr().(*net.TCPAddr).Port
	closeFirst(t, c, s)
	if st := l.a.Sockstat(); st.TW != 0 {
		t.Fatalf("record created: %v", l.a.Sockets())
	}
	if got := l.a.Counters().Get(metrics.TcpExtTCPTimeWaitOverflow); got != 1 {
		t.Errorf("TCPTimeWaitOverflow = %d, want 1", got)
	}
	if l.a.ports.inUse(uint16(port)) {
		t.Errorf("port %d still in use", port)
	}
}

// TestTWReuse_PortRange16 (TW-REUSE-2/5/10/14, PORT-5, MIB-2, SCN-37):
// with a 16-port range, 16 connections closed by the client leave 16
// records; the 17th connect fails with EADDRNOTAVAIL when tcp_tw_reuse = 0,
// and with tcp_tw_reuse = 1 succeeds once tcp_tw_reuse_delay has passed,
// counting TWRecycled and starting at S + 65537.
func TestTWReuse_PortRange16(t *testing.T) {
	for _, reuse := range []int{0, 1} {
		t.Run(fmt.Sprintf("tcp_tw_reuse=%d", reuse), func(t *testing.T) {
			l, clk := newLinkedStacks(t, func(o *Options) {
				if err := o.Set("net.ipv4.ip_local_port_range", "40000 40015"); err != nil {
					t.Fatal(err)
				}
				o.TCPTwReuse = reuse
			}, nil)
			ln, err := l.b.Listen("tcp", ":80")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ports := map[int]bool{}
			for i := 0; i < 16; i++ {
				c, s := connectPair(t, l, ln)
				ports[c.LocalAddr().(*net.TCPAddr).Port] = true
				closeFirst(t, c, s)
			}
			if len(ports) != 16 {
				t.Fatalf("used %d distinct ports, want 16", len(ports))
			}
			if st := l.a.Sockstat(); st.TW != 16 {
				t.Fatalf("client records: %v", st)
			}
			_, err = l.a.Dial("tcp", "10.0.0.2:80")
			if !errors.Is(err, syscall.EADDRNOTAVAIL) {
				t.Fatalf("17th connect within the delay: %v, want EADDRNOTAVAIL", err)
			}
			clk.Advance(1001*time.Millisecond + time.Millisecond)
			isns := map[uint32]bool{}
			for _, e := range l.a.table.snapshot() {
				if e.tw != nil {
					isns[e.tw.ISN()] = true
				}
			}
			var synSeq uint32
			l.tap = func(dir string, pkt []byte) {
				p := parse(t, pkt)
				if dir == "a>b" && p.tcp.Flags() == header.FlagSYN {
					synSeq = p.tcp.Seq()
				}
			}
			c, err := l.a.Dial("tcp", "10.0.0.2:80")
			l.tap = nil
			if reuse == 0 {
				if !errors.Is(err, syscall.EADDRNOTAVAIL) {
					t.Fatalf("connect with tcp_tw_reuse=0: %v, want EADDRNOTAVAIL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect with tcp_tw_reuse=1 after the delay: %v", err)
			}
			defer c.Close()
			if got := l.a.Counters().Get(metrics.TcpExtTWRecycled); got != 1 {
				t.Errorf("TWRecycled = %d, want 1", got)
			}
			if st := l.a.Sockstat(); st.TW != 15 {
				t.Errorf("records after reuse: %d, want 15", st.TW)
			}
			if !isns[synSeq] {
				t.Errorf("SYN seq %d is not S + 65537 of any record (TW-REUSE-9)", synSeq)
			}
		})
	}
}

// TestTWProc14_ReconnectSamePort (TW-PROC-14/20/21, SCN-10, SCN-12): the
// server closed first and holds a record; the client reconnects from the
// same port. One second later its SYN is newer (sequence and TSval) and is
// admitted with ISN S + 65537. At the same instant the SYN is not newer
// (same ISN clock, same TSval): the record answers with its TW ACK, the
// client's RST assassinates it (TW-PROC-11) and the SYN retransmitted a
// second later reaches the listener.
func TestTWProc14_ReconnectSamePort(t *testing.T) {
	for _, wait := range []time.Duration{time.Second, 0} {
		t.Run(fmt.Sprintf("after=%v", wait), func(t *testing.T) {
			l, clk := newLinkedStacks(t, nil, nil)
			ln, err := l.b.Listen("tcp", ":80")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			c, s := connectPair(t, l, ln)
			port := c.LocalAddr().(*net.TCPAddr).Port
			closeFirst(t, s, c)
			var sndNxt uint32
			for _, e := range l.b.table.snapshot() {
				if e.tw != nil {
					sndNxt = e.tw.SndNxt
				}
			}
			if sndNxt == 0 {
				t.Fatal("no record on the server")
			}
			clk.Advance(wait)
			var synAckSeq uint32
			var twAcks int
			synSeen := make(chan struct{}, 16)
			l.tap = func(dir string, pkt []byte) {
				p := parse(t, pkt)
				if testing.Verbose() {
					t.Logf("%v %s flags %#x seq %d ack %d", clk.Now(), dir, p.tcp.Flags(), p.tcp.Seq(), p.tcp.Ack())
				}
				switch {
				case dir == "a>b" && p.tcp.Flags() == header.FlagSYN:
					synSeen <- struct{}{}
				case dir == "b>a" && p.tcp.Flags() == header.FlagSYN|header.FlagACK:
					synAckSeq = p.tcp.Seq()
				case dir == "b>a" && p.tcp.Flags() == header.FlagACK && synAckSeq == 0:
					twAcks++
				}
			}
			d := &Dialer{Stack: l.a, LocalAddr: &net.TCPAddr{IP: addrA.AsSlice(), Port: port}}
			type res struct {
				c   net.Conn
				err error
			}
			done := make(chan res, 1)
			go func() {
				c, err := d.DialContext(t.Context(), "tcp", "10.0.0.2:80")
				done <- res{c, err}
			}()
			<-synSeen
			var r res
			if wait != 0 {
				r = <-done // admitted at once: the handshake completes in Dial
			} else {
				// Let the first SYN's exchange (TW ACK, the client's RST
				// that kills the record) finish; the retransmitted SYN
				// then comes after 1 s and reaches the listener.
				l.waitIdle(t)
				if twAcks != 1 || l.b.Sockstat().TW != 0 {
					t.Fatalf("after the first SYN: %d TW ACKs, %d records; want 1, 0", twAcks, l.b.Sockstat().TW)
				}
			loop:
				for {
					select {
					case r = <-done:
						break loop
					default:
						clk.Advance(100 * time.Millisecond)
					}
				}
			}
			if r.err != nil {
				t.Fatalf("dial: %v", r.err)
			}
			defer r.c.Close()
			if wait != 0 {
				if want := sndNxt + 65537; synAckSeq != want {
					t.Errorf("SYN-ACK seq %d, want S + 65537 = %d", synAckSeq, want)
				}
			} else if twAcks != 1 {
				t.Errorf("%d TW ACKs, want 1 (SCN-12)", twAcks)
			}
			if n := l.b.Sockstat().TW; n != 0 {
				t.Errorf("record survived")
			}
			sc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			sc.Close()
		})
	}
}
