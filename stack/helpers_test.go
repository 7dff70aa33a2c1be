package stack

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp/header"
	"github.com/ustack/ustack/tun"
)

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
)

// syncLink joins two Manual stacks over a tun.Pipe and moves packets
// synchronously: every device write drains both directions on the writing
// goroutine until the link is quiet (re-entrant writes just mark more work),
// so a Dial returns with the handshake done and nothing ever sleeps.
type syncLink struct {
	mu       sync.Mutex // guards flushing and pending
	flushing bool
	pending  bool

	ea, eb *tun.PipeEnd
	a, b   *Stack
	// tap, if set, sees every packet moved ("a>b" or "b>a").
	tap func(dir string, pkt []byte)
	// drop, if set, discards packets it returns true for.
	drop func(dir string, pkt []byte) bool

	bufs [][]byte
	size []int
}

type linkDev struct {
	*tun.PipeEnd
	l *syncLink
}

func (d *linkDev) Write(bufs [][]byte, off int) (int, error) {
	n, err := d.PipeEnd.Write(bufs, off)
	d.l.flush()
	return n, err
}

// newLinkedStacks returns two Manual stacks on one virtual clock, A at
// 10.0.0.1 and B at 10.0.0.2, with per-stack option tweaks.
func newLinkedStacks(t testing.TB, tweakA, tweakB func(*Options)) (*syncLink, *VirtualClock) {
	t.Helper()
	clk := NewVirtualClock()
	ea, eb := tun.NewPipe(tun.PipeConfig{MTU: 1500, QueueLen: 4096})
	l := &syncLink{ea: ea, eb: eb}
	l.bufs = make([][]byte, 64)
	l.size = make([]int, 64)
	for i := range l.bufs {
		l.bufs[i] = make([]byte, 1500)
	}
	mk := func(dev *tun.PipeEnd, addr netip.Addr, tweak func(*Options)) *Stack {
		o := DefaultOptions()
		o.Addrs = []netip.Addr{addr}
		o.Clock = clk
		o.Manual = true
		if tweak != nil {
			tweak(&o)
		}
		s, err := New(&linkDev{dev, l}, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	l.a = mk(ea, addrA, tweakA)
	l.b = mk(eb, addrB, tweakB)
	return l, clk
}

func (l *syncLink) flush() {
	l.mu.Lock()
	if l.flushing {
		l.pending = true
		l.mu.Unlock()
		return
	}
	l.flushing = true
	l.mu.Unlock()
	for {
		// Packets written by A are read on B's end and vice versa.
		moved := l.pump(l.eb, l.b, "a>b") + l.pump(l.ea, l.a, "b>a")
		l.mu.Lock()
		if moved == 0 && !l.pending {
			l.flushing = false
			l.mu.Unlock()
			return
		}
		l.pending = false
		l.mu.Unlock()
	}
}

// waitIdle waits (yielding, never sleeping) until no goroutine is moving
// packets and both directions are empty: the synchronous processing
// started by another goroutine's write has finished.
func (l *syncLink) waitIdle(t testing.TB) {
	t.Helper()
	for i := 0; i < 10_000_000; i++ {
		l.mu.Lock()
		idle := !l.flushing && l.ea.Pending() == 0 && l.eb.Pending() == 0 && l.a.txIdle() && l.b.txIdle()
		l.mu.Unlock()
		if idle {
			return
		}
		runtime.Gosched()
	}
	t.Fatal("link never became idle")
}

func (l *syncLink) pump(end *tun.PipeEnd, to *Stack, dir string) int {
	if to == nil {
		return 0
	}
	total := 0
	for {
		n, err := end.TryRead(l.bufs, l.size, 0)
		if err != nil || n == 0 {
			return total
		}
		for i := 0; i < n; i++ {
			p := l.bufs[i][:l.size[i]]
			if l.tap != nil {
				l.tap(dir, p)
			}
			if l.drop != nil && l.drop(dir, p) {
				continue
			}
			to.DeliverPacket(p)
		}
		total += n
	}
}

// capture returns a Manual stack at 10.0.0.1 whose output the test reads
// with drain, for packet-level tests.
func newCaptureStack(t testing.TB, tweak func(*Options)) (*Stack, *tun.PipeEnd, *VirtualClock) {
	t.Helper()
	clk := NewVirtualClock()
	ea, eb := tun.NewPipe(tun.PipeConfig{MTU: 1500, QueueLen: 4096})
	o := DefaultOptions()
	o.Addrs = []netip.Addr{addrA}
	o.Clock = clk
	o.Manual = true
	if tweak != nil {
		tweak(&o)
	}
	s, err := New(ea, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, eb, clk
}

// drain returns every packet the stack wrote so far.
func drain(peer *tun.PipeEnd) [][]byte {
	var out [][]byte
	bufs := [][]byte{make([]byte, 2000)}
	size := []int{0}
	for {
		n, err := peer.TryRead(bufs, size, 0)
		if err != nil || n == 0 {
			return out
		}
		out = append(out, append([]byte(nil), bufs[0][:size[0]]...))
	}
}

// seg describes a TCP segment to craft.
type seg struct {
	src, dst     netip.Addr
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	win          uint16
	opts         *header.Options // SYN layout when flags has SYN
	payload      []byte
}

// build returns the IPv4 packet for sg, checksums filled.
func (sg seg) build() []byte {
	olen := 0
	if sg.opts != nil {
		if sg.flags&header.FlagSYN != 0 {
			olen = header.SYNOptionsLen(sg.opts)
		} else {
			olen = header.OptionsLen(sg.opts)
		}
	}
	hl := header.TCPMinSize + olen
	n := hl + len(sg.payload)
	pkt := make([]byte, ipv4.MinSize+n)
	tcpb := header.TCP(pkt[ipv4.MinSize:])
	win := sg.win
	if win == 0 {
		win = 65535
	}
	tcpb.Encode(&header.Fields{SrcPort: sg.sport, DstPort: sg.dport, Seq: sg.seq, Ack: sg.ack,
		DataOffset: uint8(hl), Flags: sg.flags, Window: win})
	if olen > 0 {
		if sg.flags&header.FlagSYN != 0 {
			header.PutSYNOptions(tcpb[header.TCPMinSize:hl], sg.opts)
		} else {
			header.PutOptions(tcpb[header.TCPMinSize:hl], sg.opts)
		}
	}
	copy(tcpb[hl:], sg.payload)
	src, dst := sg.src.As4(), sg.dst.As4()
	tcpb.SetChecksum(header.TCPChecksum(src, dst, tcpb))
	ipv4.IPv4(pkt).Encode(&ipv4.Fields{TotalLength: uint16(len(pkt)), TTL: 64, Protocol: ipv4.ProtoTCP,
		Src: src, Dst: dst, Flags: ipv4.FlagDF})
	return pkt
}

// parsed is a TCP segment read back from the stack's output.
type parsed struct {
	ip   ipv4.IPv4
	tcp  header.TCP
	opts header.Options
}

func parse(t testing.TB, pkt []byte) parsed {
	t.Helper()
	h := ipv4.IPv4(pkt)
	if err := h.Validate(); err != nil {
		t.Fatalf("stack emitted a bad IP header: %v", err)
	}
	th := header.TCP(h.Payload())
	if h.Protocol() != ipv4.ProtoTCP || !th.Valid() {
		t.Fatalf("not a TCP segment: % x", pkt)
	}
	if !header.VerifyTCPChecksum(h.Src(), h.Dst(), th) {
		t.Fatalf("bad TCP checksum")
	}
	var p parsed
	p.ip, p.tcp = h, th
	if err := header.ParseOptions(th.Options(), &p.opts); err != nil {
		t.Fatalf("bad options: %v", err)
	}
	return p
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
