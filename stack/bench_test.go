package stack

import (
	"io"
	"net"
	"testing"

	"github.com/ustack/ustack/tcp/header"
)

// established sets up a connection between the capture stack (server on
// :80) and a crafted peer, returning the accepted conn, the peer and the
// server's ISS.
func established(t testing.TB) (*peer, net.Conn, uint32, func()) {
	tt, ok := t.(*testing.T)
	if !ok {
		tt = &testing.T{}
	}
	s, end, _ := newCaptureStack(t, func(o *Options) { o.TCPRmem[1] = 4 << 20 })
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: tt, s: s, end: end, port: 40000, lp: 80}
	s.DeliverPacket(p.seg(header.FlagSYN, 1000, 0, synOpts(100), nil).build())
	out := drain(end)
	if len(out) != 1 {
		t.Fatalf("no SYN-ACK")
	}
	sa := parse(t, out[0])
	iss := sa.tcp.Seq()
	s.DeliverPacket(p.seg(header.FlagACK, 1001, iss+1, tsOpts(101, sa.opts.TSVal), nil).build())
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	drain(end)
	return p, c, iss, func() { c.Close(); ln.Close() }
}

// rxData returns a function delivering the next in-order 1448-byte
// segment, reading the data out and draining the replies every 16
// segments, so the receive window never closes.
func rxData(p *peer, c net.Conn, iss uint32, pause, resume func(), got *int) func() {
	payload := make([]byte, 1448)
	seq := uint32(1001)
	ts := uint32(200)
	sg := p.seg(header.FlagACK|header.FlagPSH, seq, iss+1, tsOpts(ts, 1), payload)
	pkt := sg.build()
	buf := make([]byte, 64<<10)
	n := 0
	return func() {
		// Rewrite seq and TSval in place and fix the checksum: no
		// allocation in the loop.
		sg.seq, sg.opts.TSVal = seq, ts
		th := header.TCP(pkt[20:])
		putBE32(th[4:], seq)
		putBE32(th[24:], ts) // NOP NOP TS: TSval at option offset 4
		th.SetChecksum(0)
		th.SetChecksum(header.TCPChecksum(sg.src.As4(), sg.dst.As4(), th))
		p.s.DeliverPacket(pkt)
		seq += uint32(len(payload))
		ts++
		n++
		if n%16 == 0 {
			pause()
			for {
				k, _ := c.Read(buf)
				*got += k
				if k < len(buf) {
					break
				}
			}
			drainQuiet(p)
			resume()
		}
	}
}

func putBE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

var quietBufs = [][]byte{make([]byte, 2048)}
var quietSize = []int{0}

func drainQuiet(p *peer) {
	for {
		n, err := p.end.TryRead(quietBufs, quietSize, 0)
		if err != nil || n == 0 {
			return
		}
	}
}

// BenchmarkRxInOrderData: in-order data segments through the whole input
// path (IP validation, lookup, engine, ACK output).
func BenchmarkRxInOrderData(b *testing.B) {
	p, c, iss, done := established(b)
	defer done()
	var got int
	next := rxData(p, c, iss, b.StopTimer, b.StartTimer, &got)
	b.ReportAllocs()
	b.SetBytes(1448)
	b.ResetTimer()
	for range b.N {
		next()
	}
}

// BenchmarkRxPureACK: pure ACKs acknowledging data the server sent.
func BenchmarkRxPureACK(b *testing.B) {
	p, c, iss, done := established(b)
	defer done()
	next := rxACK(p, c, iss, b.StopTimer, b.StartTimer)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		next()
	}
}

// rxACK returns a function that delivers one pure ACK for the next 1000
// bytes the server sent, writing more data (outside the measurement) when
// everything is acknowledged.
func rxACK(p *peer, c net.Conn, iss uint32, pause, resume func()) func() {
	data := make([]byte, 8000)
	sent := iss + 1 // everything below is acknowledged
	una := iss + 1
	ts := uint32(300)
	sg := p.seg(header.FlagACK, 1001, una, tsOpts(ts, 1), nil)
	pkt := sg.build()
	return func() {
		if una == sent {
			pause()
			n, _ := c.Write(data)
			sent += uint32(n)
			drainQuiet(p)
			resume()
		}
		una += 1000
		if int32(una-sent) > 0 {
			una = sent
		}
		th := header.TCP(pkt[20:])
		putBE32(th[8:], una)
		putBE32(th[24:], ts)
		ts++
		th.SetChecksum(0)
		th.SetChecksum(header.TCPChecksum(sg.src.As4(), sg.dst.As4(), th))
		p.s.DeliverPacket(pkt)
	}
}

// TestRxNoAllocs proves the steady-state input path does not allocate
// (AllocsPerRun over in-order data and pure ACKs).
func TestRxNoAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	noop := func() {}
	p, c, iss, done := established(t)
	defer done()
	var got int
	next := rxData(p, c, iss, noop, noop, &got)
	for range 64 { // warm up buffers and pools
		next()
	}
	// Reads and drains happen every 16th call inside next; average over
	// many runs so they show up as a fraction.
	if a := testing.AllocsPerRun(256, next); a > 0.1 {
		t.Errorf("in-order data: %.2f allocs per segment", a)
	}
	if want := (64 + 257) / 16 * 16 * 1448; got != want {
		t.Errorf("read %d bytes, want %d: segments were not accepted in order", got, want)
	}
	p2, c2, iss2, done2 := established(t)
	defer done2()
	nextAck := rxACK(p2, c2, iss2, noop, noop)
	for range 64 {
		nextAck()
	}
	if a := testing.AllocsPerRun(256, nextAck); a > 0.5 {
		t.Errorf("pure ACK: %.2f allocs per segment", a)
	}
}

// BenchmarkPipeBulk moves data between two stacks with workers over an
// in-memory tun.Pipe, real clock: the whole machinery end to end.
func BenchmarkPipeBulk(b *testing.B) {
	a, bs := newRealPair(b)
	ln, err := bs.Listen("tcp", ":80")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	c, err := a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	if n := <-done; n != int64(b.N*len(chunk)) {
		b.Fatalf("received %d bytes, want %d", n, b.N*len(chunk))
	}
}
