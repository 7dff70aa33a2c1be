package tcp

import (
	"testing"
	"time"

	"github.com/ustack/ustack/tcp/header"
)

func benchConn(tb testing.TB) (*harness, *discardEmitter) {
	h := newHarness(tb)
	h.passive(linuxSYN(100))
	return h, &discardEmitter{}
}

func inOrderLoop(tb testing.TB, n int) {
	h, e := benchConn(tb)
	c := h.c
	data := payload(1448, 0)
	seg := Segment{Seq: rcv0, Ack: snd0, Flags: fA, Window: 1000, Payload: data, HasOptions: true,
		Opts: header.Options{HasTS: true, TSVal: 200, TSEcr: 1}}
	buf := make([]byte, 4096)
	now := h.now
	for range n {
		now += Time(100 * time.Microsecond)
		seg.Opts.TSVal++
		c.Input(&seg, now, e)
		seg.Seq += uint32(len(data))
		if _, err := c.Read(buf, now, e); err != nil {
			tb.Fatal(err)
		}
		if c.NextTimer() != 0 && c.NextTimer() <= now {
			c.OnTimer(now, e)
		}
	}
	if c.rcvNxt != seg.Seq {
		tb.Fatalf("rcv_nxt %d want %d", c.rcvNxt, seg.Seq)
	}
}

func pureAckLoop(tb testing.TB, n int) {
	h, e := benchConn(tb)
	c := h.c
	data := payload(1448, 0)
	seg := Segment{Seq: rcv0, Ack: snd0, Flags: fA, Window: 1000, HasOptions: true,
		Opts: header.Options{HasTS: true, TSVal: 200, TSEcr: 1}}
	now := h.now
	for range n {
		now += Time(100 * time.Microsecond)
		if k, err := c.Write(data, now, e); k != len(data) || err != nil {
			tb.Fatal(k, err)
		}
		seg.Ack += uint32(len(data))
		seg.Opts.TSVal++
		seg.Opts.TSEcr = c.tsNow(now)
		c.Input(&seg, now, e)
	}
	if c.sndUna != seg.Ack {
		tb.Fatalf("snd_una %d want %d", c.sndUna, seg.Ack)
	}
}

func BenchmarkInputInOrderData(b *testing.B) {
	b.ReportAllocs()
	inOrderLoop(b, b.N)
}

func BenchmarkInputPureACK(b *testing.B) {
	b.ReportAllocs()
	pureAckLoop(b, b.N)
}

// The hot paths must not allocate per segment.
func TestHotPathZeroAllocs(t *testing.T) {
	h, e := benchConn(t)
	c := h.c
	data := payload(1448, 0)
	seg := Segment{Seq: rcv0, Ack: snd0, Flags: fA, Window: 1000, Payload: data, HasOptions: true,
		Opts: header.Options{HasTS: true, TSVal: 200, TSEcr: 1}}
	buf := make([]byte, 4096)
	now := h.now
	allocs := testing.AllocsPerRun(1000, func() {
		now += Time(100 * time.Microsecond)
		seg.Opts.TSVal++
		c.Input(&seg, now, e)
		seg.Seq += uint32(len(data))
		c.Read(buf, now, e)
		c.OnTimer(now, e)
	})
	if allocs != 0 {
		t.Errorf("in-order data: %v allocs per segment", allocs)
	}
	ack := Segment{Seq: seg.Seq, Ack: snd0, Flags: fA, Window: 1000, HasOptions: true,
		Opts: header.Options{HasTS: true, TSVal: seg.Opts.TSVal, TSEcr: 1}}
	// Warm the send buffer to its final size first.
	for range 100 {
		c.Write(data, now, e)
		ack.Ack += uint32(len(data))
		c.Input(&ack, now, e)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		now += Time(100 * time.Microsecond)
		c.Write(data, now, e)
		ack.Ack += uint32(len(data))
		ack.Opts.TSVal++
		c.Input(&ack, now, e)
	})
	if allocs != 0 {
		t.Errorf("write + pure ACK: %v allocs", allocs)
	}
}
