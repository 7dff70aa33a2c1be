package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

func TestKeepaliveProbesAndTimeout(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetKeepAlive(true, 10*time.Second, 5*time.Second, 3, h.now)
	if d := h.advanceToTimer(); d != 10*time.Second {
		t.Fatalf("first probe after %v", d)
	}
	h.expect(fA, snd0-1, rcv0) // probe: SEQ snd_una-1
	// The peer answers: probing stops until the connection is idle again.
	h.send(mkSeg(rcv0, snd0, fA, 65535, nil, nil))
	h.expectNone()
	h.advance(5 * time.Second)
	h.expectNone()
	h.advance(5 * time.Second)
	h.expect(fA, snd0-1, rcv0)
	for _, w := range []time.Duration{5, 5} {
		if d := h.advanceToTimer(); d != w*time.Second {
			t.Fatalf("probe interval %v", d)
		}
		h.expect(fA, snd0-1, rcv0)
	}
	h.advanceToTimer()
	h.expectNone()
	if !errors.Is(h.c.Err(), syscall.ETIMEDOUT) {
		t.Fatal(h.c.Err())
	}
	if h.m.Get(metrics.TcpExtTCPKeepAlive) != 4 {
		t.Errorf("TCPKeepAlive %d", h.m.Get(metrics.TcpExtTCPKeepAlive))
	}
}

func TestUserTimeoutClampsRTO(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetUserTimeout(3 * time.Second)
	h.c.Write(payload(24, 0), h.now, h.e)
	h.expect(fPA, snd0, rcv0)
	start := h.now
	for range 4 { // 0.2, 0.6, 1.4, 3.0 s
		h.advanceToTimer()
		if h.c.Err() != nil {
			break
		}
		h.expect(fPA, snd0, rcv0)
	}
	for h.c.Err() == nil {
		h.advanceToTimer()
	}
	if d := time.Duration(h.now - start); d != 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
	if !errors.Is(h.c.Err(), syscall.ETIMEDOUT) {
		t.Fatal(h.c.Err())
	}
}

// CLOSE-22: in FIN_WAIT1 an ACK of data never sent gets a challenge ACK.
func TestFinWait1AckOfUnsentDataChallengeCLOSE22(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+500, fA, 65535, nil, nil))
	h.expect(fA, snd0+1, rcv0)
	if h.m.Get(metrics.TcpExtTCPChallengeACK) != 1 || h.c.State() != StateFinWait1 {
		t.Fatal(h.c.State())
	}
}

// A read that reopens a closed window sends a window update at once.
func TestReadReopensWindow(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	seq := uint32(rcv0)
	for h.c.receiveWindow() >= 1000 {
		h.send(mkSeg(seq, snd0, fA, 65535, payload(1000, 0), nil))
		seq += 1000
	}
	h.next = len(h.e.segs)
	h.advance(time.Second)
	last := parseOut(h.e.segs[len(h.e.segs)-1])
	if last.Window > 1000 {
		t.Fatalf("window still %d", last.Window)
	}
	h.next = len(h.e.segs)
	n, _ := h.c.Read(make([]byte, 100000), h.now, h.e)
	if n != int(seq-rcv0) {
		t.Fatalf("read %d", n)
	}
	a := h.expect(fA, snd0, seq)
	if a.Window < 60000 {
		t.Errorf("window update %d", a.Window)
	}
}

func TestSlowStartAfterIdle(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.snd.Cwnd = 40
	h.now += Time(10 * time.Second)
	h.c.Write(payload(100, 0), h.now, h.e)
	if h.c.snd.Cwnd != 10 {
		t.Errorf("cwnd %d after idle, want 10", h.c.snd.Cwnd)
	}
}

// passiveRTT establishes like passive() but with a 10 ms handshake RTT.
func (h *harness) passiveRTT(synOpts *header.Options) {
	h.t.Helper()
	syn := mkSeg(peerISN, 0, fS, 65535, nil, synOpts)
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	h.expect(fSA, ourISN, peerISN+1)
	h.now += Time(10 * time.Millisecond)
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 257, nil, nil))
	if h.c.State() != StateEstablished {
		h.t.Fatal(h.c.State())
	}
}

func sackSYN() *header.Options {
	return &header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true, HasWScale: true, WScale: 7}
}

// packetdrill shutdown/shutdown-rdwr-write-queue-close.pkt: the tail loss
// probe retransmits the lone FIN 2*RTT+2ms after it was sent.
func TestTailLossProbeRetransmitsFIN(t *testing.T) {
	h := newHarness(t)
	h.passiveRTT(sackSYN())
	h.now += Time(10 * time.Millisecond)
	h.c.Write(payload(10000, 0), h.now, h.e)
	for range 10 {
		h.recv()
	}
	h.now += Time(10 * time.Millisecond)
	h.c.Shutdown(true, true, h.now, h.e)
	h.expect(fFA, snd0+10000, rcv0)
	h.now += Time(10 * time.Millisecond)
	h.c.Close(h.now, h.e)
	h.expectNone()
	d := h.advanceToTimer()
	h.expect(fFA, snd0+10000, rcv0)
	if d != 12*time.Millisecond { // 22 ms after the FIN
		t.Errorf("probe %v after close", d)
	}
	if h.m.Get(metrics.TcpExtTCPLossProbes) != 1 {
		t.Error("TCPLossProbes")
	}
	h.send(mkSeg(rcv0, snd0+10001, fA, 257, nil, nil))
	if h.c.TakeEvents()&EventTimeWait == 0 || h.c.TimeWaitInfo().Substate != StateFinWait2 {
		t.Fatal("orphan did not become a FIN_WAIT2 record")
	}
}

// With one segment out the probe waits 2*srtt + rto_min.
func TestTailLossProbeSingleSegment(t *testing.T) {
	h := newHarness(t)
	h.passiveRTT(sackSYN())
	h.c.Write(payload(100, 0), h.now, h.e)
	h.expect(fPA, snd0, rcv0)
	if d := h.advanceToTimer(); d != 210*time.Millisecond {
		t.Errorf("probe after %v", d)
	}
	h.expect(fPA, snd0, rcv0)
	// Then the RTO, a full RTO after the probe.
	if d := h.advanceToTimer(); d != h.c.rto/2 {
		t.Errorf("RTO %v after the probe (rto now %v)", d, h.c.rto)
	}
}
