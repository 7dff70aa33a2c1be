package tcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// capEmitter records every emitted segment (tests only; it copies).
type capEmitter struct {
	buf  [1 << 16]byte
	segs [][]byte
	tups []Tuple
}

func (e *capEmitter) Buffer(n int) []byte { return e.buf[:n] }
func (e *capEmitter) Send(t Tuple, seg []byte) {
	e.segs = append(e.segs, append([]byte(nil), seg...))
	e.tups = append(e.tups, t)
}

// discardEmitter drops segments without allocating (benchmarks).
type discardEmitter struct {
	buf [1 << 16]byte
	n   int
}

func (e *discardEmitter) Buffer(n int) []byte { return e.buf[:n] }
func (e *discardEmitter) Send(Tuple, []byte)  { e.n++ }

var (
	localAddr  = [4]byte{10, 0, 0, 1}
	remoteAddr = [4]byte{10, 0, 0, 2}
	testTuple  = Tuple{LocalAddr: localAddr, RemoteAddr: remoteAddr, LocalPort: 80, RemotePort: 40000}
)

// out is a parsed emitted segment.
type out struct {
	Seq, Ack uint32
	Flags    uint8
	Window   uint16
	Payload  []byte
	Opts     header.Options
	HasOpts  bool
	Raw      []byte
}

func flagStr(f uint8) string {
	s := ""
	for _, x := range []struct {
		b uint8
		c string
	}{{header.FlagSYN, "S"}, {header.FlagFIN, "F"}, {header.FlagRST, "R"}, {header.FlagPSH, "P"}, {header.FlagACK, "."}} {
		if f&x.b != 0 {
			s += x.c
		}
	}
	return s
}

func (o out) String() string {
	return fmt.Sprintf("%s seq %d ack %d win %d len %d", flagStr(o.Flags), o.Seq, o.Ack, o.Window, len(o.Payload))
}

type harness struct {
	t    testing.TB
	cfg  *Config
	m    *metrics.Counters
	c    *Conn
	e    *capEmitter
	now  Time
	next int
}

func testConfig() *Config {
	cfg := DefaultConfig()
	cfg.Secret = [16]byte{}
	cfg.Timestamps = 2 // TS offset 0: TSval = ms clock
	return cfg
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, cfg: testConfig(), m: metrics.New(), e: &capEmitter{}, now: Time(time.Second)}
}

// seg builds an incoming segment.
func mkSeg(seq, ack uint32, flags uint8, win uint16, payload []byte, o *header.Options) *Segment {
	s := &Segment{Seq: seq, Ack: ack, Flags: flags, Window: win, Payload: payload}
	if o != nil {
		s.Opts = *o
		s.HasOptions = true
	}
	return s
}

func (h *harness) send(s *Segment) {
	h.t.Helper()
	// Round-trip through the wire format to exercise ParseSegment.
	var o header.Options
	if s.HasOptions {
		o = s.Opts
	}
	var olen int
	syn := s.Flags&header.FlagSYN != 0
	if syn {
		olen = header.SYNOptionsLen(&o)
	} else {
		olen = header.OptionsLen(&o)
	}
	b := make([]byte, 20+olen+len(s.Payload))
	header.TCP(b).Encode(&header.Fields{SrcPort: 40000, DstPort: 80, Seq: s.Seq, Ack: s.Ack, DataOffset: uint8(20 + olen), Flags: s.Flags, Window: s.Window})
	if syn {
		header.PutSYNOptions(b[20:], &o)
	} else {
		header.PutOptions(b[20:], &o)
	}
	copy(b[20+olen:], s.Payload)
	var p Segment
	if err := ParseSegment(b, &p); err != nil {
		h.t.Fatal(err)
	}
	h.c.Input(&p, h.now, h.e)
}

func parseOut(b []byte) out {
	t := header.TCP(b)
	o := out{Seq: t.Seq(), Ack: t.Ack(), Flags: t.Flags(), Window: t.Window(), Payload: t.Payload(), Raw: b}
	if len(t.Options()) > 0 {
		o.HasOpts = true
		_ = header.ParseOptions(t.Options(), &o.Opts)
	}
	return o
}

// recv returns the next emitted segment, failing if there is none.
func (h *harness) recv() out {
	h.t.Helper()
	if h.next >= len(h.e.segs) {
		h.t.Fatalf("no segment emitted (state %v)", h.c.State())
	}
	b := h.e.segs[h.next]
	h.next++
	if !header.VerifyTCPChecksum(localAddr, remoteAddr, b) {
		h.t.Fatalf("bad checksum on %v", parseOut(b))
	}
	return parseOut(b)
}

func (h *harness) expectNone() {
	h.t.Helper()
	if h.next < len(h.e.segs) {
		h.t.Fatalf("unexpected segment %v", parseOut(h.e.segs[h.next]))
	}
}

// expect checks flags, seq and ack of the next segment.
func (h *harness) expect(flags uint8, seq, ack uint32) out {
	h.t.Helper()
	o := h.recv()
	if o.Flags != flags || o.Seq != seq || o.Ack != ack {
		h.t.Fatalf("got %v, want %s seq %d ack %d", o, flagStr(flags), seq, ack)
	}
	return o
}

// advance moves the clock by d, firing due timers in order.
func (h *harness) advance(d time.Duration) {
	end := h.now.add(d)
	for {
		nt := h.c.NextTimer()
		if nt == 0 || nt > end {
			break
		}
		h.now = nt
		h.c.OnTimer(h.now, h.e)
	}
	h.now = end
}

// advanceToTimer jumps to the next timer and fires it; returns the delay.
func (h *harness) advanceToTimer() time.Duration {
	h.t.Helper()
	nt := h.c.NextTimer()
	if nt == 0 {
		h.t.Fatal("no timer armed")
	}
	d := time.Duration(nt - h.now)
	h.now = nt
	h.c.OnTimer(h.now, h.e)
	return d
}

const (
	fS  = header.FlagSYN
	fA  = header.FlagACK
	fF  = header.FlagFIN
	fR  = header.FlagRST
	fP  = header.FlagPSH
	fSA = header.FlagSYN | header.FlagACK
	fFA = header.FlagFIN | header.FlagACK
	fPA = header.FlagPSH | header.FlagACK
	fRA = header.FlagRST | header.FlagACK
)

// Peer conventions: our ISN 1000 on passive opens, the peer's ISN 5000.
const (
	ourISN  = 1000
	peerISN = 5000
)

// passive establishes a passive connection. synOpts are the peer's SYN
// options; the peer's window is 65535 (scaled by its wscale if any).
func (h *harness) passive(synOpts *header.Options) {
	h.t.Helper()
	syn := mkSeg(peerISN, 0, fS, 65535, nil, synOpts)
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	sa := h.expect(fSA, ourISN, peerISN+1)
	_ = sa
	var o *header.Options
	if synOpts != nil && synOpts.HasTS {
		o = &header.Options{HasTS: true, TSVal: synOpts.TSVal + 1, TSEcr: h.tsNow()}
	}
	win := uint16(65535)
	if synOpts != nil && synOpts.HasWScale {
		win = 1000
	}
	h.send(mkSeg(peerISN+1, ourISN+1, fA, win, nil, o))
	if h.c.State() != StateEstablished {
		h.t.Fatalf("state %v after handshake", h.c.State())
	}
	h.c.TakeEvents()
}

func (h *harness) tsNow() uint32 { return uint32(int64(h.now) / 1e6) }

// linuxSYN is the option set of a Linux SYN (mss 1460, sackOK, TS, wscale 7).
func linuxSYN(tsval uint32) *header.Options {
	return &header.Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: tsval, HasWScale: true, WScale: 7}
}

func plainSYN() *header.Options { return &header.Options{HasMSS: true, MSS: 1000} }

func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}
