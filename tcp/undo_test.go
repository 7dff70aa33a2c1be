package tcp

import (
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
	"github.com/ustack/ustack/tcp/header"
)

func sackTS(tsval, tsecr uint32, blocks ...uint32) *header.Options {
	o := &header.Options{HasTS: true, TSVal: tsval, TSEcr: tsecr}
	for i := 0; i < len(blocks); i += 2 {
		o.SACK[o.NumSACK] = header.SACKBlock{Start: blocks[i], End: blocks[i+1]}
		o.NumSACK++
	}
	return o
}

// A fast retransmit caused by reordering is undone when the receiver
// reports the retransmission as a duplicate (DSACK): tcp_try_undo_recovery.
func TestUndoRecoveryByDSACK(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	const m = 1448
	h.c.Write(payload(10*m, 0), h.now, h.e)
	var tsv uint32
	for range 10 {
		tsv = h.recv().Opts.TSVal
	}
	h.now += Time(20 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0, fA, 1000, nil, sackTS(101, tsv, snd0+m, snd0+2*m)))
	h.send(mkSeg(rcv0, snd0, fA, 1000, nil, sackTS(101, tsv, snd0+m, snd0+3*m)))
	h.send(mkSeg(rcv0, snd0, fA, 1000, nil, sackTS(101, tsv, snd0+m, snd0+4*m)))
	h.expect(fA, snd0, rcv0) // fast retransmit
	if h.c.caState != cc.Recovery {
		t.Fatal(h.c.caState)
	}
	reduced := h.c.snd.SSThresh
	// The original arrives late; then the retransmission too: the final ACK
	// carries a DSACK for it.
	h.send(mkSeg(rcv0, snd0+10*m, fA, 1000, nil, sackTS(102, tsv, snd0, snd0+m)))
	if h.c.caState != cc.Open {
		t.Fatalf("state %v", h.c.caState)
	}
	if h.m.Get(metrics.TcpExtTCPFullUndo) != 1 || h.c.snd.Cwnd < 10 || h.c.snd.SSThresh <= reduced {
		t.Errorf("undo: FullUndo %d cwnd %d ssthresh %d (reduced %d)", h.m.Get(metrics.TcpExtTCPFullUndo), h.c.snd.Cwnd, h.c.snd.SSThresh, reduced)
	}
}

// A spurious RTO is undone when the ACK echoes the original transmission's
// TSval (tcp_packet_delayed, tcp_try_undo_loss).
func TestUndoSpuriousRTOByTimestamp(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	h.c.Write(payload(1000, 0), h.now, h.e)
	orig := h.recv().Opts.TSVal
	h.advanceToTimer() // TLP first
	h.recv()
	h.advanceToTimer() // then the RTO
	h.recv()
	if h.c.caState != cc.Loss {
		t.Fatalf("state %v", h.c.caState)
	}
	h.send(mkSeg(rcv0, snd0+1000, fA, 1000, nil, tsOpt(101, orig)))
	if h.c.caState != cc.Open || h.m.Get(metrics.TcpExtTCPLossUndo) != 1 {
		t.Fatalf("state %v LossUndo %d", h.c.caState, h.m.Get(metrics.TcpExtTCPLossUndo))
	}
	if h.c.snd.Cwnd < 10 {
		t.Errorf("cwnd %d not restored", h.c.snd.Cwnd)
	}
}

// F-RTO (tcp_frto=2): after an RTO, an ACK covering data that was never
// retransmitted proves the timeout spurious (TCPSpuriousRTOs).
func TestFRTOSpuriousTimeout(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true})
	h.c.Write(payload(5000, 0), h.now, h.e)
	for range 5 {
		h.recv()
	}
	h.advanceToTimer() // TLP (last segment)
	h.recv()
	h.advanceToTimer() // RTO: head retransmitted
	h.expect(fA, snd0, rcv0)
	if h.c.caState != cc.Loss || !h.c.frto {
		t.Fatalf("state %v frto %v", h.c.caState, h.c.frto)
	}
	h.send(mkSeg(rcv0, snd0+3000, fA, 65535, nil, nil))
	if h.c.caState != cc.Open || h.m.Get(metrics.TcpExtTCPSpuriousRTOs) != 1 {
		t.Fatalf("state %v SpuriousRTOs %d", h.c.caState, h.m.Get(metrics.TcpExtTCPSpuriousRTOs))
	}
	if h.c.snd.Cwnd < 10 {
		t.Errorf("cwnd %d not restored", h.c.snd.Cwnd)
	}
}

// F-RTO step 2.b: when the first ACK after the RTO covers only the
// retransmitted head, new data goes out instead of retransmissions.
func TestFRTOSendsNewDataFirst(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true})
	h.c.sndWnd = 5000 // the peer's window: five segments
	h.c.Write(payload(8000, 0), h.now, h.e)
	for range 5 {
		h.recv()
	}
	h.advanceToTimer() // TLP cannot send new data (window) and resends the last
	h.recv()
	h.advanceToTimer()
	h.expect(fA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+1000, fA, 5000, nil, nil))
	o := h.recv()
	if o.Seq != snd0+5000 {
		t.Fatalf("sent %v, want new data at %d", o, snd0+5000)
	}
	// A duplicate ACK now shows the loss was real: back to retransmitting.
	h.next = len(h.e.segs)
	h.send(mkSeg(rcv0, snd0+1000, fA, 5000, nil, &header.Options{NumSACK: 1, SACK: [4]header.SACKBlock{{Start: snd0 + 5000, End: snd0 + 6000}}}))
	if h.c.frto {
		t.Error("F-RTO still on after a SACK of new data")
	}
}

// tcp_frto=0: tcp_enter_loss leaves F-RTO off; the first ACK after the
// RTO retransmits the next lost segment instead of sending new data, and
// an ACK of never-retransmitted data is not taken as a spurious RTO.
func TestFRTOOff(t *testing.T) {
	h := newHarness(t)
	h.cfg.FRTO = 0
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true})
	h.c.sndWnd = 5000
	h.c.Write(payload(8000, 0), h.now, h.e)
	for range 5 {
		h.recv()
	}
	h.advanceToTimer() // TLP
	h.recv()
	h.advanceToTimer() // RTO
	h.expect(fA, snd0, rcv0)
	if h.c.caState != cc.Loss || h.c.frto {
		t.Fatalf("state %v frto %v", h.c.caState, h.c.frto)
	}
	h.send(mkSeg(rcv0, snd0+1000, fA, 5000, nil, nil))
	if o := h.recv(); o.Seq != snd0+1000 {
		t.Fatalf("sent %v, want the retransmission at %d", o, snd0+1000)
	}
	if h.m.Get(metrics.TcpExtTCPSpuriousRTOs) != 0 {
		t.Error("SpuriousRTOs without F-RTO")
	}
}
