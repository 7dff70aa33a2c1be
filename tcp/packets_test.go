package tcp

import (
	"time"

	"github.com/ustack/ustack/tcp/cc"
	"testing"

	"github.com/ustack/ustack/tcp/header"
)

// tcp_packets_in_flight counts skbs: ten 400-byte writes (TCP_NODELAY)
// are ten packets, so an initial cwnd of 10 holds the eleventh back,
// although 4000 bytes are fewer than three full segments.
func TestSmallSegmentsCountAsPackets(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetNoDelay(true, h.now, h.e)
	for i := range 12 {
		h.c.Write(payload(400, byte(i)), h.now, h.e)
	}
	for i := range 10 {
		h.expect(fPA, snd0+uint32(400*i), rcv0)
	}
	h.expectNone()
	if p, f := h.c.packetsOut(), h.c.packetsInFlight(); p != 10 || f != 10 {
		t.Fatalf("packets_out %d in flight %d, want 10", p, f)
	}
	// One segment acknowledged: one packet leaves the network, the
	// eleventh write (1 packet) goes, coalesced with the twelfth up to
	// an MSS (tcp_write_xmit sends what is queued).
	h.send(mkSeg(rcv0, snd0+400, fA, 65535, nil, nil))
	o := h.recv()
	if o.Seq != snd0+4000 || len(o.Payload) != 800 {
		t.Fatalf("got %v, want seq %d len 800", o, snd0+4000)
	}
	h.expectNone()
}

// A long fat flight keeps every segment in the transmit log: the log grows
// past its initial 256 records (bounded by send buffer / MSS), so SACKs and
// loss marks of segments beyond the 256th count per segment.
func TestTxLogGrowsWithFlight(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	h.c.SetSendBuffer(4 << 20)
	h.send(mkSeg(rcv0, snd0, fA, 65535, nil, tsOpt(102, h.tsNow()))) // 8 MB window
	h.c.snd.Cwnd = 600
	mss := h.c.mssCache
	data := payload(600*mss, 0)
	for off := 0; off < len(data); {
		n, _ := h.c.Write(data[off:], h.now, h.e)
		if n == 0 {
			t.Fatalf("send buffer full at %d", off)
		}
		off += n
	}
	if h.c.txlog.n != 600 || h.c.packetsOut() != 600 {
		t.Fatalf("log %d records, packets_out %d, want 600", h.c.txlog.n, h.c.packetsOut())
	}
	if l := len(h.c.txlog.r); l > h.c.txlog.limit || l < 600 {
		t.Fatalf("log storage %d, limit %d", l, h.c.txlog.limit)
	}
	// The first segment is lost; the peer SACKs segments 300..600.
	s := snd0 + uint32(300*mss)
	o := tsOpt(103, h.tsNow())
	o.NumSACK, o.SACK[0] = 1, header.SACKBlock{Start: s, End: snd0 + uint32(600*mss)}
	h.send(mkSeg(rcv0, snd0, fA, 65535, nil, o))
	if got := h.c.sackedOut(); got != 300 {
		t.Fatalf("sacked_out %d, want 300", got)
	}
	out, sacked, lost, _ := h.c.queueCounts()
	if out != 600 || sacked != 300 || lost == 0 {
		t.Fatalf("packets_out %d sacked_out %d lost_out %d", out, sacked, lost)
	}
}

// tcp_recovery: with bit 1 (RACK, the default) a single SACK above a hole
// gets the hole retransmitted by the REO timer, well before the RTO; with
// tcp_recovery=0 SACK connections wait for the duplicate-ACK threshold
// (tcp_time_to_recover: sacked_out + 1 > reordering), and the third SACKed
// segment starts recovery with the head retransmitted at once
// (tcp_update_scoreboard).
func TestRecoverySysctlRACKOff(t *testing.T) {
	for _, rack := range []bool{true, false} {
		h := newHarness(t)
		if !rack {
			h.cfg.Recovery = 0
		}
		h.passive(linuxSYN(100))
		mss := uint32(h.c.mssCache)
		h.c.Write(payload(int(5*mss), 0), h.now, h.e)
		for i := range 5 {
			h.recv()
			_ = i
		}
		h.advance(20 * time.Millisecond)
		h.next = len(h.e.segs) // a tail loss probe may have gone
		sack := func(n uint32) {
			o := tsOpt(102, h.tsNow())
			o.NumSACK, o.SACK[0] = 1, header.SACKBlock{Start: snd0 + mss, End: snd0 + (n+1)*mss}
			h.send(mkSeg(rcv0, snd0, fA, 65535, nil, o))
		}
		sack(1)
		rto := h.c.rtoAt
		at := h.now
		for h.next == len(h.e.segs) && h.c.NextTimer() != 0 {
			at = h.c.NextTimer()
			h.advanceToTimer()
		}
		o := h.recv()
		if o.Seq != snd0 {
			t.Fatalf("rack=%v: first retransmission %v", rack, o)
		}
		if rack && at >= rto {
			t.Errorf("RACK: head resent at %v, not before the RTO %v", at, rto)
		}
		if !rack && at != rto {
			t.Errorf("tcp_recovery=0: head resent at %v, want the RTO at %v", at, rto)
		}
	}
	h := newHarness(t)
	h.cfg.Recovery = 0
	h.passive(linuxSYN(100))
	mss := uint32(h.c.mssCache)
	h.c.Write(payload(int(5*mss), 0), h.now, h.e)
	for range 5 {
		h.recv()
	}
	h.advance(20 * time.Millisecond)
	h.next = len(h.e.segs)
	for n := uint32(1); n <= 3; n++ {
		o := tsOpt(102, h.tsNow())
		o.NumSACK, o.SACK[0] = 1, header.SACKBlock{Start: snd0 + mss, End: snd0 + (n+1)*mss}
		h.send(mkSeg(rcv0, snd0, fA, 65535, nil, o))
		if n < 3 {
			h.expectNone()
		}
	}
	if o := h.recv(); o.Seq != snd0 || len(o.Payload) != int(mss) {
		t.Fatalf("third SACK: got %v, want the head retransmitted", o)
	}
	if h.c.caState != cc.Recovery {
		t.Fatalf("ca_state %v", h.c.caState)
	}
}

// SO_SNDBUF below what is queued: like sk_sndbuf < sk_wmem_queued, no
// write is accepted and the socket is not writable until ACKs drain the
// queue below the new size; getsockopt reports the doubled value.
func TestSetSendBufferShrinks(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetSendBuffer(64 << 10)
	n, _ := h.c.Write(payload(40000, 0), h.now, h.e)
	if n != 40000 {
		t.Fatalf("wrote %d", n)
	}
	h.c.SetSendBuffer(10000)
	if got := h.c.SendBufferSize(); got != 20000 {
		t.Errorf("SO_SNDBUF %d, want 20000", got)
	}
	if n, _ := h.c.Write(payload(10, 0), h.now, h.e); n != 0 || h.c.Writable() {
		t.Fatalf("write %d writable %v with 40000 queued in a 10000 buffer", n, h.c.Writable())
	}
	ackTo := func(a uint32) {
		for h.c.sndUna != a {
			h.send(mkSeg(rcv0, seqMin(h.c.sndNxt, a), fA, 65535, nil, nil))
		}
	}
	ackTo(snd0 + 25000)
	if n, _ := h.c.Write(payload(10, 0), h.now, h.e); n != 0 {
		t.Fatalf("write %d with 15000 queued", n)
	}
	ackTo(snd0 + 35000)
	if !h.c.Writable() {
		t.Fatal("not writable with 5000 queued")
	}
	if n, _ := h.c.Write(payload(8000, 0), h.now, h.e); n != 5000 {
		t.Fatalf("write %d, want the 5000 bytes of room", n)
	}
}

// SO_RCVBUF: tcp_rmem[1] until autotuning raises sk_rcvbuf, the doubled
// value once set.
func TestRecvBufferSize(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	if got := h.c.RecvBufferSize(); got != h.cfg.RMem[1] {
		t.Fatalf("SO_RCVBUF %d, want tcp_rmem[1] %d", got, h.cfg.RMem[1])
	}
	h.c.rbuf.grow(1 << 20) // as tcp_rcv_space_adjust does
	if got := h.c.RecvBufferSize(); got != 2<<20 {
		t.Fatalf("autotuned SO_RCVBUF %d, want %d", got, 2<<20)
	}
	h.c.SetRecvBuffer(50000)
	if got := h.c.RecvBufferSize(); got != 100000 {
		t.Fatalf("SO_RCVBUF %d, want 100000", got)
	}
}
