package stack

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
	"github.com/ustack/ustack/timewait"
)

// twTemplate returns the engine of a passive connection that closed first
// and reached TIME-WAIT with timestamps, on a throwaway capture stack:
// fillTimeWait hands it to enterTimeWait for every record it makes.
func twTemplate(tb testing.TB) *tcp.Conn {
	tb.Helper()
	s, end, _ := newCaptureStack(tb, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	send := func(flags uint8, seq, ack uint32, opts *header.Options) []parsed {
		s.DeliverPacket(seg{src: peerAddr, dst: addrA, sport: 40000, dport: 80, seq: seq, ack: ack,
			flags: flags, opts: opts}.build())
		var out []parsed
		for _, pkt := range drain(end) {
			out = append(out, parse(tb, pkt))
		}
		return out
	}
	sa := send(header.FlagSYN, 1000, 0, synOpts(100))
	if len(sa) != 1 {
		tb.Fatalf("SYN: %d answers", len(sa))
	}
	iss := sa[0].tcp.Seq()
	send(header.FlagACK, 1001, iss+1, tsOpts(101, sa[0].opts.TSVal))
	nc, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	nc.Close()
	fin := drain(end)
	if len(fin) != 1 {
		tb.Fatalf("close: %d segments", len(fin))
	}
	send(header.FlagFIN|header.FlagACK, 1001, iss+2, tsOpts(102, parse(tb, fin[0]).opts.TSVal))
	c := nc.(*TCPConn).c
	c.mu.Lock()
	defer c.mu.Unlock()
	if info := c.tc.TimeWaitInfo(); info.Substate != tcp.StateTimeWait || !info.HasTS {
		tb.Fatalf("template not in TIME-WAIT with timestamps: %+v", info)
	}
	return c.tc
}

// shape returns how many full sockets own port and under how many
// combinations its records are counted, slot and full part together.
func (p *portTable) shape(port uint16) (owners, combos int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl := p.lookup(port)
	if sl == nil {
		return 0, 0
	}
	if sl.n != 0 {
		combos++
	}
	if b := p.bucket(port, sl); b != nil {
		owners, combos = len(b.owners), combos+len(b.tw)
	}
	return owners, combos
}

// testRecord makes a record for tuple k with flags, as enterTimeWait would.
func testRecord(k tcp.Tuple, f timewait.Flags) *timewait.Record {
	r := new(timewait.Record)
	r.Init(timewait.Tuple(k), timewait.SubstateTimeWait, 1, 1, 65535, 0, 1, 1, 0, int64(200*time.Millisecond), f, 0)
	return r
}

// TestPort8_TimeWaitOwnerConflicts (PORT-8, TW-LOOKUP-8): records counted
// per combination still take part in bind()'s conflict check exactly like
// owner entries: overlapping addresses conflict unless both sides set
// SO_REUSEADDR, or both set SO_REUSEPORT (same-user test waived for
// records); records of several combinations on one port are all checked.
func TestPort8_TimeWaitOwnerConflicts(t *testing.T) {
	a, other, anyAddr := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 9}, [4]byte{}
	type rec struct {
		addr         [4]byte
		reuse, rport bool
	}
	tests := []struct {
		name         string
		recs         []rec
		addr         [4]byte
		reuse, rport bool
		want         error
	}{
		{"neither_reuseaddr", []rec{{a, false, false}}, a, false, false, syscall.EADDRINUSE},
		{"new_reuseaddr_only", []rec{{a, false, false}}, a, true, false, syscall.EADDRINUSE},
		{"record_reuseaddr_only", []rec{{a, true, false}}, a, false, false, syscall.EADDRINUSE},
		{"both_reuseaddr", []rec{{a, true, false}}, a, true, false, nil},
		{"wildcard_overlaps", []rec{{a, false, false}}, anyAddr, true, false, syscall.EADDRINUSE},
		{"wildcard_both_reuseaddr", []rec{{a, true, false}}, anyAddr, true, false, nil},
		{"other_address", []rec{{a, false, false}}, other, false, false, nil},
		{"both_reuseport", []rec{{a, false, true}}, a, false, true, nil},
		{"record_reuseport_only", []rec{{a, false, true}}, a, false, false, syscall.EADDRINUSE},
		{"one_combination_blocks", []rec{{a, true, false}, {a, true, false}, {a, false, false}}, a, true, false, syscall.EADDRINUSE},
		{"all_combinations_allow", []rec{{a, true, false}, {a, true, true}, {other, false, false}}, a, true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newCaptureStack(t, nil)
			const port = 5000
			for i, rc := range tt.recs {
				k := tcp.Tuple{LocalAddr: rc.addr, RemoteAddr: [4]byte{10, 0, 0, 2}, LocalPort: port, RemotePort: uint16(1000 + i)}
				c := s.newConn()
				s.ports.join(port, portOwner{addr: rc.addr, reuse: rc.reuse, rport: rc.rport}, c)
				var f timewait.Flags
				if rc.reuse {
					f |= timewait.FlagReuseAddr
				}
				if rc.rport {
					f |= timewait.FlagReusePort
				}
				s.ports.transfer(port, c, testRecord(k, f), rc.reuse)
			}
			if got := s.ports.twRecords(port); got != len(tt.recs) {
				t.Fatalf("%d records counted, want %d", got, len(tt.recs))
			}
			owner := new(int)
			_, err := s.ports.bindOpts(tt.addr, port, portOwner{addr: tt.addr, reuse: tt.reuse, rport: tt.rport}, owner)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("bind: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestTWLookup8_CountsFollowRecords (TW-LOOKUP-8, TW-ENTER-7): the
// connection's owner entry turns into a count of its combination; the
// port stays in use while any record of any combination is alive and the
// bucket disappears with the last one. Counting does not touch other
// combinations, and a record that was never counted changes nothing.
func TestTWLookup8_CountsFollowRecords(t *testing.T) {
	s, _, _ := newCaptureStack(t, nil)
	const port = 6000
	var recs []*timewait.Record
	for i := range 10 {
		k := tcp.Tuple{LocalAddr: [4]byte{10, 0, 0, 1}, RemoteAddr: [4]byte{10, 0, 0, 2}, LocalPort: port, RemotePort: uint16(1000 + i)}
		reuse := i%2 == 0
		c := s.newConn()
		s.ports.join(port, portOwner{addr: k.LocalAddr, reuse: reuse}, c)
		var f timewait.Flags
		if reuse {
			f = timewait.FlagReuseAddr
		}
		r := testRecord(k, f)
		s.ports.transfer(port, c, r, reuse)
		recs = append(recs, r)
	}
	owners, combos := s.ports.shape(port)
	if owners != 0 || combos != 2 {
		t.Fatalf("bucket: %d owner entries, %d combinations; want 0 and 2", owners, combos)
	}
	stray := testRecord(tcp.Tuple{LocalAddr: [4]byte{10, 0, 0, 7}, LocalPort: port}, 0)
	s.ports.release(port, stray)
	if got := s.ports.twRecords(port); got != 10 {
		t.Fatalf("releasing an uncounted record: %d counted, want 10", got)
	}
	for i, r := range recs {
		if !s.ports.inUse(port) {
			t.Fatalf("port free with %d records alive", len(recs)-i)
		}
		s.ports.release(port, r)
	}
	if s.ports.inUse(port) {
		t.Fatalf("port still in use after the last record died")
	}
}

// TestTWLookup8_PortFreeAfterExpiry (TW-LOOKUP-8, TIMER-1, PORT-8): the
// active closer's record holds its port against bind() until it expires;
// then the port can be bound again.
func TestTWLookup8_PortFreeAfterExpiry(t *testing.T) {
	l, clk := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	port := c.LocalAddr().(*net.TCPAddr).Port
	closeFirst(t, c, s)
	if got := l.a.ports.twRecords(uint16(port)); got != 1 {
		t.Fatalf("port %d counts %d records, want 1", port, got)
	}
	laddr := &net.TCPAddr{IP: addrA.AsSlice(), Port: port}
	raddr := &net.TCPAddr{IP: addrB.AsSlice(), Port: 80}
	if _, err := l.a.DialTCP("tcp", laddr, raddr); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("bind while the record lives: %v, want EADDRINUSE", err)
	}
	clk.Advance(61 * time.Second)
	l.flush()
	if l.a.ports.inUse(uint16(port)) || l.a.Sockstat().TW != 0 {
		t.Fatalf("after expiry: port in use %v, %d records", l.a.ports.inUse(uint16(port)), l.a.Sockstat().TW)
	}
	c2, err := l.a.DialTCP("tcp", laddr, raddr)
	if err != nil {
		t.Fatalf("bind after the record died: %v", err)
	}
	c2.Close()
}

// TestTWReuse10_DisplacedRecordLeavesPort (TW-REUSE-8/10): a bound
// connect() that takes a record over removes the record's count from the
// port; the new connection is the port's only owner.
func TestTWReuse10_DisplacedRecordLeavesPort(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
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
	port := uint16(c.LocalAddr().(*net.TCPAddr).Port)
	closeFirst(t, c, s)
	if got := l.a.ports.twRecords(port); got != 1 {
		t.Fatalf("%d records on the port, want 1", got)
	}
	d.LocalAddr = &net.TCPAddr{IP: addrA.AsSlice(), Port: int(port)}
	c2, err := d.DialContext(t.Context(), "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatalf("bound connect over the record: %v", err)
	}
	owners, combos := l.a.ports.shape(port)
	if owners != 1 || combos != 0 {
		t.Errorf("bucket after reuse: %d owners, %d record combinations; want 1 and 0", owners, combos)
	}
	c2.Close()
}

// TestPortTimeWaitNoAllocs: a connection on a listener's port becoming a
// record (transfer) and the record dying (release) allocate nothing once
// the combination exists: the per-packet TIME-WAIT entry and expiry paths
// stay allocation-free in the port table.
func TestPortTimeWaitNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	s, _, _ := newCaptureStack(t, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	k := twTuple(1)
	c := s.newConn()
	keep := testRecord(twTuple(2), 0)
	s.ports.join(80, portOwner{addr: k.LocalAddr}, c)
	s.ports.transfer(80, c, keep, false) // the combination's entry exists from now on
	r := testRecord(k, 0)
	if a := testing.AllocsPerRun(1000, func() {
		s.ports.join(80, portOwner{addr: k.LocalAddr}, c)
		s.ports.transfer(80, c, r, false)
		s.ports.release(80, r)
	}); a != 0 {
		t.Errorf("%.1f allocs per TIME-WAIT entry and death", a)
	}
	if got := s.ports.twRecords(80); got != 1 {
		t.Errorf("%d records counted, want 1", got)
	}
}
