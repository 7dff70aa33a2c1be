package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp/header"
	"github.com/ustack/ustack/tun"
)

// orderChecker watches every TCP segment a stack puts on the link, in wire
// order, and reports segments of one connection that left in a different
// order than the engine built them. Genuine retransmissions are not
// reordering; what a single sender can never produce (Linux's sender, and
// the engine's: snd_nxt and rcv_nxt only move forward, a pure ACK and a
// TIME-WAIT ACK carry SEQ = snd_nxt, tcp_send_ack / TW-RESP-1) is:
//   - an ACK field lower than one already sent (rcv_nxt went back);
//   - a segment starting beyond the highest sequence sent so far (a gap:
//     a later segment overtook an earlier one);
//   - a pure ACK with a SEQ below snd_nxt, e.g. [A] seq S after [FA] seq S,
//     the trace the interop suite caught (the ACK built before the FIN,
//     written after it). The one legal exception, a zero-window probe or
//     keepalive at snd_una-1, is allowed only before a FIN.
//
// RSTs are not checked (their SEQ/ACK come from the segment they answer).
//
// TSval going back is counted, not failed: it is not a transmit-order
// matter but a stale clock (the timer loop runs OnTimer with the time it
// read before taking the connection's lock), and Linux never does it
// either; the count says how often it happened.
type orderChecker struct {
	mu     sync.Mutex
	flows  map[flowID]*flowOrder
	bad    []string
	segs   int // segments checked
	rtx    int // data segments below the highest sequence: retransmissions
	fins   int
	tsBack int      // TSval lower than one already sent
	tsEx   []string // the first few
}

type flowID struct {
	src, dst     [4]byte
	sport, dport uint16
}

type flowOrder struct {
	maxEnd  uint32 // highest seq+len(+SYN/FIN) sent
	lastAck uint32
	hasAck  bool
	finSent bool
	tsval   uint32 // highest TSval sent
	hasTS   bool
	trace   []string // last segments, for the failure message
}

func newOrderChecker() *orderChecker { return &orderChecker{flows: make(map[flowID]*flowOrder)} }

func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

func (oc *orderChecker) record(pkt []byte) {
	h := ipv4.IPv4(pkt)
	if h.Validate() != nil || h.Protocol() != ipv4.ProtoTCP || h.IsFragment() {
		return
	}
	th := header.TCP(h.Payload())
	if len(th) < header.TCPMinSize || th.DataOffset() < header.TCPMinSize || th.DataOffset() > len(th) {
		return
	}
	k := flowID{h.Src(), h.Dst(), th.SrcPort(), th.DstPort()}
	fl, seq, ack := th.Flags(), th.Seq(), th.Ack()
	n := uint32(len(th) - th.DataOffset())
	end := seq + n
	if fl&(header.FlagSYN|header.FlagFIN) != 0 {
		end++
	}
	desc := fmt.Sprintf("%s seq %d ack %d len %d", flagString(fl), seq, ack, n)

	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.segs++
	if fl&header.FlagRST != 0 {
		return
	}
	f := oc.flows[k]
	if fl&header.FlagSYN != 0 {
		if f == nil || !seqLess(seq, f.maxEnd) || fl&header.FlagACK == 0 {
			// A new connection on the tuple (or its SYN retransmitted).
			f = &flowOrder{maxEnd: end}
			oc.flows[k] = f
		}
	}
	if f == nil {
		return // the connection started before the checker saw it
	}
	if len(f.trace) == 8 {
		copy(f.trace, f.trace[1:])
		f.trace = f.trace[:7]
	}
	f.trace = append(f.trace, desc)
	fail := func(why string) {
		if len(oc.bad) < 20 {
			oc.bad = append(oc.bad, fmt.Sprintf("%v:%d > %v:%d: %s; last segments: %v",
				netip.AddrFrom4(k.src), k.sport, netip.AddrFrom4(k.dst), k.dport, why, f.trace))
		}
	}
	if fl&header.FlagACK != 0 {
		if f.hasAck && seqLess(ack, f.lastAck) {
			fail(fmt.Sprintf("ACK field went back from %d", f.lastAck))
		}
		if !f.hasAck || seqLess(f.lastAck, ack) {
			f.lastAck, f.hasAck = ack, true
		}
	}
	var o header.Options
	if header.ParseOptions(th.Options(), &o); o.HasTS {
		if f.hasTS && seqLess(o.TSVal, f.tsval) {
			if oc.tsBack++; len(oc.tsEx) < 3 {
				oc.tsEx = append(oc.tsEx, fmt.Sprintf("%s TSval %d after %d", desc, o.TSVal, f.tsval))
			}
		}
		if !f.hasTS || seqLess(f.tsval, o.TSVal) {
			f.tsval, f.hasTS = o.TSVal, true
		}
	}
	if fl&header.FlagSYN != 0 {
		return
	}
	switch {
	case seqLess(f.maxEnd, seq):
		fail(fmt.Sprintf("gap: starts beyond snd_nxt %d", f.maxEnd))
	case n == 0 && fl&header.FlagFIN == 0 && seq != f.maxEnd:
		if f.finSent || seq != f.maxEnd-1 {
			fail(fmt.Sprintf("pure ACK below snd_nxt %d (fin sent %v)", f.maxEnd, f.finSent))
		}
	case n > 0 && seqLess(seq, f.maxEnd):
		oc.rtx++
	}
	if fl&header.FlagFIN != 0 && !f.finSent {
		f.finSent = true
		oc.fins++
	}
	if seqLess(f.maxEnd, end) {
		f.maxEnd = end
	}
}

func flagString(f uint8) string {
	var b []byte
	for i, c := range []byte("FSRPAUEC") {
		if f&(1<<i) != 0 {
			b = append(b, c)
		}
	}
	return "[" + string(b) + "]"
}

func (oc *orderChecker) violations() int {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	return len(oc.bad)
}

func (oc *orderChecker) report(t *testing.T) {
	t.Helper()
	oc.mu.Lock()
	defer oc.mu.Unlock()
	t.Logf("order check: %d segments on %d flows, %d FINs, %d data retransmissions", oc.segs, len(oc.flows), oc.fins, oc.rtx)
	if oc.tsBack > 0 {
		t.Logf("TSval went back %d times (stale timer clock, not transmit order), e.g. %v", oc.tsBack, oc.tsEx)
	}
	for _, b := range oc.bad {
		t.Error("segment out of build order: " + b)
	}
}

// tapDev records what a stack writes, in the order it reaches the link.
type tapDev struct {
	tun.Device
	mu  sync.Mutex // held across the inner write: record order = link order
	chk *orderChecker
}

func (d *tapDev) Write(bufs [][]byte, off int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range bufs {
		d.chk.record(b[off:])
	}
	return d.Device.Write(bufs, off)
}

// TestTxOrder_ConcurrentWritersAndCloses runs many connections between two
// stacks with workers over a tun.Pipe, both sides writing and reading at
// once and then closing, so every connection's engine runs on a worker
// (input), on API goroutines (Write, Read's window updates, CloseWrite's
// FIN, Close) and on the timer goroutine. Every segment must leave in the
// order it was built (see orderChecker). It uses the real clock: it tests
// concurrency, not timing, and nothing in it waits for a timer.
func TestTxOrder_ConcurrentWritersAndCloses(t *testing.T) {
	conns, size, rounds := txStressSize()
	chk := newOrderChecker()
	ea, eb := tun.NewPipe(tun.PipeConfig{MTU: 1500, QueueLen: 1 << 15})
	mk := func(dev tun.Device, addr netip.Addr) *Stack {
		o := DefaultOptions()
		o.Addrs = []netip.Addr{addr}
		o.Workers = 2
		s, err := New(&tapDev{Device: dev, chk: chk}, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := mk(ea, addrA), mk(eb, addrB)
	ln, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Several rounds: a reordering needs two goroutines to meet in a
	// window of a few instructions, which one round does not always give.
	for range rounds {
		exchangeMany(t, a, ln, "10.0.0.2:80", conns, size)
		if t.Failed() || chk.violations() > 0 {
			break
		}
	}
	chk.report(t)
	// Every data segment below snd_nxt must be one the engines counted as
	// a retransmission (TLPs and RTOs on the real clock), not a segment
	// that was overtaken.
	rtx := a.Counters().Get(metrics.TcpRetransSegs) + b.Counters().Get(metrics.TcpRetransSegs)
	t.Logf("RetransSegs %d, TCPLossProbes %d", rtx,
		a.Counters().Get(metrics.TcpExtTCPLossProbes)+b.Counters().Get(metrics.TcpExtTCPLossProbes))
	if uint64(chk.rtx) > rtx {
		t.Errorf("%d data segments below snd_nxt on the wire, only %d retransmissions counted", chk.rtx, rtx)
	}
	if want := 2 * conns * rounds; chk.fins < want {
		t.Errorf("saw %d FINs, want at least %d: the checker missed traffic", chk.fins, want)
	}
}

// TestTxOrder_Loopback is the same load on connections of a stack to its
// own address, which never reach the device: their packets go through the
// loopback queue, filled at build time under the connection's lock (in
// batch.finish) and drained by one goroutine at a time, so it keeps each
// connection's order too. Nothing taps that queue; a receiver sees a
// segment that overtook an earlier one as out-of-order data, so
// TCPOFOQueue must stay at zero (the loopback queue drops nothing:
// IpOutDiscards zero too). DSACKs are not a sign of reordering here: on
// the real clock a tail loss probe may resend a segment that was merely
// slow. Nor is a hole left by a PAWS drop: a timer-built segment can carry
// a TSval older than one sent just before it (see orderChecker), and the
// receiver drops it (PAWSEstab); the OFO check is skipped then.
func TestTxOrder_Loopback(t *testing.T) {
	conns, size, rounds := txStressSize()
	o := DefaultOptions()
	o.Addrs = []netip.Addr{addrA}
	o.Workers = 2
	dev, _ := tun.NewPipe(tun.PipeConfig{}) // only read from: nothing leaves
	s, err := New(dev, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range rounds {
		exchangeMany(t, s, ln, "10.0.0.1:80", conns, size)
		if t.Failed() {
			break
		}
	}
	m := s.Counters()
	ids := []metrics.ID{metrics.TcpExtTCPOFOQueue, metrics.IpOutDiscards}
	if n := m.Get(metrics.TcpExtPAWSEstab); n > 0 {
		t.Logf("%d PAWS drops (stale timer TSval): TCPOFOQueue %d not checked", n, m.Get(metrics.TcpExtTCPOFOQueue))
		ids = ids[1:]
	}
	for _, id := range ids {
		if n := m.Get(id); n != 0 {
			g, name := metrics.Name(id)
			t.Errorf("%s%s = %d, want 0", g, name, n)
		}
	}
	t.Logf("RetransSegs %d, TCPLossProbes %d", m.Get(metrics.TcpRetransSegs), m.Get(metrics.TcpExtTCPLossProbes))
}

// txStressSize is the load of the TestTxOrder tests: connections per
// round, bytes each way per connection, rounds.
func txStressSize() (conns, size, rounds int) {
	if testing.Short() || raceEnabled {
		return 24, 24 << 10, 4
	}
	return 48, 48 << 10, 4
}

// exchangeMany runs conns connections from a to ln (reached at addr) at
// once. On each, both sides write their own pattern in uneven chunks while
// reading the peer's, half-close after writing and close once both
// directions are done; the data must arrive intact.
func exchangeMany(t *testing.T, a *Stack, ln net.Listener, addr string, conns, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	deadline, _ := ctx.Deadline()
	exchange := func(c net.Conn, seed, peerSeed uint64) error {
		defer c.Close()
		c.SetDeadline(deadline)
		want := pattern(peerSeed, size)
		errc := make(chan error, 1)
		go func() {
			got, err := io.ReadAll(c)
			switch {
			case err != nil:
				errc <- fmt.Errorf("read: %w", err)
			case !bytes.Equal(got, want):
				errc <- fmt.Errorf("read %d bytes, not the %d sent", len(got), len(want))
			default:
				errc <- nil
			}
		}()
		data := pattern(seed, size)
		r := rand.New(rand.NewPCG(seed, 7))
		for len(data) > 0 {
			n := min(len(data), 1+r.IntN(6000))
			if _, err := c.Write(data[:n]); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			data = data[n:]
		}
		if err := c.(*TCPConn).CloseWrite(); err != nil {
			return fmt.Errorf("close write: %w", err)
		}
		return <-errc
	}

	errs := make(chan error, 2*conns)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // server: the client sends the connection's number first
		defer wg.Done()
		for range conns {
			c, err := ln.Accept()
			if err != nil {
				errs <- fmt.Errorf("accept: %w", err)
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var id [1]byte
				c.SetDeadline(deadline)
				if _, err := io.ReadFull(c, id[:]); err != nil {
					errs <- fmt.Errorf("server read id: %w", err)
					c.Close()
					return
				}
				if err := exchange(c, uint64(id[0])*2+1, uint64(id[0])*2); err != nil {
					errs <- fmt.Errorf("server conn %d: %w", id[0], err)
				}
			}()
		}
	}()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &Dialer{Stack: a}
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				errs <- fmt.Errorf("dial %d: %w", i, err)
				return
			}
			if _, err := c.Write([]byte{byte(i)}); err != nil {
				errs <- fmt.Errorf("client write id: %w", err)
				c.Close()
				return
			}
			if err := exchange(c, uint64(i)*2, uint64(i)*2+1); err != nil {
				errs <- fmt.Errorf("client conn %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// pattern returns n deterministic bytes for seed.
func pattern(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 99))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
