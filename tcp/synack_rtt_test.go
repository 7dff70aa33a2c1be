package tcp

import (
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// tcp_synack_rtt_meas times the first SYN-ACK in microseconds
// (snt_synack) and falls back to the TS echo only when the SYN-ACK was
// resent; the ACK completing the handshake is not FLAG_ACKED for the
// child (it starts at snt_isn+1), so tcp_ack takes no TS sample of its
// own. With a 300 µs handshake Linux has srtt 300 µs, and the loss probe
// over "OK\n"+FIN (two packets out) is usecs_to_jiffies(2*srtt) + 2 =
// 3 ms after the FIN (tcp_schedule_loss_probe), not the 4 ms a 1 ms TS
// tick would give.
func TestSynAckRTTMeasMicroseconds(t *testing.T) {
	h := newHarness(t)
	syn := linuxSYN(7000)
	h.c = NewPassive(h.cfg, h.m, testTuple, mkSeg(peerISN, 0, fS, 65535, nil, syn), ourISN, h.now, h.e)
	h.expect(fSA, ourISN, peerISN+1)
	ecr := h.tsNow()
	h.now += Time(300 * time.Microsecond) // same ms tick: the TS echo would say 1 ms
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 7001, TSEcr: ecr}))
	if h.c.State() != StateEstablished {
		t.Fatal(h.c.State())
	}
	if in := h.c.Info(); in.SRTT != 300*time.Microsecond || in.RTTVar != 150*time.Microsecond || in.RTO != 201*time.Millisecond {
		t.Fatalf("srtt %v rttvar %v rto %v, want 300µs 150µs 201ms", in.SRTT, in.RTTVar, in.RTO)
	}
	h.c.Write([]byte("OK\n"), h.now, h.e)
	h.expect(fPA, snd0, rcv0)
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0+3, rcv0)
	if d := h.advanceToTimer(); d != 3*time.Millisecond {
		t.Errorf("loss probe %v after the FIN, want 3ms", d)
	}
	h.expect(fFA, snd0+3, rcv0)
	if h.m.Get(metrics.TcpExtTCPLossProbes) != 1 {
		t.Error("TCPLossProbes")
	}
}

// A resent SYN-ACK is not timed (req->num_retrans): the TS echo stands in,
// tcp_rtt_tsopt_us, in whole ms ticks.
func TestSynAckRTTMeasRetransmittedUsesTS(t *testing.T) {
	h := newHarness(t)
	h.c = NewPassive(h.cfg, h.m, testTuple, mkSeg(peerISN, 0, fS, 65535, nil, linuxSYN(7000)), ourISN, h.now, h.e)
	h.expect(fSA, ourISN, peerISN+1)
	if d := h.advanceToTimer(); d != time.Second {
		t.Fatalf("SYN-ACK retransmitted after %v", d)
	}
	h.expect(fSA, ourISN, peerISN+1)
	ecr := h.tsNow()
	h.now += Time(2500 * time.Microsecond)
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 7001, TSEcr: ecr}))
	if h.c.State() != StateEstablished {
		t.Fatal(h.c.State())
	}
	if in := h.c.Info(); in.SRTT != 2*time.Millisecond {
		t.Fatalf("srtt %v, want the 2 ms of the TS echo", in.SRTT)
	}
}

// tcp_clean_rtx_queue on an active open: the SYN sent once is timed from
// its transmission in microseconds, not by the SYN-ACK's TS echo.
func TestSynRTTActiveMicroseconds(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.expect(fS, 100, 0)
	ecr := h.tsNow()
	h.now += Time(400 * time.Microsecond)
	sa := linuxSYN(9000)
	sa.TSEcr = ecr
	h.send(mkSeg(peerISN, 101, fSA, 65535, nil, sa))
	h.expect(fA, 101, peerISN+1)
	if h.c.State() != StateEstablished {
		t.Fatal(h.c.State())
	}
	if in := h.c.Info(); in.SRTT != 400*time.Microsecond {
		t.Fatalf("srtt %v, want 400µs", in.SRTT)
	}
}
