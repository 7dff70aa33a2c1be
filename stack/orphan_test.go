package stack

import (
	"net"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// TestOrphanCacheRefresh_CONST11 (ORPHAN-2, TIMER-12, CONST-11): the count
// tcp_max_orphans is checked against is the one read by the last refresh
// at a multiple of 100 ms, not the live one.
func TestOrphanCacheRefresh_CONST11(t *testing.T) {
	const ms = tcp.Time(time.Millisecond)
	base := tcp.Time(time.Second) // a refresh instant
	var o orphanCount
	steps := []struct {
		at     tcp.Time
		add    int
		exact  int
		cached int
	}{
		{at: base + 50*ms, add: 1, exact: 1, cached: 0},   // the 1.0 s refresh saw 0
		{at: base + 99*ms, exact: 1, cached: 0},           // still before the next refresh
		{at: base + 100*ms, exact: 1, cached: 1},          // the 1.1 s refresh saw 1
		{at: base + 150*ms, add: 1, exact: 2, cached: 1},  // live 2, cache 1
		{at: base + 150*ms, add: -2, exact: 0, cached: 1}, // both gone, cache lags
		{at: base + 200*ms, add: 1, exact: 1, cached: 0},  // a change at a refresh instant is after it
		{at: base + 10_000*ms, exact: 1, cached: 1},       // quiet for long: the cache caught up
	}
	for i, st := range steps {
		if st.add != 0 {
			o.add(st.at, st.add)
		}
		if got := o.exact(); got != st.exact {
			t.Errorf("step %d: exact %d, want %d", i, got, st.exact)
		}
		if got := o.cachedAt(st.at); got != st.cached {
			t.Errorf("step %d at %v: cached %d, want %d", i, time.Duration(st.at-base), got, st.cached)
		}
	}
}

// orphanServer is a capture stack with a listener on :80 and tweak applied.
func orphanServer(t *testing.T, tweak func(*Options)) (*Stack, net.Listener, *VirtualClock, func(port uint16) (*peer, net.Conn, uint32)) {
	s, end, clk := newCaptureStack(t, tweak)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accept := func(port uint16) (*peer, net.Conn, uint32) {
		p := &peer{t: t, s: s, end: end, port: port, lp: 80}
		sa := p.sendOne(p.seg(header.FlagSYN, 1000, 0, synOpts(100), nil))
		iss := sa.tcp.Seq()
		p.sendNone(p.seg(header.FlagACK, 1001, iss+1, tsOpts(101, sa.opts.TSVal), nil))
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return p, c, iss
	}
	return s, ln, clk, accept
}

// TestOrphanCount_ORPHAN1 (ORPHAN-1, CLOSE-14, CLOSE-17, MIB-STAT-2;
// TW-ENTER-8: the orphan is destroyed, orphan count -1, when it becomes a
// record): a connection
// the application closed counts as an orphan while it lives as a full
// socket, not once it is a TIME-WAIT (here FIN_WAIT2-substate) record;
// ORPHAN-2's test uses the cached count with the penalty shift.
func TestOrphanCount_ORPHAN1(t *testing.T) {
	s, _, clk, accept := orphanServer(t, func(o *Options) { o.TCPMaxOrphans = 1 })
	p, c, iss := accept(40000)
	c.Close()
	fin := parse(t, drain(p.end)[0])
	if fin.tcp.Flags() != header.FlagFIN|header.FlagACK {
		t.Fatalf("close sent flags %#x, want FIN|ACK", fin.tcp.Flags())
	}
	if s.orphanTotal() != 1 || s.Sockstat().Orphan != 1 {
		t.Fatalf("orphans %d (sockstat %d), want 1 in FIN_WAIT1", s.orphanTotal(), s.Sockstat().Orphan)
	}
	if s.tooManyOrphans(1) {
		t.Errorf("the close itself is not in the cache before the next 100 ms refresh")
	}
	clk.Advance(100 * time.Millisecond)
	if s.tooManyOrphans(0) || !s.tooManyOrphans(1) {
		t.Errorf("cache 1, max 1: want 1<<0 > 1 false and 1<<1 > 1 true")
	}
	p.sendNone(p.seg(header.FlagACK, 1001, iss+2, tsOpts(102, fin.opts.TSVal), nil))
	if s.orphanTotal() != 0 || s.Sockstat().TW != 1 {
		t.Errorf("after FIN_WAIT2 record: orphans %d tw %d, want 0 and 1", s.orphanTotal(), s.Sockstat().TW)
	}
}

// TestCloseTooManyOrphans_SCN33 (SCN-33, CLOSE-16, ORPHAN-2, MIB-12;
// CLOSE-17: the reset socket is in CLOSE and destroyed at once): with
// tcp_max_orphans = 0 and an orphan counted at the last refresh, a close()
// that would leave another orphan resets the connection instead and
// counts TCPAbortOnMemory.
func TestCloseTooManyOrphans_SCN33(t *testing.T) {
	s, _, clk, accept := orphanServer(t, func(o *Options) { o.TCPMaxOrphans = 0 })
	installOrphanHook(t, s)
	p1, c1, _ := accept(40001)
	p2, c2, iss2 := accept(40002)
	c1.Close()
	if out := drain(p1.end); len(out) != 1 || parse(t, out[0]).tcp.Flags() != header.FlagFIN|header.FlagACK {
		t.Fatalf("first close: want a FIN (no orphan counted at the last refresh)")
	}
	clk.Advance(100 * time.Millisecond) // the refresh sees one orphan
	before := s.Counters().Get(metrics.TcpExtTCPAbortOnMemory)
	c2.Close()
	out := drain(p2.end)
	if len(out) == 0 {
		t.Fatal("second close sent nothing, want a RST")
	}
	// Linux queues and pushes the FIN (CLOSE-8/11) before the CLOSE-16
	// check, so a FIN may precede the RST; the RST is last.
	rst := parse(t, out[len(out)-1])
	if rst.tcp.Flags() != header.FlagRST|header.FlagACK || rst.tcp.Ack() != 1001 {
		t.Errorf("second close: flags %#x ack %d, want RST|ACK ack 1001", rst.tcp.Flags(), rst.tcp.Ack())
	}
	if seq := rst.tcp.Seq(); seq != iss2+1 && seq != iss2+2 {
		t.Errorf("RST seq %d, want snd_nxt (%d, or %d after a FIN)", seq, iss2+1, iss2+2)
	}
	if got := s.Counters().Get(metrics.TcpExtTCPAbortOnMemory) - before; got != 1 {
		t.Errorf("TCPAbortOnMemory +%d, want +1", got)
	}
	if s.orphanTotal() != 1 {
		t.Errorf("orphans %d, want 1 (the reset connection is destroyed)", s.orphanTotal())
	}
}

// installOrphanHook makes sure the engine configuration of s asks the
// stack's orphan count (tcp.Config.TooManyOrphans); the stack wires it when
// it builds the configuration, this only covers a stack that does not yet.
func installOrphanHook(t *testing.T, s *Stack) {
	t.Helper()
	if s.cfg.Load().TooManyOrphans != nil {
		return
	}
	t.Log("stack does not install tcp.Config.TooManyOrphans; the test does")
	cfg := *s.cfg.Load()
	cfg.TooManyOrphans = s.tooManyOrphans
	s.cfg.Store(&cfg)
}

// TestOrphanCountFollowsSockstat (ORPHAN-1, ORPHAN-8, FW2-4): orphans in
// FIN_WAIT1 (their FINs lost) are counted exactly as sockstat lists them,
// and leave the count when a retransmitted FIN is acknowledged and they
// become FIN_WAIT2 records, or when the peer resets them.
func TestOrphanCountFollowsSockstat(t *testing.T) {
	l, clk := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 6
	var clients, servers []net.Conn
	for range n {
		c, s := connectPair(t, l, ln)
		clients, servers = append(clients, c), append(servers, s)
	}
	check := func(when string, want int) {
		t.Helper()
		if got, st := l.a.orphanTotal(), l.a.Sockstat().Orphan; got != want || st != want {
			t.Errorf("%s: orphan count %d, sockstat %d, want %d", when, got, st, want)
		}
	}
	l.drop = func(dir string, _ []byte) bool { return dir == "a>b" }
	for _, c := range clients {
		c.Close()
	}
	check("FINs lost", n)
	servers[0].(*TCPConn).SetLinger(0) // its close resets the connection (CLOSE-7)
	servers[0].Close()
	check("one orphan reset by its peer", n-1)
	l.drop = nil
	clk.Advance(3 * time.Second) // the FINs are retransmitted and acknowledged
	check("after retransmission", 0)
	if st := l.a.Sockstat(); st.TW != n-1 {
		t.Errorf("sockstat %v, want %d FIN_WAIT2 records (one orphan was reset by its peer)", st, n-1)
	}
}
