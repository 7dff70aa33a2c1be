package stack

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// TestTWLookup4_RecordShadowsListener (TW-LOOKUP-4, SCN-50): with a
// listener on :80 and a TIME-WAIT record for peer:40000 -> :80, a non-SYN
// segment of that 4-tuple goes to the record (TW ACK), never to the
// listener (which would answer a stray ACK with a RST); another peer port
// reaches the listener normally.
func TestTWLookup4_RecordShadowsListener(t *testing.T) {
	p, iss, _ := serverTimeWait(t)
	a := p.sendOne(p.seg(header.FlagACK, 1002+100000, iss+2, nil, nil))
	if a.tcp.Flags() != header.FlagACK || a.tcp.Seq() != iss+2 || a.tcp.Ack() != 1002 {
		t.Fatalf("4-tuple of the record: flags %#x seq %d ack %d, want the TW ACK", a.tcp.Flags(), a.tcp.Seq(), a.tcp.Ack())
	}
	other := &peer{t: t, s: p.s, end: p.end, port: 40001, lp: 80}
	r := other.sendOne(other.seg(header.FlagACK, 1002+100000, iss+2, nil, nil))
	if r.tcp.Flags() != header.FlagRST || r.tcp.Seq() != iss+2 {
		t.Errorf("other port, stray ACK: flags %#x seq %d, want the listener's RST", r.tcp.Flags(), r.tcp.Seq())
	}
	sa := other.sendOne(other.seg(header.FlagSYN, 7000, 0, synOpts(300), nil))
	if sa.tcp.Flags() != header.FlagSYN|header.FlagACK || sa.tcp.Ack() != 7001 {
		t.Errorf("other port, SYN: flags %#x ack %d, want the listener's SYN-ACK", sa.tcp.Flags(), sa.tcp.Ack())
	}
	if n := countState(p.s.Sockets(), tcp.StateTimeWait); n != 1 {
		t.Errorf("record count %d, want 1", n)
	}
}

// TestTWLookup9_BadChecksumDropped (TW-LOOKUP-9, MIB-18): a segment for a
// TIME-WAIT record with a bad TCP checksum is dropped before TIME-WAIT
// processing: no TW ACK, no re-arm, InCsumErrors and InErrs +1.
func TestTWLookup9_BadChecksumDropped(t *testing.T) {
	p, iss, clk := serverTimeWait(t)
	c := p.s.Counters()
	csum0, errs0 := c.Get(metrics.TcpInCsumErrors), c.Get(metrics.TcpInErrs)
	clk.Advance(30 * time.Second)
	b := p.seg(header.FlagFIN|header.FlagACK, 1001, iss+2, tsOpts(103, 0), nil).build()
	b[ipv4.MinSize+16] ^= 0xff // TCP checksum
	p.s.DeliverPacket(b)
	if out := drain(p.end); len(out) != 0 {
		t.Fatalf("%d replies to a bad checksum", len(out))
	}
	if c.Get(metrics.TcpInCsumErrors) != csum0+1 || c.Get(metrics.TcpInErrs) != errs0+1 {
		t.Errorf("InCsumErrors +%d InErrs +%d, want +1 +1", c.Get(metrics.TcpInCsumErrors)-csum0, c.Get(metrics.TcpInErrs)-errs0)
	}
	// A valid copy would have re-armed the timer to 30 + 60 s; the bad one
	// did not, so the record leaves 60 s after entry.
	clk.Advance(30*time.Second + time.Millisecond)
	if p.s.Sockstat().TW != 0 {
		t.Errorf("record alive 60 s after entry: the bad segment re-armed it")
	}
}

// TestSCN16_SYNThroughTimeWaitFullAcceptQueue (SCN-16, TW-PROC-21, MIB-17):
// a SYN admitted by a TIME-WAIT record meets a full accept queue: no reply
// at all, the record is gone anyway, ListenOverflows and ListenDrops +1;
// the retransmitted SYN is handled by the listener like any SYN.
func TestSCN16_SYNThroughTimeWaitFullAcceptQueue(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	ln, err := s.ListenBacklog("tcp", &net.TCPAddr{Port: 80}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &peer{t: t, s: s, end: end, port: 40000, lp: 80}
	sa := p.sendOne(p.seg(header.FlagSYN, 1000, 0, synOpts(100), nil))
	iss := sa.tcp.Seq()
	p.sendNone(p.seg(header.FlagACK, 1001, iss+1, tsOpts(101, sa.opts.TSVal), nil))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fin := parse(t, drain(end)[0])
	p.sendOne(p.seg(header.FlagFIN|header.FlagACK, 1001, iss+2, tsOpts(102, fin.opts.TSVal), nil))
	if s.Sockstat().TW != 1 {
		t.Fatalf("no TIME-WAIT record: %v", s.Sockets())
	}
	// Fill the accept queue: backlog 1 holds two children.
	for i := range 2 {
		q := &peer{t: t, s: s, end: end, port: uint16(30000 + i), lp: 80}
		qa := q.sendOne(q.seg(header.FlagSYN, 100, 0, nil, nil))
		q.sendNone(q.seg(header.FlagACK, 101, qa.tcp.Seq()+1, nil, nil))
	}
	c0 := s.Counters()
	ov, dr := c0.Get(metrics.TcpExtListenOverflows), c0.Get(metrics.TcpExtListenDrops)
	syn := p.seg(header.FlagSYN, 5000, 0, synOpts(200), nil) // seq > R: admitted (TW-PROC-14)
	p.sendNone(syn)
	if s.Sockstat().TW != 0 {
		t.Errorf("record survived the SYN")
	}
	if c0.Get(metrics.TcpExtListenOverflows) != ov+1 || c0.Get(metrics.TcpExtListenDrops) != dr+1 {
		t.Errorf("ListenOverflows +%d ListenDrops +%d, want +1 +1",
			c0.Get(metrics.TcpExtListenOverflows)-ov, c0.Get(metrics.TcpExtListenDrops)-dr)
	}
	p.sendNone(syn) // the listener, still full, drops it too
	if c0.Get(metrics.TcpExtListenOverflows) != ov+2 {
		t.Errorf("retransmitted SYN not counted by the listener")
	}
}

// TestPORT1_RangeInclusive (PORT-1, SYSCTL-9): connect() picks ports only
// from ip_local_port_range, both ends included.
func TestPORT1_RangeInclusive(t *testing.T) {
	l, _ := newLinkedStacks(t, func(o *Options) { o.IPLocalPortRange = [2]int{40000, 40003} }, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := map[int]bool{}
	for range 4 {
		c, err := l.a.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got[c.LocalAddr().(*net.TCPAddr).Port] = true
	}
	for p := 40000; p <= 40003; p++ {
		if !got[p] {
			t.Errorf("port %d not used: %v", p, got)
		}
	}
	if _, err := l.a.Dial("tcp", "10.0.0.2:80"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("fifth dial: %v, want EADDRNOTAVAIL", err)
	}
}

// TestPORT6_ConsecutiveConnectsMoveForward (PORT-2, PORT-6): within one
// 10 s time slot, connects to the same destination start from the same
// hashed offset plus the perturbation counter, which each success advances
// by max(i, random(0..7)*2) + 2: with free ports ahead (i = 0), each port
// is 2..16 above the previous one, same parity, modulo the range.
func TestPORT6_ConsecutiveConnectsMoveForward(t *testing.T) {
	const low, high = 32768, 60999
	l, _ := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	remaining := (high - low + 1) &^ 1
	prev := -1
	for i := range 20 {
		c, err := l.a.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		port := c.LocalAddr().(*net.TCPAddr).Port
		if port < low || port > high {
			t.Fatalf("port %d outside the default range (PORT-1)", port)
		}
		if prev >= 0 {
			step := ((port - low) - (prev - low) + remaining) % remaining
			if step < 2 || step > 16 || step%2 != 0 {
				t.Errorf("connect %d: port %d after %d (step %d), want an even step of 2..16", i, port, prev, step)
			}
		}
		prev = port
	}
}

// TestCONST12_PortShuffleSlot10s: CONST-12: the time input of the port
// hash (PORT-2) changes every 10 s, so the starting offset for one
// destination is stable within a 10 s slot and reshuffled after it.
// (ustack keeps 2^10 perturbation counters instead of Linux's 2^16, see
// stack/ports.go; the table size is not observable here.)
func TestCONST12_PortShuffleSlot10s(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	pt := &l.a.ports
	la, ra := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	const s = tcp.Time(time.Second)
	base := 20 * s
	h := pt.portOffset(la, ra, 80, base)
	if pt.portOffset(la, ra, 80, base+10*s-1) != h {
		t.Error("offset changed within the 10 s slot")
	}
	if pt.portOffset(la, ra, 80, base+10*s) == h || pt.portOffset(la, ra, 80, base-1) == h {
		t.Error("offset not reshuffled in the next or previous 10 s slot")
	}
	if pt.portOffset(la, ra, 81, base) == h {
		t.Error("offset ignores the remote port")
	}
}
