package stack

import (
	"net"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// recycleServer is serverTimeWait with options: a listener on :80, client A
// (port 40000, TS clock at tsA) connects, the server closes first and A's
// FIN|ACK puts the server in TIME-WAIT, which with tcp_tw_recycle stores
// A's last TSval in the peer cache (RECYCLE-3).
func recycleServer(t *testing.T, tweak func(*Options), tsA uint32) (*Stack, *peer, *VirtualClock) {
	t.Helper()
	s, end, clk := newCaptureStack(t, tweak)
	ln, err := s.ListenTCP("tcp", &net.TCPAddr{Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	a := &peer{t: t, s: s, end: end, port: 40000, lp: 80}
	sa := a.sendOne(a.seg(header.FlagSYN, 1000, 0, synOpts(tsA), nil))
	if sa.tcp.Flags() != header.FlagSYN|header.FlagACK {
		t.Fatalf("SYN-ACK flags %#x", sa.tcp.Flags())
	}
	iss := sa.tcp.Seq()
	a.sendNone(a.seg(header.FlagACK, 1001, iss+1, tsOpts(tsA+1, sa.opts.TSVal), nil))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fin := parse(t, drain(end)[0])
	ack := a.sendOne(a.seg(header.FlagFIN|header.FlagACK, 1001, iss+2, tsOpts(tsA+2, fin.opts.TSVal), nil))
	if ack.tcp.Flags() != header.FlagACK || ack.tcp.Ack() != 1002 {
		t.Fatalf("final ACK flags %#x ack %d", ack.tcp.Flags(), ack.tcp.Ack())
	}
	if n := countState(s.Sockets(), tcp.StateTimeWait); n != 1 {
		t.Fatalf("no TIME-WAIT record: %v", s.Sockets())
	}
	return s, a, clk
}

// TestRecycle6_PassiveReject (RECYCLE-6/9, SCN-45, MIB-7, MIB-17): with
// the linux-4.11 profile and tcp_tw_recycle=1, after client A (TS clock
// near 5 000 000) closed through the server's TIME-WAIT, client B behind
// the same address (another port, TS clock near 1 000) gets nothing back:
// its SYN and SYN retransmissions are dropped silently with PAWSPassive
// and ListenDrops counted, as is a SYN without timestamps; a SYN whose
// TSval is not behind the cache is accepted; 60 s after A's last TSval
// was cached B gets its SYN-ACK. Without recycle, or with the 6.18
// profile (no tw_recycle), B is answered at once.
func TestRecycle6_PassiveReject(t *testing.T) {
	const tsA, tsB = 5000000, 1000
	recycle411 := func(o *Options) { o.TimeWaitProfile, o.TCPTwRecycle = ProfileLinux411, 1 }
	for _, tc := range []struct {
		name   string
		tweak  func(*Options)
		reject bool
	}{
		{"linux-4.11 recycle", recycle411, true},
		{"linux-4.11 no recycle", func(o *Options) { o.TimeWaitProfile = ProfileLinux411 }, false},
		{"linux-6.18 recycle ignored", func(o *Options) { o.TCPTwRecycle = 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, a, clk := recycleServer(t, tc.tweak, tsA)
			b := &peer{t: t, s: s, end: a.end, port: 40001, lp: 80}
			synB := b.seg(header.FlagSYN, 7000, 0, synOpts(tsB), nil)
			if !tc.reject {
				if sa := b.sendOne(synB); sa.tcp.Flags() != header.FlagSYN|header.FlagACK {
					t.Fatalf("B's SYN answered with %#x, want SYN-ACK", sa.tcp.Flags())
				}
				if got := s.Counters().Get(metrics.TcpExtPAWSPassive); got != 0 {
					t.Errorf("PAWSPassive = %d, want 0", got)
				}
				return
			}
			b.sendNone(synB)
			clk.Advance(time.Second) // B's SYN retransmission at its 1 s RTO
			b.sendNone(b.seg(header.FlagSYN, 7000, 0, synOpts(tsB+1000), nil))
			c := &peer{t: t, s: s, end: a.end, port: 40002, lp: 80}
			c.sendNone(c.seg(header.FlagSYN, 9000, 0, &header.Options{HasMSS: true, MSS: 1460}, nil))
			if got := s.Counters().Get(metrics.TcpExtPAWSPassive); got != 3 {
				t.Errorf("PAWSPassive = %d, want 3", got)
			}
			if got := s.Counters().Get(metrics.TcpExtListenDrops); got != 3 {
				t.Errorf("ListenDrops = %d, want 3", got)
			}
			// One tick behind A's last TSval is within TCP_PAWS_WINDOW.
			d := &peer{t: t, s: s, end: a.end, port: 40003, lp: 80}
			if sa := d.sendOne(d.seg(header.FlagSYN, 1, 0, synOpts(tsA+1), nil)); sa.tcp.Flags() != header.FlagSYN|header.FlagACK {
				t.Fatalf("SYN one tick behind: flags %#x, want SYN-ACK", sa.tcp.Flags())
			}
			// The cache entry outlives the (3.5 x RTO) record; after 60 s
			// it no longer rejects.
			if n := countState(s.Sockets(), tcp.StateTimeWait); n != 0 {
				t.Errorf("recycled record still alive after 1 s: %v", s.Sockets())
			}
			clk.Advance(60 * time.Second)
			drain(a.end) // the SYN-ACK retransmissions of D's unfinished handshake
			if sa := b.sendOne(b.seg(header.FlagSYN, 7000, 0, synOpts(tsB+61000), nil)); sa.tcp.Flags() != header.FlagSYN|header.FlagACK {
				t.Fatalf("B's SYN after 60 s: flags %#x, want SYN-ACK", sa.tcp.Flags())
			}
			if got := s.Counters().Get(metrics.TcpExtPAWSPassive); got != 3 {
				t.Errorf("PAWSPassive = %d after 60 s, want 3", got)
			}
		})
	}
}

// TestRecycle7_ActiveFetch (RECYCLE-7, PAWS-11): with tcp_tw_recycle a
// connect to a peer whose timestamp is cached starts with it, so a crossed
// SYN with an older TSval is dropped silently; without recycle (no cached
// stamp) the same crossed SYN is answered with a SYN-ACK (simultaneous
// open).
func TestRecycle7_ActiveFetch(t *testing.T) {
	const tsA = 5000000
	for _, tc := range []struct {
		name    string
		recycle int
	}{{"recycle", 1}, {"no recycle", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			s, a, _ := recycleServer(t, func(o *Options) { o.TimeWaitProfile, o.TCPTwRecycle = ProfileLinux411, tc.recycle }, tsA)
			c, err := (&Dialer{Stack: s}).Start("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			syn := parse(t, drain(a.end)[0])
			k := &peer{t: t, s: s, end: a.end, port: 80, lp: syn.tcp.SrcPort()}
			crossed := k.seg(header.FlagSYN, 3000, 0, synOpts(1000), nil)
			if tc.recycle == 0 {
				if sa := k.sendOne(crossed); sa.tcp.Flags() != header.FlagSYN|header.FlagACK {
					t.Fatalf("crossed SYN answered with %#x, want SYN-ACK", sa.tcp.Flags())
				}
				return
			}
			k.sendNone(crossed)
			if st := c.State(); st != tcp.StateSynSent {
				t.Errorf("state after the stale crossed SYN %v, want SYN-SENT", st)
			}
		})
	}
}
