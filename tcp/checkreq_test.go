package tcp

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// synRecvHarness opens a passive connection from a Linux-like SYN (TSval
// 100) at t = 1 s and lets the SYN-ACK be retransmitted once by its timer
// (t = 2 s), so our SYN-ACKs carried TSvals 1000 (first) and 2000 (last).
func synRecvHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 65535, nil, linuxSYN(100))
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	if sa := h.expect(fSA, ourISN, peerISN+1); sa.Opts.TSVal != 1000 {
		t.Fatalf("first SYN-ACK TSval %d, want 1000", sa.Opts.TSVal)
	}
	h.advanceToTimer()
	if sa := h.expect(fSA, ourISN, peerISN+1); sa.Opts.TSVal != 2000 {
		t.Fatalf("retransmitted SYN-ACK TSval %d, want 2000", sa.Opts.TSVal)
	}
	h.advance(100 * time.Millisecond) // t = 2.1 s: the clock is past both TSvals
	return h
}

// expectReqAck checks the ACK a request socket sends for a rejected segment
// (tcp_v4_reqsk_send_ack): SEQ snt_isn+1, ACK rcv_nxt, the SYN-ACK's window
// scaled down, TSval now and TSecr the request's ts_recent, nothing else.
func expectReqAck(h *harness, tsecr uint32) {
	h.t.Helper()
	a := h.expect(fA, ourISN+1, peerISN+1)
	sa := parseOut(h.e.segs[0]) // the first SYN-ACK: its window is in bytes
	if want := sa.Window >> h.c.rcvWScale; a.Window != want || h.c.rcvWScale == 0 {
		h.t.Errorf("ACK window %d (wscale %d), want %d", a.Window, h.c.rcvWScale, want)
	}
	if !a.Opts.HasTS || a.Opts.TSVal != h.tsNow() || a.Opts.TSEcr != tsecr || a.Opts.NumSACK != 0 {
		h.t.Errorf("ACK options %+v, want TS val %d ecr %d only", a.Opts, h.tsNow(), tsecr)
	}
}

// TestPAWS12_MIB6_SynRecvTSEcr: PAWS-12, MIB-6 [6.18]: the handshake ACK's
// TSecr must lie between the TSvals of our first and latest SYN-ACK
// (tcp_check_req's between(rcv_tsecr, snt_tsval_first, snt_tsval_last));
// TSecr 0 is not checked. Any other value is ACKed and dropped, counted
// TSEcrRejected (not PAWSEstab), and the connection stays in SYN_RECV.
func TestPAWS12_MIB6_SynRecvTSEcr(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tsecr  uint32
		accept bool
	}{
		{"first SYN-ACK", 1000, true},
		{"between SYN-ACKs", 1500, true},
		{"last SYN-ACK", 2000, true},
		{"zero not checked", 0, true},
		{"before first", 999, false},
		{"after last", 2001, false},
		{"now", 2100, false},
		{"far past", 1000 + 1<<31, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := synRecvHarness(t)
			h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 101, TSEcr: tc.tsecr}))
			if tc.accept {
				h.expectNone()
				if h.c.State() != StateEstablished {
					t.Fatalf("state %v, want ESTABLISHED", h.c.State())
				}
				if n := h.m.Get(metrics.TcpExtTSEcrRejected); n != 0 {
					t.Errorf("TSEcrRejected %d, want 0", n)
				}
				return
			}
			expectReqAck(h, 100) // ts_recent is still the SYN's TSval
			if h.c.State() != StateSynRecv {
				t.Fatalf("state %v, want SYN_RECV", h.c.State())
			}
			if r, p := h.m.Get(metrics.TcpExtTSEcrRejected), h.m.Get(metrics.TcpExtPAWSEstab); r != 1 || p != 0 {
				t.Errorf("TSEcrRejected %d PAWSEstab %d, want 1 0", r, p)
			}
			// MIB-15: a second one within tcp_invalid_ratelimit is counted
			// but not answered.
			h.advance(100 * time.Millisecond)
			h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 101, TSEcr: tc.tsecr}))
			h.expectNone()
			if r, s := h.m.Get(metrics.TcpExtTSEcrRejected), h.m.Get(metrics.TcpExtTCPACKSkippedSynRecv); r != 2 || s != 1 {
				t.Errorf("TSEcrRejected %d TCPACKSkippedSynRecv %d, want 2 1", r, s)
			}
			// A correct ACK still completes the handshake.
			h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 102, TSEcr: 2000}))
			h.expectNone()
			if h.c.State() != StateEstablished {
				t.Fatalf("state %v after a valid ACK, want ESTABLISHED", h.c.State())
			}
		})
	}
}

// TestPAWS12_MIB15_SynRecvRateLimit: PAWS-12, MIB-15: every reply a request
// socket suppresses through tcp_oow_rate_limited counts
// TCPACKSkippedSynRecv, whatever made the segment unacceptable; the full
// socket's TCPACKSkippedPAWS / TCPACKSkippedSeq stay 0.
func TestPAWS12_MIB15_SynRecvRateLimit(t *testing.T) {
	ts := func(val, ecr uint32) *header.Options { return &header.Options{HasTS: true, TSVal: val, TSEcr: ecr} }
	for _, tc := range []struct {
		name    string
		seg     func() *Segment
		reply   bool       // the first one is answered with an ACK
		counter metrics.ID // counted on every one, 0 = none
	}{
		{"old TSval", func() *Segment { return mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, ts(50, 2000)) }, true, metrics.TcpExtPAWSEstab},
		{"TSecr of no SYN-ACK", func() *Segment { return mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, ts(101, 7)) }, true, metrics.TcpExtTSEcrRejected},
		{"beyond the window", func() *Segment { return mkSeg(peerISN+1+70000, ourISN+1, fA, 1000, nil, ts(101, 2000)) }, true, 0},
		{"old sequence", func() *Segment { return mkSeg(peerISN, ourISN+1, fA, 1000, nil, ts(101, 2000)) }, true, 0},
		{"SYN-ACK at the SYN's sequence", func() *Segment { return mkSeg(peerISN, ourISN+1, fSA, 1000, nil, ts(101, 2000)) }, true, 0},
		{"SYN failing PAWS", func() *Segment { return mkSeg(peerISN, 0, fS, 1000, nil, ts(50, 0)) }, true, metrics.TcpExtPAWSEstab},
		{"RST failing PAWS", func() *Segment { return mkSeg(peerISN+1, 0, fR, 0, nil, ts(50, 0)) }, false, metrics.TcpExtPAWSEstab},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := synRecvHarness(t)
			for i := 0; i < 2; i++ {
				h.send(tc.seg())
				if i == 0 && tc.reply {
					expectReqAck(h, 100)
				}
				h.expectNone()
				if h.c.State() != StateSynRecv {
					t.Fatalf("state %v, want SYN_RECV", h.c.State())
				}
				if tc.counter != 0 && h.m.Get(tc.counter) != uint64(i+1) {
					t.Errorf("after %d: counter %d", i+1, h.m.Get(tc.counter))
				}
				h.advance(100 * time.Millisecond)
			}
			skipped := uint64(0)
			if tc.reply {
				skipped = 1
			}
			if n := h.m.Get(metrics.TcpExtTCPACKSkippedSynRecv); n != skipped {
				t.Errorf("TCPACKSkippedSynRecv %d, want %d", n, skipped)
			}
			for _, id := range []metrics.ID{metrics.TcpExtTCPACKSkippedPAWS, metrics.TcpExtTCPACKSkippedSeq, metrics.TcpOutRsts, metrics.TcpExtEmbryonicRsts} {
				if n := h.m.Get(id); n != 0 {
					t.Errorf("counter %d = %d, want 0", id, n)
				}
			}
			// The limiter reopens after tcp_invalid_ratelimit (500 ms).
			if tc.reply {
				h.advance(500 * time.Millisecond)
				h.send(tc.seg())
				expectReqAck(h, 100)
			}
		})
	}
}

// TestPAWS12_SynRecvDataNotRateLimited: tcp_oow_rate_limited never holds
// back the ACK for an unacceptable segment with data (no ACK loop).
func TestPAWS12_SynRecvDataNotRateLimited(t *testing.T) {
	h := synRecvHarness(t)
	for i := 0; i < 3; i++ {
		h.send(mkSeg(peerISN+1, ourISN+1, fPA, 1000, payload(10, 0), &header.Options{HasTS: true, TSVal: 101, TSEcr: 5}))
		expectReqAck(h, 100)
	}
	if r, s := h.m.Get(metrics.TcpExtTSEcrRejected), h.m.Get(metrics.TcpExtTCPACKSkippedSynRecv); r != 3 || s != 0 {
		t.Errorf("TSEcrRejected %d TCPACKSkippedSynRecv %d, want 3 0", r, s)
	}
}

// TestPAWS12_SynRecvRetransmittedSYN: a retransmitted SYN gets the SYN-ACK
// again, at most once per tcp_invalid_ratelimit (TCPACKSkippedSynRecv), and
// that SYN-ACK's TSval widens the accepted TSecr range.
func TestPAWS12_SynRecvRetransmittedSYN(t *testing.T) {
	h := synRecvHarness(t) // t = 2.1 s
	h.send(mkSeg(peerISN, 0, fS, 65535, nil, linuxSYN(100)))
	if sa := h.expect(fSA, ourISN, peerISN+1); sa.Opts.TSVal != 2100 || sa.Opts.TSEcr != 100 {
		t.Fatalf("SYN-ACK TS %d/%d, want 2100/100", sa.Opts.TSVal, sa.Opts.TSEcr)
	}
	h.advance(100 * time.Millisecond)
	h.send(mkSeg(peerISN, 0, fS, 65535, nil, linuxSYN(100)))
	h.expectNone()
	if s, r := h.m.Get(metrics.TcpExtTCPACKSkippedSynRecv), h.m.Get(metrics.TcpExtTCPSynRetrans); s != 1 || r != 2 {
		t.Errorf("TCPACKSkippedSynRecv %d TCPSynRetrans %d, want 1 2", s, r)
	}
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 101, TSEcr: 2100}))
	h.expectNone()
	if h.c.State() != StateEstablished {
		t.Fatalf("state %v, want ESTABLISHED (TSecr of the latest SYN-ACK)", h.c.State())
	}
}

// TestPAWS12_SynRecvZeroTSvalSYNACK: the first SYN-ACK never carries TSval
// 0 (tcp_synack_options sends ~0 instead), so the TSecr range is never
// mistaken for "no SYN-ACK sent".
func TestPAWS12_SynRecvZeroTSvalSYNACK(t *testing.T) {
	h := newHarness(t)
	var skew atomic.Int64
	skew.Store(-int64(time.Second)) // TSval = 1000 ms - 1000 ms = 0
	h.cfg.TSSkew = &skew
	syn := mkSeg(peerISN, 0, fS, 65535, nil, linuxSYN(100))
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	if sa := h.expect(fSA, ourISN, peerISN+1); sa.Opts.TSVal != ^uint32(0) {
		t.Fatalf("SYN-ACK TSval %d, want %d", sa.Opts.TSVal, ^uint32(0))
	}
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 101, TSEcr: ^uint32(0)}))
	h.expectNone()
	if h.c.State() != StateEstablished {
		t.Fatalf("state %v, want ESTABLISHED", h.c.State())
	}
}

// TestSynRecvBadAckRST: a RST|ACK whose ACK is not snt_isn+1 goes to the
// listener, which never answers a RST: the request survives, nothing sent.
func TestSynRecvBadAckRST(t *testing.T) {
	h := synRecvHarness(t)
	h.send(mkSeg(peerISN+1, ourISN+5, fRA, 0, nil, nil))
	h.expectNone()
	if h.c.State() != StateSynRecv {
		t.Fatalf("state %v, want SYN_RECV", h.c.State())
	}
}

// TestSynRecvEmbryonicReset: an in-window RST or SYN kills the request
// (tcp_check_req's embryonic_reset): a SYN is answered with a RST, a RST
// is not; both count AttemptFails and EmbryonicRsts.
func TestSynRecvEmbryonicReset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seg   *Segment
		reset bool
	}{
		{"RST", mkSeg(peerISN+1, 0, fR, 0, nil, &header.Options{HasTS: true, TSVal: 101}), false},
		{"SYN", mkSeg(peerISN+1, 0, fS, 1000, nil, &header.Options{HasTS: true, TSVal: 101}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := synRecvHarness(t)
			h.send(tc.seg)
			if tc.reset {
				h.expect(fRA, 0, peerISN+2)
			}
			h.expectNone()
			if h.c.State() != StateClose {
				t.Fatalf("state %v, want CLOSE", h.c.State())
			}
			if e, a := h.m.Get(metrics.TcpExtEmbryonicRsts), h.m.Get(metrics.TcpAttemptFails); e != 1 || a != 1 {
				t.Errorf("EmbryonicRsts %d AttemptFails %d, want 1 1", e, a)
			}
		})
	}
}
