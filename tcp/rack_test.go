package tcp

import (
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

// passiveRTT opens a SACK connection (MSS 1000, no timestamps) whose
// handshake takes rtt, so srtt = min_rtt = rtt, and sends n segments at
// once. It returns the time they left.
func passiveRTT(t *testing.T, rtt time.Duration, n int) (*harness, Time) {
	t.Helper()
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 65535, nil, &header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true})
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	h.expect(fSA, ourISN, peerISN+1)
	h.now += Time(rtt)
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 65535, nil, nil))
	if h.c.State() != StateEstablished {
		t.Fatalf("state %v after handshake", h.c.State())
	}
	h.c.TakeEvents()
	h.c.Write(payload(n*1000, 0), h.now, h.e)
	for range n {
		h.recv()
	}
	h.expectNone()
	return h, h.now
}

func sackOpt(blocks ...uint32) *header.Options {
	o := &header.Options{}
	for i := 0; i+1 < len(blocks); i += 2 {
		o.SACK[o.NumSACK] = header.SACKBlock{Start: blocks[i], End: blocks[i+1]}
		o.NumSACK++
	}
	return o
}

const snd1 = ourISN + 1 // first data byte

// RACK (RFC 8985 6.2, tcp_rack_detect_loss): one SACK for the last of four
// segments is not enough to mark the others lost at once; they are lost
// when the reordering window min_rtt/4 has passed, plus TCP_TIMEOUT_MIN.
func TestRACKReoTimerFiresAfterReorderWindow(t *testing.T) {
	h, sent := passiveRTT(t, 100*time.Millisecond, 4)
	h.now = sent.add(100 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3000, snd1+4000)))
	h.expectNone()
	want := h.now.add(25*time.Millisecond + 2*time.Millisecond)
	if nt := h.c.NextTimer(); nt != want {
		t.Fatalf("REO timer at %v, want %v", time.Duration(nt-h.now), time.Duration(want-h.now))
	}
	h.advanceToTimer()
	h.expect(fA, snd1, peerISN+1) // only the head: PRR allows one segment
	h.expectNone()
	if h.c.caState != cc.Recovery || h.m.Get(metrics.TcpExtTCPSackRecovery) != 1 {
		t.Fatalf("state %v", h.c.caState)
	}
	if in := h.c.Info(); in.Lost != 3 {
		t.Errorf("lost_out %d, want 3", in.Lost)
	}
}

// With sacked_out >= tcp_reordering and no reordering seen, reo_wnd is 0
// (tcp_rack_reo_wnd): the third SACKed segment marks the hole lost at once.
func TestRACKDupthreshMarksAtOnce(t *testing.T) {
	h, sent := passiveRTT(t, 100*time.Millisecond, 6)
	h.now = sent.add(100 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+1000, snd1+2000)))
	h.expectNone() // sacked_out 1 < tcp_reordering: the REO timer waits
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+1000, snd1+3000)))
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+1000, snd1+4000)))
	h.expect(fA, snd1, peerISN+1)
	if h.c.caState != cc.Recovery {
		t.Fatalf("state %v", h.c.caState)
	}
}

// tcp_match_skb_to_sack: a SACK block covering part of a segment marks
// nothing, so it neither advances RACK nor moves the loss-probe timer
// (fr-4pkt-fack-last-byte).
func TestSACKOfPartialSegmentIgnored(t *testing.T) {
	h, sent := passiveRTT(t, 100*time.Millisecond, 4)
	tlp := h.c.NextTimer()
	if want := sent.add(202 * time.Millisecond); tlp != want {
		t.Fatalf("TLP at %v, want 2*srtt+2ms", time.Duration(tlp-sent))
	}
	h.now = sent.add(100 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3999, snd1+4000)))
	if h.c.sacked.n != 0 || h.c.NextTimer() != tlp || h.c.caState != cc.Open {
		t.Fatalf("sacked %d timer %v state %v", h.c.sacked.n, time.Duration(h.c.NextTimer()-sent), h.c.caState)
	}
	h.advanceToTimer()
	o := h.recv() // the probe: the last segment again
	if o.Seq != snd1+3000 || len(o.Payload) != 1000 {
		t.Fatalf("probe %v", o)
	}
	if h.m.Get(metrics.TcpExtTCPLossProbes) != 1 {
		t.Fatal("TCPLossProbes not counted")
	}
	// The RTO then counts from the probe.
	if nt := h.c.NextTimer(); nt != h.now.add(h.c.rto) {
		t.Fatalf("RTO %v after the probe, want %v", time.Duration(nt-h.now), h.c.rto)
	}
}

// tcp_schedule_loss_probe: with one segment out the probe waits for the
// peer's delayed ACK too (2*srtt + TCP_RTO_MIN), capped by the RTO.
func TestTLPOneSegmentAddsRTOMin(t *testing.T) {
	h, sent := passiveRTT(t, 10*time.Millisecond, 1)
	want := sent.add(20*time.Millisecond + h.cfg.RTOMin)
	if rto := sent.add(h.c.rto); rto < want {
		want = rto
	}
	if nt := h.c.NextTimer(); nt != want {
		t.Fatalf("TLP at %v, want %v", time.Duration(nt-sent), time.Duration(want-sent))
	}
}

// RACK detects a lost retransmission (TCPLostRetransmit): a later
// retransmission SACKed while an earlier one is still missing after the
// RTT marks the earlier one lost again, and it is resent before new data
// (prr-ss-30pkt-lost-1_4-11_16).
func TestRACKLostRetransmission(t *testing.T) {
	h, sent := passiveRTT(t, 10*time.Millisecond, 8)
	h.now = sent.add(10 * time.Millisecond)
	// Segments 1-3 lost; 4, 5, 6 SACKed: dupthresh, 1-3 marked lost.
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3000, snd1+4000)))
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3000, snd1+5000)))
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3000, snd1+6000)))
	h.expect(fA, snd1, peerISN+1)
	// Two more SACKs release the retransmissions of 2 and 3.
	h.now += Time(2 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3000, snd1+7000)))
	h.expect(fA, snd1+1000, peerISN+1)
	h.now += Time(2 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3000, snd1+8000)))
	h.expect(fA, snd1+2000, peerISN+1)
	h.expectNone()
	// The retransmission of 1 is ACKed one RTT after it left.
	h.now += Time(6 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1+1000, fA, 65535, nil, sackOpt(snd1+3000, snd1+8000)))
	h.expectNone()
	// The retransmission of 3 is SACKed 12 ms after it left: the one of 2,
	// sent 2 ms before it and still missing 14 ms later, is lost again.
	h.now += Time(6 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1+1000, fA, 65535, nil, sackOpt(snd1+2000, snd1+8000)))
	h.expect(fA, snd1+1000, peerISN+1)
	if got := h.m.Get(metrics.TcpExtTCPLostRetransmit); got != 1 {
		t.Fatalf("TCPLostRetransmit %d", got)
	}
}

// tcp_rack_update_reo_wnd: once reordering was seen, a DSACK for a
// retransmission widens the reordering window by one min_rtt/4 step
// (capped at srtt) for the next 16 recoveries (tcp_dsack_seen).
func TestRACKDSACKWidensReoWnd(t *testing.T) {
	h, sent := passiveRTT(t, 100*time.Millisecond, 4)
	h.now = sent.add(100 * time.Millisecond)
	// 4, then 2 (below the highest SACK: reordering), then 3.
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+3000, snd1+4000)))
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+1000, snd1+2000, snd1+3000, snd1+4000)))
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+1000, snd1+4000)))
	h.expectNone() // reordering seen: reo_wnd stays min_rtt/4 despite 3 SACKed
	if h.c.rack.reordSeen == 0 {
		t.Fatal("no reordering seen")
	}
	if w := h.c.rackReoWnd(); w != 25000 {
		t.Fatalf("reo_wnd %d µs, want 25000", w)
	}
	h.advanceToTimer()
	h.expect(fA, snd1, peerISN+1) // 1 is lost after all
	// The original of 1 arrives too: the ACK carries a DSACK for it.
	h.now += Time(100 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1+4000, fA, 65535, nil, sackOpt(snd1, snd1+1000)))
	if h.c.rack.reoSteps != 2 || h.c.rack.reoPersist != rackRecoveryThresh {
		t.Fatalf("steps %d persist %d", h.c.rack.reoSteps, h.c.rack.reoPersist)
	}
	if w, want := h.c.rackReoWnd(), min(int64(50000), h.c.srttUs>>3); w != want {
		t.Fatalf("reo_wnd %d µs, want %d", w, want)
	}
}

// tcp_dsack_seen: a DSACK reporting more duplicates than were ever
// retransmitted is dubious and ignored (nothing to undo, no RACK step).
func TestDSACKWithoutRetransmissionIgnored(t *testing.T) {
	h, sent := passiveRTT(t, 100*time.Millisecond, 4)
	h.now = sent.add(100 * time.Millisecond)
	h.c.rack.reordSeen = 1
	h.send(mkSeg(peerISN+1, snd1+1000, fA, 65535, nil, sackOpt(snd1, snd1+1000)))
	if h.c.rack.dsackSeen || h.c.rack.reoSteps > 1 {
		t.Fatalf("dsack_seen %v steps %d", h.c.rack.dsackSeen, h.c.rack.reoSteps)
	}
}

// tcp_check_sack_reordering: never-retransmitted data SACKed below the
// highest SACK is reordering; tp->reordering grows only past its value.
func TestSACKReorderingDetected(t *testing.T) {
	h, sent := passiveRTT(t, 100*time.Millisecond, 10)
	h.now = sent.add(100 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+8000, snd1+9000)))
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+2000, snd1+3000, snd1+8000, snd1+9000)))
	if h.c.rack.reordSeen != 1 || h.c.reordering() != 7 {
		t.Fatalf("reord_seen %d reordering %d, want 1 and 7", h.c.rack.reordSeen, h.c.reordering())
	}
	if h.m.Get(metrics.TcpExtTCPSACKReorder) != 1 {
		t.Fatal("TCPSACKReorder not counted")
	}
}

// The sequence of sack-shift-sacked-7-5-6-8-9-fack: RACK marks 1-7 lost
// when the reordering window after the SACK of 8 passes; each later SACK
// releases one more retransmission through PRR, and the SACK of 6 (never
// retransmitted, below the highest SACK) is reordering of degree 3.
func TestRACKSACKShift75689(t *testing.T) {
	h, sent := passiveRTT(t, 100*time.Millisecond, 10)
	h.now = sent.add(100 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(snd1+7000, snd1+8000)))
	h.expectNone()
	if d := h.advanceToTimer(); d != 27*time.Millisecond {
		t.Fatalf("REO timer after %v, want 27ms", d)
	}
	h.expect(fA, snd1, peerISN+1)
	h.expectNone()
	check := func(lost, reordering uint32) {
		t.Helper()
		in := h.c.Info()
		if in.CAState != cc.Recovery || in.Lost != lost || in.Reordering != reordering {
			t.Fatalf("state %v lost %d reordering %d, want Recovery %d %d", in.CAState, in.Lost, in.Reordering, lost, reordering)
		}
	}
	check(7, 3)
	steps := []struct{ sack []uint32 }{
		{[]uint32{snd1 + 5000, snd1 + 6000, snd1 + 7000, snd1 + 8000}},
		{[]uint32{snd1 + 5000, snd1 + 8000}},
		{[]uint32{snd1 + 5000, snd1 + 9000}},
		{[]uint32{snd1 + 5000, snd1 + 10000}},
	}
	for i, st := range steps {
		h.send(mkSeg(peerISN+1, snd1, fA, 65535, nil, sackOpt(st.sack...)))
		h.expect(fA, snd1+uint32(i+1)*1000, peerISN+1)
		h.expectNone()
		switch i {
		case 0:
			check(6, 3)
			if h.c.rack.reordSeen != 1 {
				t.Fatalf("reord_seen %d", h.c.rack.reordSeen)
			}
		case 1:
			check(5, 3)
		}
	}
	h.now += Time(100 * time.Millisecond)
	h.send(mkSeg(peerISN+1, snd1+10000, fA, 65535, nil, nil))
	if in := h.c.Info(); in.CAState != cc.Open || in.Lost != 0 || in.Sacked != 0 || in.RetransOut != 0 {
		t.Fatalf("after the full ACK: %+v", in)
	}
}
