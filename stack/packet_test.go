package stack

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
	"github.com/ustack/ustack/tun"
)

var peerAddr = netip.MustParseAddr("10.0.0.2")

// peer plays the remote side of one connection to the capture stack.
type peer struct {
	t    *testing.T
	s    *Stack
	end  *tun.PipeEnd
	port uint16 // peer's port
	lp   uint16 // stack's port
}

func (p *peer) seg(flags uint8, seq, ack uint32, opts *header.Options, payload []byte) seg {
	return seg{src: peerAddr, dst: addrA, sport: p.port, dport: p.lp, seq: seq, ack: ack,
		flags: flags, opts: opts, payload: payload}
}

// send injects a segment and returns what the stack answered.
func (p *peer) send(sg seg) []parsed {
	p.t.Helper()
	p.s.DeliverPacket(sg.build())
	var out []parsed
	for _, pkt := range drain(p.end) {
		out = append(out, parse(p.t, pkt))
	}
	return out
}

func (p *peer) sendOne(sg seg) parsed {
	p.t.Helper()
	out := p.send(sg)
	if len(out) != 1 {
		p.t.Fatalf("got %d segments, want 1", len(out))
	}
	return out[0]
}

func (p *peer) sendNone(sg seg) {
	p.t.Helper()
	if out := p.send(sg); len(out) != 0 {
		p.t.Fatalf("got %d segments (flags %#x), want none", len(out), out[0].tcp.Flags())
	}
}

func tsOpts(val, ecr uint32) *header.Options {
	return &header.Options{HasTS: true, TSVal: val, TSEcr: ecr}
}

func synOpts(val uint32) *header.Options {
	return &header.Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: val,
		HasWScale: true, WScale: 7}
}

// serverTimeWait builds the state of TW-PROC tests: a listener on :80, a
// connection from the peer, the server closing first and the peer's FIN
// acknowledging it, so the server holds a TIME_WAIT record with R = 1002,
// S = ISS + 2, T = 102.
func serverTimeWait(t *testing.T) (p *peer, iss uint32, clk *VirtualClock) {
	s, end, clk := newCaptureStack(t, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p = &peer{t: t, s: s, end: end, port: 40000, lp: 80}
	sa := p.sendOne(p.seg(header.FlagSYN, 1000, 0, synOpts(100), nil))
	if sa.tcp.Flags() != header.FlagSYN|header.FlagACK || sa.tcp.Ack() != 1001 {
		t.Fatalf("SYN-ACK flags %#x ack %d", sa.tcp.Flags(), sa.tcp.Ack())
	}
	if sa.ip.ID() != 0 || !sa.ip.DontFragment() {
		t.Errorf("SYN-ACK IP id %d DF %v, want 0 and DF like a request socket", sa.ip.ID(), sa.ip.DontFragment())
	}
	iss = sa.tcp.Seq()
	tsv := sa.opts.TSVal
	p.sendNone(p.seg(header.FlagACK, 1001, iss+1, tsOpts(101, tsv), nil))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fin := parse(t, drain(end)[0])
	if fin.tcp.Flags() != header.FlagFIN|header.FlagACK || fin.tcp.Seq() != iss+1 {
		t.Fatalf("FIN flags %#x seq %d", fin.tcp.Flags(), fin.tcp.Seq())
	}
	ack := p.sendOne(p.seg(header.FlagFIN|header.FlagACK, 1001, iss+2, tsOpts(102, fin.opts.TSVal), nil))
	if ack.tcp.Flags() != header.FlagACK || ack.tcp.Ack() != 1002 {
		t.Fatalf("final ACK flags %#x ack %d", ack.tcp.Flags(), ack.tcp.Ack())
	}
	if n := countState(s.Sockets(), tcp.StateTimeWait); n != 1 {
		t.Fatalf("no TIME-WAIT record: %v", s.Sockets())
	}
	return p, iss, clk
}

// TestTWProc14_SYNNewerTSReopens (TW-PROC-14/20/21, SCN-11): a SYN below R
// but with a newer TSval is admitted; the SYN-ACK uses ISN = S + 65537 and
// the record is gone.
func TestTWProc14_SYNNewerTSReopens(t *testing.T) {
	p, iss, _ := serverTimeWait(t)
	sa := p.sendOne(p.seg(header.FlagSYN, 2, 0, synOpts(200), nil))
	if sa.tcp.Flags() != header.FlagSYN|header.FlagACK {
		t.Fatalf("flags %#x, want SYN-ACK", sa.tcp.Flags())
	}
	if want := iss + 2 + 65537; sa.tcp.Seq() != want {
		t.Errorf("SYN-ACK seq %d, want S + 65537 = %d", sa.tcp.Seq(), want)
	}
	if sa.tcp.Ack() != 3 {
		t.Errorf("SYN-ACK ack %d, want 3", sa.tcp.Ack())
	}
	if n := countState(p.s.Sockets(), tcp.StateTimeWait); n != 0 {
		t.Errorf("record survived: %v", p.s.Sockets())
	}
	if got := p.s.Counters().Get(metrics.TcpExtTWRecycled); got != 0 {
		t.Errorf("TWRecycled = %d, must not count SYNs through TIME-WAIT (MIB-2)", got)
	}
}

// TestTWProc15_SYNOldTSRejected (TW-PROC-15/16, SCN-13): a SYN below R
// with an older TSval gets the TW ACK and counts PAWSTimewait.
func TestTWProc15_SYNOldTSRejected(t *testing.T) {
	p, iss, _ := serverTimeWait(t)
	a := p.sendOne(p.seg(header.FlagSYN, 2, 0, synOpts(92), nil))
	if a.tcp.Flags() != header.FlagACK || a.tcp.Seq() != iss+2 || a.tcp.Ack() != 1002 {
		t.Fatalf("got flags %#x seq %d ack %d, want TW ACK seq S ack R", a.tcp.Flags(), a.tcp.Seq(), a.tcp.Ack())
	}
	if !a.opts.HasTS || a.opts.TSEcr != 102 {
		t.Errorf("TW ACK TS %+v, want TSecr = T = 102 (TW-RESP-1)", a.opts)
	}
	if got := p.s.Counters().Get(metrics.TcpExtPAWSTimewait); got != 1 {
		t.Errorf("PAWSTimewait = %d, want 1", got)
	}
}

// TestTWProc11_RSTAssassinates (TW-PROC-10/11, SCN-6): an exact RST kills
// the record silently; the next ACK gets a RST from the listener.
func TestTWProc11_RSTAssassinates(t *testing.T) {
	p, iss, _ := serverTimeWait(t)
	p.sendNone(p.seg(header.FlagRST, 1002, 0, nil, nil))
	if n := p.s.Sockstat().TW; n != 0 {
		t.Fatalf("record alive after RST")
	}
	r := p.sendOne(p.seg(header.FlagACK, 1002, iss+2, nil, nil))
	if r.tcp.Flags() != header.FlagRST || r.tcp.Seq() != iss+2 {
		t.Errorf("reply flags %#x seq %d, want R with SEQ = its ACK (TW-RESP-2)", r.tcp.Flags(), r.tcp.Seq())
	}
}

// TestTWTimer2_FinRetransmitRearms (TW-PROC-16, TIMER-2, SCN-2): a
// retransmitted FIN is ACKed and restarts the 60 s.
func TestTWTimer2_FinRetransmitRearms(t *testing.T) {
	p, iss, clk := serverTimeWait(t)
	clk.Advance(30 * time.Second)
	a := p.sendOne(p.seg(header.FlagFIN|header.FlagACK, 1001, iss+2, tsOpts(103, 0), nil))
	if a.tcp.Flags() != header.FlagACK || a.tcp.Ack() != 1002 {
		t.Fatalf("flags %#x ack %d", a.tcp.Flags(), a.tcp.Ack())
	}
	clk.Advance(59 * time.Second)
	if p.s.Sockstat().TW != 1 {
		t.Fatalf("record expired before 60 s from the re-arm")
	}
	clk.Advance(2 * time.Second)
	if p.s.Sockstat().TW != 0 {
		t.Fatalf("record alive 61 s after the re-arm")
	}
}

// TestLookup6_RSTForClosedPort (TW-LOOKUP-6, TW-RESP-2): no socket: a SYN
// gets RST|ACK with SEQ 0 and ACK seq+1; an ACK gets RST with SEQ = its
// ACK; a RST gets nothing.
func TestLookup6_RSTForClosedPort(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	p := &peer{t: t, s: s, end: end, port: 1234, lp: 81}
	r := p.sendOne(p.seg(header.FlagSYN, 5000, 0, nil, nil))
	if r.tcp.Flags() != header.FlagRST|header.FlagACK || r.tcp.Seq() != 0 || r.tcp.Ack() != 5001 {
		t.Errorf("SYN: flags %#x seq %d ack %d", r.tcp.Flags(), r.tcp.Seq(), r.tcp.Ack())
	}
	if r.ip.ID() != 0 || !r.ip.DontFragment() || r.ip.TTL() != 64 {
		t.Errorf("RST IP header: id %d DF %v ttl %d", r.ip.ID(), r.ip.DontFragment(), r.ip.TTL())
	}
	r = p.sendOne(p.seg(header.FlagACK, 5000, 777, nil, []byte("xy")))
	if r.tcp.Flags() != header.FlagRST || r.tcp.Seq() != 777 {
		t.Errorf("ACK: flags %#x seq %d", r.tcp.Flags(), r.tcp.Seq())
	}
	p.sendNone(p.seg(header.FlagRST, 5000, 0, nil, nil))
	if got := s.Counters().Get(metrics.TcpOutRsts); got != 2 {
		t.Errorf("OutRsts = %d, want 2", got)
	}
}

// TestLookup5_ExactListenerWins (TW-LOOKUP-5): a listener bound to the
// exact address takes the SYN over a wildcard one on the same port.
func TestLookup5_ExactListenerWins(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, func(o *Options) {
		o.Addrs = append(o.Addrs, netip.MustParseAddr("10.0.0.3"))
	})
	lc := ListenConfig{ReusePort: true} // Linux refuses the second bind otherwise
	wild, err := lc.Listen(l.b, "tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	exact, err := lc.Listen(l.b, "tcp", "10.0.0.3:80")
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	c, err := l.a.Dial("tcp", "10.0.0.3:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if q := queued(exact); q != 1 {
		t.Errorf("exact listener queue %d, want 1", q)
	}
	if q := queued(wild); q != 0 {
		t.Errorf("wildcard listener queue %d, want 0", q)
	}
	c2, err := l.a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if q := queued(wild); q != 1 {
		t.Errorf("wildcard listener queue %d, want 1", q)
	}
}

func queued(ln net.Listener) int { return ln.(*TCPListener).Pending() }

// TestListen_BacklogOverflow (MIB-17): with backlog 1, two children fit
// (sk_acceptq_is_full is "> backlog"); the third SYN is dropped and counted.
func TestListen_BacklogOverflow(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	ln, err := s.ListenBacklog("tcp", &net.TCPAddr{Port: 80}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for i := range 3 {
		p := &peer{t: t, s: s, end: end, port: uint16(30000 + i), lp: 80}
		out := p.send(p.seg(header.FlagSYN, 100, 0, nil, nil))
		if i == 2 {
			if len(out) != 0 {
				t.Fatalf("SYN to a full queue answered")
			}
			continue
		}
		if len(out) != 1 {
			t.Fatalf("SYN %d: %d replies", i, len(out))
		}
		p.sendNone(p.seg(header.FlagACK, 101, out[0].tcp.Seq()+1, nil, nil))
	}
	if a, b := s.Counters().Get(metrics.TcpExtListenOverflows), s.Counters().Get(metrics.TcpExtListenDrops); a != 1 || b != 1 {
		t.Errorf("ListenOverflows %d ListenDrops %d, want 1 1", a, b)
	}
}

// TestListen_CloseResetsQueued (CLOSE-2): closing a listener resets the
// children waiting in its accept queue.
func TestListen_CloseResetsQueued(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, s: s, end: end, port: 30000, lp: 80}
	sa := p.sendOne(p.seg(header.FlagSYN, 100, 0, nil, nil))
	p.sendNone(p.seg(header.FlagACK, 101, sa.tcp.Seq()+1, nil, nil))
	ln.Close()
	out := drain(end)
	if len(out) != 1 {
		t.Fatalf("%d segments after listener close, want 1 RST", len(out))
	}
	r := parse(t, out[0])
	if r.tcp.Flags() != header.FlagRST|header.FlagACK || r.tcp.Seq() != sa.tcp.Seq()+1 || r.tcp.Ack() != 101 {
		t.Errorf("flags %#x seq %d ack %d", r.tcp.Flags(), r.tcp.Seq(), r.tcp.Ack())
	}
	if len(s.Sockets()) != 0 {
		t.Errorf("sockets left: %v", s.Sockets())
	}
}

// TestFW2_OrphanBecomesRecord (FW2-4(c), FW2-10, TW-PROC-8, SCN-18/20): a
// server that closes and gets its FIN acknowledged, with the peer silent,
// holds a FIN_WAIT2-substate record (ss: FIN-WAIT-2, sockstat tw) for
// tcp_fin_timeout; data from the peer then resets it.
func TestFW2_OrphanBecomesRecord(t *testing.T) {
	s, end, clk := newCaptureStack(t, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &peer{t: t, s: s, end: end, port: 40001, lp: 80}
	sa := p.sendOne(p.seg(header.FlagSYN, 1000, 0, synOpts(100), nil))
	iss := sa.tcp.Seq()
	p.sendNone(p.seg(header.FlagACK, 1001, iss+1, tsOpts(101, sa.opts.TSVal), nil))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fin := parse(t, drain(end)[0])
	p.sendNone(p.seg(header.FlagACK, 1001, iss+2, tsOpts(102, fin.opts.TSVal), nil))
	socks := s.Sockets()
	if countState(socks, tcp.StateFinWait2) != 1 || s.Sockstat().TW != 1 || s.Sockstat().Orphan != 0 {
		t.Fatalf("sockets %v sockstat %v: want one FIN-WAIT-2 record", socks, s.Sockstat())
	}
	clk.Advance(30 * time.Second)
	r := p.sendOne(p.seg(header.FlagACK, 1001, iss+2, tsOpts(103, 0), []byte("late data")))
	if r.tcp.Flags() != header.FlagRST || r.tcp.Seq() != iss+2 {
		t.Errorf("data to a FIN_WAIT2 record: flags %#x seq %d, want R SEQ=its ACK", r.tcp.Flags(), r.tcp.Seq())
	}
	if s.Sockstat().TW != 0 {
		t.Errorf("record survived the RST verdict")
	}
}

// TestFW2_RecordExpires (FW2-7, SCN-18): the FIN_WAIT2 record disappears
// silently after tcp_fin_timeout (here 30 s).
func TestFW2_RecordExpires(t *testing.T) {
	s, end, clk := newCaptureStack(t, func(o *Options) { o.TCPFinTimeout = 30 * time.Second })
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &peer{t: t, s: s, end: end, port: 40002, lp: 80}
	sa := p.sendOne(p.seg(header.FlagSYN, 1000, 0, synOpts(100), nil))
	iss := sa.tcp.Seq()
	p.sendNone(p.seg(header.FlagACK, 1001, iss+1, tsOpts(101, sa.opts.TSVal), nil))
	c, _ := ln.Accept()
	c.Close()
	drain(end)
	p.sendNone(p.seg(header.FlagACK, 1001, iss+2, tsOpts(102, 1), nil))
	clk.Advance(29 * time.Second)
	if s.Sockstat().TW != 1 {
		t.Fatalf("record gone before tcp_fin_timeout")
	}
	clk.Advance(2 * time.Second)
	if s.Sockstat().TW != 0 {
		t.Fatalf("record alive after tcp_fin_timeout")
	}
	if out := drain(end); len(out) != 0 {
		t.Errorf("expiry sent %d packets", len(out))
	}
}

// TestTSClockSkew: ustack.ts_clock_skew moves the stack's TS clock (the
// SYN's TSval is ms(clock + skew) + the keyed offset) while timers keep
// their nominal length on the clock.
func TestTSClockSkew(t *testing.T) {
	const skew = 100 * time.Second
	s, end, clk := newCaptureStack(t, func(o *Options) {
		if err := o.Set("ustack.ts_clock_skew", "100000"); err != nil {
			t.Fatal(err)
		}
	})
	errc := make(chan error, 1)
	go func() {
		_, err := s.Dial("tcp", "10.0.0.2:80")
		errc <- err
	}()
	var syn parsed
	waitFor(t, "the SYN", func() bool {
		out := drain(end)
		if len(out) > 0 {
			syn = parse(t, out[0])
		}
		return len(out) > 0
	})
	k := tcp.Tuple{LocalAddr: addrA.As4(), RemoteAddr: peerAddr.As4(), LocalPort: syn.tcp.SrcPort(), RemotePort: 80}
	want := uint32(int64(clk.Now()+tcp.Time(skew))/1e6) + tcp.TSOffset(s.Config(), k)
	if syn.opts.TSVal != want {
		t.Errorf("SYN TSval %d, want %d", syn.opts.TSVal, want)
	}
	// The SYN retransmission still comes 1 s later on the clock.
	clk.Advance(999 * time.Millisecond)
	if n := len(drain(end)); n != 0 {
		t.Fatalf("retransmission before 1 s")
	}
	clk.Advance(2 * time.Millisecond)
	if n := len(drain(end)); n != 1 {
		t.Fatalf("%d segments at 1 s, want the SYN retransmission", n)
	}
	// Refuse the connection to end the Dial.
	p := &peer{t: t, s: s, end: end, port: 80, lp: syn.tcp.SrcPort()}
	p.sendNone(p.seg(header.FlagRST|header.FlagACK, 0, syn.tcp.Seq()+1, nil, nil))
	if err := <-errc; err == nil {
		t.Fatal("dial succeeded")
	}
}

// TestTWProc20_SYNWithoutListener (TW-PROC-20, SCN-14): the client closed
// first; a new SYN from the peer to the record's 4-tuple finds no listener
// on the client's port, so the record answers with its TW ACK and stays.
func TestTWProc20_SYNWithoutListener(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	type res struct {
		c   net.Conn
		err error
	}
	done := make(chan res, 1)
	go func() {
		c, err := s.Dial("tcp", "10.0.0.2:80")
		done <- res{c, err}
	}()
	var syn parsed
	waitFor(t, "the SYN", func() bool {
		out := drain(end)
		if len(out) > 0 {
			syn = parse(t, out[0])
		}
		return len(out) > 0
	})
	p := &peer{t: t, s: s, end: end, port: 80, lp: syn.tcp.SrcPort()}
	iss := syn.tcp.Seq()
	p.sendOne(p.seg(header.FlagSYN|header.FlagACK, 5000, iss+1, synOpts(700), nil)) // the handshake's ACK
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.c.Close()
	fin := parse(t, drain(end)[0])
	if fin.tcp.Flags() != header.FlagFIN|header.FlagACK {
		t.Fatalf("flags %#x, want FIN", fin.tcp.Flags())
	}
	p.sendOne(p.seg(header.FlagFIN|header.FlagACK, 5001, iss+2, tsOpts(701, fin.opts.TSVal), nil))
	if countState(s.Sockets(), tcp.StateTimeWait) != 1 {
		t.Fatalf("no record: %v", s.Sockets())
	}
	a := p.sendOne(p.seg(header.FlagSYN, 6002, 0, synOpts(800), nil))
	if a.tcp.Flags() != header.FlagACK || a.tcp.Seq() != iss+2 || a.tcp.Ack() != 5002 {
		t.Errorf("reply flags %#x seq %d ack %d, want the TW ACK", a.tcp.Flags(), a.tcp.Seq(), a.tcp.Ack())
	}
	if countState(s.Sockets(), tcp.StateTimeWait) != 1 {
		t.Errorf("record gone")
	}
}
