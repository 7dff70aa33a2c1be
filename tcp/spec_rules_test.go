package tcp

import (
	"testing"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// TestPAWS13_MissingTSNotDropped: PAWS-13: on a connection that negotiated
// timestamps, a segment without the TS option is not dropped; PAWS is just
// not evaluated for it, and ts_recent stays as it was.
func TestPAWS13_MissingTSNotDropped(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(1000)) // ts_recent 1001
	h.send(mkSeg(rcv0, snd0, fPA, 1000, payload(10, 0), nil))
	a := h.expect(fA, snd0, rcv0+10)
	if !a.Opts.HasTS || a.Opts.TSEcr != 1001 {
		t.Errorf("ACK TS option %+v, want TSecr = ts_recent 1001", a.Opts)
	}
	if h.c.tsRecent != 1001 {
		t.Errorf("ts_recent %d, want 1001", h.c.tsRecent)
	}
	if n := h.m.Get(metrics.TcpExtPAWSEstab); n != 0 {
		t.Errorf("PAWSEstab %d", n)
	}
}

// TestPAWS12_SynRecvOldTSval: PAWS-12: in SYN_RECV the handshake ACK is
// checked against the SYN's TSval; an older TSval gets a (rate-limited) ACK,
// PAWSEstab +1, and the connection stays in SYN_RECV.
func TestPAWS12_SynRecvOldTSval(t *testing.T) {
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 65535, nil, linuxSYN(100000))
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	sa := h.expect(fSA, ourISN, peerISN+1)
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 500, TSEcr: sa.Opts.TSVal}))
	h.expect(fA, ourISN+1, peerISN+1)
	if h.c.State() != StateSynRecv {
		t.Errorf("state %v, want SYN_RECV", h.c.State())
	}
	if n := h.m.Get(metrics.TcpExtPAWSEstab); n != 1 {
		t.Errorf("PAWSEstab %d, want 1", n)
	}
	// MIB-15: a second failure within tcp_invalid_ratelimit gets no reply;
	// the request-socket limiter counts TCPACKSkippedSynRecv, not the full
	// socket's TCPACKSkippedPAWS.
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 500, TSEcr: sa.Opts.TSVal}))
	h.expectNone()
	if h.c.State() != StateSynRecv || h.m.Get(metrics.TcpExtPAWSEstab) != 2 {
		t.Errorf("second PAWS failure: state %v PAWSEstab %d", h.c.State(), h.m.Get(metrics.TcpExtPAWSEstab))
	}
	if s, p := h.m.Get(metrics.TcpExtTCPACKSkippedSynRecv), h.m.Get(metrics.TcpExtTCPACKSkippedPAWS); s != 1 || p != 0 {
		t.Errorf("TCPACKSkippedSynRecv %d TCPACKSkippedPAWS %d, want 1 0", s, p)
	}
}

// TestORPHAN7_ZeroWindowProbeLimit: ORPHAN-7, MIB-13: an orphan whose data
// and FIN wait for a zero window probes it; with tcp_orphan_retries = 0
// (alive: 8) it is closed after 8 unanswered probes, without a RST,
// counting TCPAbortOnTimeout.
func TestORPHAN7_ZeroWindowProbeLimit(t *testing.T) {
	h := newHarness(t)
	h.cfg.OrphanRetries = 0
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil)) // zero window
	mustWrite(t, h, 100, 0)
	h.c.Close(h.now, h.e)
	h.expectNone()
	probes := 0
	for h.c.State() != StateClose {
		if probes > 20 {
			t.Fatal("orphan never gave up")
		}
		h.advanceToTimer()
		if h.c.State() == StateClose {
			break
		}
		h.expect(fA, snd0-1, rcv0) // probe: snd_una - 1, no answer
		probes++
	}
	h.expectNone() // no RST
	if probes != 8 {
		t.Errorf("%d probes, want 8", probes)
	}
	if h.m.Get(metrics.TcpExtTCPAbortOnTimeout) != 1 || h.m.Get(metrics.TcpOutRsts) != 0 {
		t.Errorf("TCPAbortOnTimeout %d OutRsts %d", h.m.Get(metrics.TcpExtTCPAbortOnTimeout), h.m.Get(metrics.TcpOutRsts))
	}
}
