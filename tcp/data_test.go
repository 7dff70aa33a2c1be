package tcp

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

const rcv0 = peerISN + 1 // first data byte from the peer
const snd0 = ourISN + 1  // our first data byte

func TestQuickAckThenDelayedAck(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	// The first 16 segments are ACKed at once (tcp_incr_quickack).
	for i := range 16 {
		h.send(mkSeg(rcv0+uint32(i*1000), snd0, fA, 65535, payload(1000, byte(i)), nil))
		h.expect(fA, snd0, rcv0+uint32((i+1)*1000))
		h.now += Time(100 * time.Millisecond)
	}
	// Then one segment waits for the delayed-ACK timer (40 ms).
	seq := uint32(rcv0 + 16000)
	h.send(mkSeg(seq, snd0, fA, 65535, payload(1000, 1), nil))
	h.expectNone()
	if d := h.advanceToTimer(); d != 40*time.Millisecond {
		t.Fatalf("delayed ACK after %v", d)
	}
	h.expect(fA, snd0, seq+1000)
	if h.m.Get(metrics.TcpExtDelayedACKs) != 1 {
		t.Error("DelayedACKs")
	}
	// Two full segments: ACK at once (more than one rcv_mss unacknowledged
	// and the window does not shrink, i.e. the application keeps reading).
	buf := make([]byte, 20000)
	n, err := h.c.Read(buf, h.now, h.e)
	if err != nil || n != 17000 {
		t.Fatalf("read %d %v", n, err)
	}
	if !bytes.Equal(buf[:1000], payload(1000, 0)) {
		t.Error("data corrupted")
	}
	seq += 1000
	h.send(mkSeg(seq, snd0, fA, 65535, payload(1000, 2), nil))
	h.expectNone()
	h.send(mkSeg(seq+1000, snd0, fA, 65535, payload(1000, 3), nil))
	h.expect(fA, snd0, seq+2000)
}

func TestReceiveWindowAdvertisedScaled(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	h.send(mkSeg(rcv0, snd0, fA, 1000, payload(1448, 0), &header.Options{HasTS: true, TSVal: 102, TSEcr: h.tsNow()}))
	a := h.expect(fA, snd0, rcv0+1448)
	// 64 KiB of buffer space minus the queued 1448 bytes, aligned up to 128.
	if a.Window != (65536-1448+127)/128 {
		t.Errorf("window %d", a.Window)
	}
	if !a.Opts.HasTS || a.Opts.TSEcr != 102 {
		t.Errorf("TS %+v", a.Opts)
	}
}

func TestWriteSegmentsPSHOnLast(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	n, err := h.c.Write(payload(5000, 0), h.now, h.e)
	if n != 5000 || err != nil {
		t.Fatal(n, err)
	}
	for i := range 5 {
		f := uint8(fA)
		if i == 4 {
			f = fPA
		}
		o := h.expect(f, snd0+uint32(i*1000), rcv0)
		if len(o.Payload) != 1000 {
			t.Fatalf("len %d", len(o.Payload))
		}
	}
	h.expectNone()
}

func TestNagleHoldsSecondSmallSegment(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Write(payload(100, 0), h.now, h.e)
	h.expect(fPA, snd0, rcv0)
	h.c.Write(payload(100, 1), h.now, h.e)
	h.expectNone() // tcp_nagle_check: a small segment is unacknowledged
	h.send(mkSeg(rcv0, snd0+100, fA, 65535, nil, nil))
	h.expect(fPA, snd0+100, rcv0)
	// TCP_NODELAY sends small segments at once.
	h.c.SetNoDelay(true, h.now, h.e)
	h.c.Write(payload(10, 2), h.now, h.e)
	h.expect(fPA, snd0+200, rcv0)
	// A full segment is never held.
	h.c.SetNoDelay(false, h.now, h.e)
	h.c.Write(payload(1000, 3), h.now, h.e)
	h.expect(fPA, snd0+210, rcv0)
}

func TestCorkHoldsPartial(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetCork(true, h.now, h.e)
	h.c.Write(payload(1500, 0), h.now, h.e)
	h.expect(fA, snd0, rcv0)
	h.expectNone()
	h.c.SetCork(false, h.now, h.e)
	h.expect(fPA, snd0+1000, rcv0)
}

// TestRTOBackoffAndETIMEDOUT: CONST-7 (RTO from TCP_RTO_MIN 200 ms doubling
// up to TCP_RTO_MAX 120 s); SYSCTL-14 (tcp_retries2 15: a non-orphan gives
// up 924.6 s after the first transmission); MIB-13 (TCPAbortOnTimeout).
func TestRTOBackoffAndETIMEDOUT(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Write(payload(1000, 0), h.now, h.e)
	h.expect(fPA, snd0, rcv0)
	// RTT ~0 from the handshake: RTO = rto_min 200 ms, doubling to 120 s.
	want := []time.Duration{200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 120000, 120000, 120000, 120000, 120000}
	var total time.Duration
	for i, w := range want {
		d := h.advanceToTimer()
		total += d
		if d != w*time.Millisecond {
			t.Fatalf("retransmission %d after %v want %v", i+1, d, w*time.Millisecond)
		}
		h.expect(fPA, snd0, rcv0)
	}
	// tcp_retries2 = 15: the model timeout is 924.6 s since the first transmission.
	total += h.advanceToTimer()
	h.expectNone()
	if total != 924600*time.Millisecond {
		t.Errorf("gave up after %v", total)
	}
	if !errors.Is(h.c.Err(), syscall.ETIMEDOUT) || h.c.State() != StateClose {
		t.Fatal(h.c.Err(), h.c.State())
	}
	if h.m.Get(metrics.TcpExtTCPAbortOnTimeout) != 1 || h.m.Get(metrics.TcpRetransSegs) != 15 {
		t.Error("counters")
	}
}

func TestRTTEstimatorLinux(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.srttUs = 0
	h.c.rttSample(100 * time.Millisecond)
	if h.c.rto != 300*time.Millisecond {
		t.Errorf("first sample: rto %v want 300ms (srtt + max(2*rtt... rto_min))", h.c.rto)
	}
	h.c.rttSample(100 * time.Millisecond)
	if h.c.srttUs>>3 != 100000 {
		t.Errorf("srtt %d", h.c.srttUs>>3)
	}
}

func TestZeroWindowProbe(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil)) // window closes
	h.c.Write(payload(500, 0), h.now, h.e)
	h.expectNone()
	d := h.advanceToTimer()
	if d != 200*time.Millisecond {
		t.Errorf("first probe after %v", d)
	}
	h.expect(fA, snd0-1, rcv0) // probe: SEQ snd_una-1
	if d := h.advanceToTimer(); d != 400*time.Millisecond {
		t.Errorf("second probe after %v", d)
	}
	h.expect(fA, snd0-1, rcv0)
	h.send(mkSeg(rcv0, snd0, fA, 1000, nil, nil)) // window opens
	h.expect(fPA, snd0, rcv0)
}

func TestOutOfOrderSACKBlocksLinuxOrder(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	ts := func() *header.Options { return &header.Options{HasTS: true, TSVal: 200, TSEcr: 1} }
	const m = 1000
	h.send(mkSeg(rcv0, snd0, fA, 1000, payload(m, 0), ts()))
	h.expect(fA, snd0, rcv0+m)
	// Segment 2 is lost; 3 arrives: dup ACK with one SACK block.
	h.send(mkSeg(rcv0+2*m, snd0, fA, 1000, payload(m, 2), ts()))
	a := h.expect(fA, snd0, rcv0+m)
	if a.Opts.NumSACK != 1 || a.Opts.SACK[0] != (header.SACKBlock{Start: rcv0 + 2*m, End: rcv0 + 3*m}) {
		t.Fatalf("sack %+v", a.Opts)
	}
	// Segment 5: the newest block comes first.
	h.send(mkSeg(rcv0+4*m, snd0, fA, 1000, payload(m, 4), ts()))
	a = h.expect(fA, snd0, rcv0+m)
	if a.Opts.NumSACK != 2 || a.Opts.SACK[0].Start != rcv0+4*m || a.Opts.SACK[1].Start != rcv0+2*m {
		t.Fatalf("sack %+v", a.Opts.SACK[:a.Opts.NumSACK])
	}
	// Segment 4 joins them into one block.
	h.send(mkSeg(rcv0+3*m, snd0, fA, 1000, payload(m, 3), ts()))
	a = h.expect(fA, snd0, rcv0+m)
	if a.Opts.NumSACK != 1 || a.Opts.SACK[0] != (header.SACKBlock{Start: rcv0 + 2*m, End: rcv0 + 5*m}) {
		t.Fatalf("sack %+v", a.Opts.SACK[:a.Opts.NumSACK])
	}
	// The hole is filled: cumulative ACK at once, no SACK.
	h.send(mkSeg(rcv0+m, snd0, fA, 1000, payload(m, 1), ts()))
	a = h.expect(fA, snd0, rcv0+5*m)
	if a.Opts.NumSACK != 0 {
		t.Fatalf("sack %+v", a.Opts)
	}
	buf := make([]byte, 10000)
	n, _ := h.c.Read(buf, h.now, h.e)
	for i := range 5 {
		if !bytes.Equal(buf[i*m:(i+1)*m], payload(m, byte(i))) {
			t.Fatalf("segment %d corrupted (n=%d)", i, n)
		}
	}
	// A duplicate gets a DSACK.
	h.send(mkSeg(rcv0, snd0, fA, 1000, payload(m, 0), ts()))
	a = h.expect(fA, snd0, rcv0+5*m)
	if a.Opts.NumSACK != 1 || a.Opts.SACK[0] != (header.SACKBlock{Start: rcv0, End: rcv0 + m}) {
		t.Fatalf("dsack %+v", a.Opts)
	}
}

func TestSACKFastRetransmit(t *testing.T) {
	// A 10 ms handshake gives RACK a min_rtt: with none its reordering
	// window is 0 and the first SACK would already mark the hole lost.
	h, _ := passiveRTT(t, 10*time.Millisecond, 10)
	sack := func(blocks ...uint32) *header.Options {
		o := &header.Options{}
		for i := 0; i < len(blocks); i += 2 {
			o.SACK[o.NumSACK] = header.SACKBlock{Start: blocks[i], End: blocks[i+1]}
			o.NumSACK++
		}
		return o
	}
	h.now += Time(20 * time.Millisecond)
	// Segment 1 lost; SACKs for 2, 2-3, 2-4.
	h.send(mkSeg(rcv0, snd0, fA, 65535, nil, sack(snd0+1000, snd0+2000)))
	h.send(mkSeg(rcv0, snd0, fA, 65535, nil, sack(snd0+1000, snd0+3000)))
	h.expectNone()
	h.send(mkSeg(rcv0, snd0, fA, 65535, nil, sack(snd0+1000, snd0+4000)))
	h.expect(fA, snd0, rcv0) // fast retransmit of the hole
	if h.c.caState != 3 || h.m.Get(metrics.TcpExtTCPSackRecovery) != 1 {
		t.Fatalf("ca state %v", h.c.caState)
	}
	// Hole 5 also lost: after the head is ACKed, SACK 7-10 marks 5-6 lost.
	h.send(mkSeg(rcv0, snd0+4000, fA, 65535, nil, sack(snd0+6000, snd0+10000)))
	o := h.recv()
	if o.Seq != snd0+4000 {
		t.Fatalf("retransmitted %v, want seq %d", o, snd0+4000)
	}
	h.send(mkSeg(rcv0, snd0+10000, fA, 65535, nil, nil))
	if h.c.caState != 0 {
		t.Errorf("still in state %v", h.c.caState)
	}
	if h.c.snd.Cwnd != h.c.snd.SSThresh {
		t.Errorf("cwnd %d ssthresh %d after recovery", h.c.snd.Cwnd, h.c.snd.SSThresh)
	}
}

func TestNewRenoThreeDupAcks(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Write(payload(6000, 0), h.now, h.e)
	for range 6 {
		h.recv()
	}
	for range 2 {
		h.send(mkSeg(rcv0, snd0, fA, 65535, nil, nil))
	}
	h.expectNone()
	h.send(mkSeg(rcv0, snd0, fA, 65535, nil, nil))
	h.expect(fA, snd0, rcv0)
	if h.m.Get(metrics.TcpExtTCPRenoRecovery) != 1 {
		t.Error("RenoRecovery")
	}
	// Partial ACK: the next hole goes out at once.
	h.send(mkSeg(rcv0, snd0+2000, fA, 65535, nil, nil))
	h.expect(fA, snd0+2000, rcv0)
}

// packetdrill limited_transmit/limited-transmit-no-sack.pkt
func TestLimitedTransmitNoSACK(t *testing.T) {
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 32792, nil, &header.Options{HasMSS: true, MSS: 1000, HasWScale: true, WScale: 7})
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	h.recv()
	h.now += Time(100 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0, fA, 320, nil, nil))
	h.c.Write(payload(15000, 0), h.now, h.e)
	for range 10 {
		h.recv()
	}
	h.expectNone()
	h.now += Time(110 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0, fA, 320, nil, nil))
	h.expect(fA, snd0+10000, rcv0)
	h.expectNone()
	h.now += Time(10 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0, fA, 320, nil, nil))
	h.expect(fA, snd0+11000, rcv0)
	h.expectNone()
	h.now += Time(10 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0+3000, fA, 320, nil, nil))
	// Reno: the ACK of 3 segments delivered only one new one (two were
	// counted by the duplicates), so cwnd grows to 11: two segments go.
	// (Linux's skb layout puts PSH here too; ours marks only the end of
	// the queued data.)
	h.expect(fA, snd0+12000, rcv0)
	h.expect(fA, snd0+13000, rcv0)
	h.expectNone()
	h.now += Time(20 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0+5000, fA, 320, nil, nil))
	h.expect(fPA, snd0+14000, rcv0)
	h.expectNone()
}

// packetdrill nagle/sockopt_cork_nodelay.pkt
func TestCorkNoDelayMsgMore(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, HasWScale: true, WScale: 7})
	h.c.SetCork(true, h.now, h.e)
	h.c.Write(payload(40, 0), h.now, h.e)
	h.c.Write(payload(40, 0), h.now, h.e)
	h.expectNone()
	h.c.SetCork(false, h.now, h.e)
	if o := h.expect(fPA, snd0, rcv0); len(o.Payload) != 80 {
		t.Fatal(o)
	}
	h.send(mkSeg(rcv0, snd0+80, fA, 257, nil, nil))
	h.c.SetCork(true, h.now, h.e)
	h.c.Write(payload(40, 0), h.now, h.e)
	h.c.Write(payload(40, 0), h.now, h.e)
	h.expectNone()
	h.c.SetNoDelay(true, h.now, h.e) // pushes even while corked
	h.expect(fPA, snd0+80, rcv0)
	h.send(mkSeg(rcv0, snd0+160, fA, 257, nil, nil))
	h.c.SetCork(false, h.now, h.e)
	h.c.SetNoDelay(false, h.now, h.e)
	h.c.WriteMore(payload(40, 0), h.now, h.e)
	h.c.WriteMore(payload(40, 0), h.now, h.e)
	h.expectNone()
	h.c.SetNoDelay(true, h.now, h.e)
	if o := h.expect(fA, snd0+160, rcv0); len(o.Payload) != 80 { // MSG_MORE data carries no PSH
		t.Fatal(o)
	}
}

// tcp_comp_sack: after three immediate duplicate ACKs for the same rcv_nxt,
// further out-of-order segments are acknowledged once, 5% of the RTT later.
func TestSACKCompression(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true})
	h.c.rs.rttUs = int64(10*time.Millisecond/time.Microsecond) << 3
	for i := 1; i <= 6; i++ {
		h.send(mkSeg(rcv0+uint32(i*1000), snd0, fA, 65535, payload(1000, 0), nil))
		if i <= 3 {
			h.expect(fA, snd0, rcv0)
		}
	}
	h.expectNone()
	if d := h.advanceToTimer(); d != 500*time.Microsecond {
		t.Errorf("compressed ACK after %v", d)
	}
	a := h.expect(fA, snd0, rcv0)
	if a.Opts.NumSACK != 1 || a.Opts.SACK[0] != (header.SACKBlock{Start: rcv0 + 1000, End: rcv0 + 7000}) {
		t.Errorf("sack %+v", a.Opts)
	}
	if h.m.Get(metrics.TcpExtTCPAckCompressed) != 2 {
		t.Errorf("TCPAckCompressed %d", h.m.Get(metrics.TcpExtTCPAckCompressed))
	}
}
