package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

func tsOpt(val, ecr uint32) *header.Options {
	return &header.Options{HasTS: true, TSVal: val, TSEcr: ecr}
}

// SCN-42, PAWS-3/7/8: data with a TSval 2 older than ts_recent is dropped
// with a duplicate ACK; 1 older is accepted (TCP_PAWS_WINDOW).
func TestPAWSEstablishedSCN42(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(1000)) // ts_recent = 1001 after the handshake ACK
	if h.c.tsRecent != 1001 {
		t.Fatalf("ts_recent %d", h.c.tsRecent)
	}
	h.send(mkSeg(rcv0, snd0, fA, 1000, payload(100, 0), tsOpt(999, 1)))
	a := h.expect(fA, snd0, rcv0) // duplicate ACK, data not acknowledged
	if a.Opts.TSEcr != 1001 {
		t.Errorf("TSecr %d", a.Opts.TSEcr)
	}
	if h.m.Get(metrics.TcpExtPAWSEstab) != 1 {
		t.Error("PAWSEstab")
	}
	// A data segment is never rate limited (tcp_oow_rate_limited: data
	// without SYN is not part of an ACK loop): a second dup ACK at once.
	h.send(mkSeg(rcv0, snd0, fA, 1000, payload(100, 0), tsOpt(999, 1)))
	h.expect(fA, snd0, rcv0)
	// A pure window update failing PAWS within 500 ms: no reply.
	h.send(mkSeg(rcv0, snd0, fA, 1001, nil, tsOpt(990, 1)))
	h.send(mkSeg(rcv0, snd0, fA, 1002, nil, tsOpt(990, 1)))
	h.expect(fA, snd0, rcv0)
	h.expectNone()
	if h.m.Get(metrics.TcpExtTCPACKSkippedPAWS) != 1 {
		t.Error("ACKSkippedPAWS")
	}
	h.send(mkSeg(rcv0, snd0, fA, 1000, payload(100, 0), tsOpt(1000, 1)))
	h.expect(fA, snd0, rcv0+100)
	// PAWS-7: a pure duplicate ACK slightly older, which could not update
	// the window (same seq as the last window update), is processed silently.
	h.send(mkSeg(rcv0+100, snd0, fA, 1000, nil, tsOpt(1001, 1)))
	h.send(mkSeg(rcv0+100, snd0, fA, 1000, nil, tsOpt(995, 1)))
	h.expectNone()
	if h.m.Get(metrics.TcpExtPAWSEstab) != 4 {
		t.Error("disordered ACK counted as PAWS failure")
	}
	// PAWS-8: an old pure ACK below rcv_nxt is dropped silently (PAWSOldAck,
	// MIB-6; BeyondWindow is TestOutOfWindowDataDupAck).
	h.send(mkSeg(rcv0+50, snd0, fA, 1000, nil, tsOpt(900, 1)))
	h.expectNone()
	if h.m.Get(metrics.TcpExtPAWSOldAck) != 1 {
		t.Error("PAWSOldAck")
	}
}

// SCN-44, PAWS-6: a RST bypasses PAWS on a synchronized connection.
func TestPAWSRSTBypassSCN44(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(1000))
	h.send(mkSeg(rcv0, 0, fR, 0, nil, tsOpt(5, 0)))
	if !errors.Is(h.c.Err(), syscall.ECONNRESET) {
		t.Fatal(h.c.Err())
	}
	h.expectNone()
}

// PAWS-2: ts_recent follows in-window segments.
func TestTSRecentUpdate(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(1000))
	h.send(mkSeg(rcv0, snd0, fA, 1000, payload(10, 0), tsOpt(2000, 1)))
	h.expect(fA, snd0, rcv0+10)
	if h.c.tsRecent != 2000 || h.c.tsStamp != seconds(h.now) {
		t.Errorf("ts_recent %d stamp %d", h.c.tsRecent, h.c.tsStamp)
	}
	// ts_recent expires after TCP_PAWS_WRAP seconds of silence (PAWS-4).
	h.now += Time(2147 * time.Second)
	h.send(mkSeg(rcv0+10, snd0, fA, 1000, payload(10, 0), tsOpt(5, 1)))
	h.expect(fA, snd0, rcv0+20)
	if h.c.tsRecent != 5 {
		t.Errorf("ts_recent %d after expiry", h.c.tsRecent)
	}
}

func TestRSTRules(t *testing.T) {
	type tc struct {
		name      string
		seq       uint32
		reset     bool
		challenge bool
	}
	for _, c := range []tc{
		{"RFC5961-exact-RST-resets", rcv0, true, false},
		{"RFC5961-in-window-RST-challenge-ACK", rcv0 + 100, false, true},
		{"out-of-window-RST-ignored", rcv0 + 1000000, false, false},
		{"old-RST-ignored", rcv0 - 4000, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.passive(plainSYN())
			h.send(mkSeg(c.seq, 0, fR, 0, nil, nil))
			if got := h.c.Err() != nil; got != c.reset {
				t.Fatalf("reset %v", got)
			}
			if c.challenge {
				h.expect(fA, snd0, rcv0)
				if h.m.Get(metrics.TcpExtTCPChallengeACK) != 1 {
					t.Error("TCPChallengeACK")
				}
				// Rate limited: a second one within 500 ms is suppressed.
				h.send(mkSeg(c.seq, 0, fR, 0, nil, nil))
				h.expectNone()
				h.now += Time(500 * time.Millisecond)
				h.send(mkSeg(c.seq, 0, fR, 0, nil, nil))
				h.expect(fA, snd0, rcv0)
			} else {
				h.expectNone()
			}
		})
	}
}

// MIB-16: a SYN on a synchronized socket gets a challenge ACK, counted
// TCPSYNChallenge and TCPChallengeACK.
func TestSYNInEstablishedChallengeACK(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0+10, 0, fS, 1000, nil, plainSYN()))
	h.expect(fA, snd0, rcv0)
	if h.m.Get(metrics.TcpExtTCPSYNChallenge) != 1 || h.m.Get(metrics.TcpExtTCPChallengeACK) != 1 {
		t.Error("counters")
	}
	if h.c.State() != StateEstablished {
		t.Fatal(h.c.State())
	}
}

func TestOutOfWindowDataDupAck(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0+200000, snd0, fA, 1000, payload(10, 0), nil))
	h.expect(fA, snd0, rcv0)
	if h.m.Get(metrics.TcpExtBeyondWindow) != 1 {
		t.Error("BeyondWindow")
	}
}

// tcp_ack (Linux 6.18): a segment whose ACK is above snd_nxt
// (SKB_DROP_REASON_TCP_ACK_UNSENT_DATA) is answered with
// tcp_send_challenge_ack and dropped before tcp_replace_ts_recent: its
// payload, FIN and TSval are all ignored; the reply is rate limited per
// socket by tcp_oow_rate_limited (TCPACKSkippedChallenge). The corpus
// script ts_recent/invalid_ack.pkt shows the same on the wire.
func TestACKOfUnsentDataChallengeACK(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint8
		data  int
	}{
		{"pure-ACK", fA, 0},
		{"FIN", fFA, 0},
		{"data", fA, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.passive(linuxSYN(100)) // ts_recent 101
			h.send(mkSeg(rcv0, snd0+5000, tc.flags, 1000, payload(tc.data, 0), tsOpt(200000, 1)))
			a := h.expect(fA, snd0, rcv0)
			if !a.Opts.HasTS || a.Opts.TSEcr != 101 {
				t.Errorf("challenge ACK echoes %d, want the old ts_recent 101", a.Opts.TSEcr)
			}
			if h.c.tsRecent != 101 || h.c.rcvNxt != rcv0 || h.c.State() != StateEstablished {
				t.Fatalf("segment not dropped: ts_recent %d rcv_nxt %d %v", h.c.tsRecent, h.c.rcvNxt, h.c.State())
			}
			if h.m.Get(metrics.TcpExtTCPChallengeACK) != 1 {
				t.Error("TCPChallengeACK")
			}
			// A second one within tcp_invalid_ratelimit: no reply.
			h.send(mkSeg(rcv0, snd0+5000, tc.flags, 1000, payload(tc.data, 0), tsOpt(200001, 1)))
			h.expectNone()
			if h.m.Get(metrics.TcpExtTCPACKSkippedChallenge) != 1 {
				t.Error("TCPACKSkippedChallenge")
			}
			// The next valid segment is processed normally.
			h.send(mkSeg(rcv0, snd0, fA, 1000, payload(100, 0), tsOpt(201, 1)))
			a = h.expect(fA, snd0, rcv0+100)
			if a.Opts.TSEcr != 201 {
				t.Errorf("TSecr %d, want 201", a.Opts.TSEcr)
			}
		})
	}
}

// tcp_ack: an ACK below snd_una - min(max_window, bytes_acked) is too old
// (RFC 5961 5.2): challenge ACK, segment dropped. With nothing acknowledged
// yet the bound is 0, so any ACK below snd_una is too old.
func TestTooOldACKBoundByBytesAcked(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0-1, fA, 1000, payload(10, 0), nil))
	h.expect(fA, snd0, rcv0)
	if h.c.rcvNxt != rcv0 || h.m.Get(metrics.TcpExtTCPChallengeACK) != 1 {
		t.Fatalf("rcv_nxt %d challenge %d", h.c.rcvNxt, h.m.Get(metrics.TcpExtTCPChallengeACK))
	}
}
