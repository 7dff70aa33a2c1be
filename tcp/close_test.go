package tcp

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
)

// SCN-29, CLOSE-3/5/6/10: close with unread data sends RST|ACK, no FIN.
// MIB-9: TCPAbortOnClose +1. MIB-18: OutRsts and EstabResets +1.
func TestCloseUnreadDataRSTCLOSE6(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fPA, 65535, payload(10, 0), nil))
	h.expect(fA, snd0, rcv0+10)
	h.c.Close(h.now, h.e)
	h.expect(fRA, snd0, rcv0+10)
	h.expectNone()
	if h.c.State() != StateClose || h.c.wantTW {
		t.Fatal(h.c.State())
	}
	if h.m.Get(metrics.TcpExtTCPAbortOnClose) != 1 || h.m.Get(metrics.TcpEstabResets) != 1 || h.m.Get(metrics.TcpOutRsts) != 1 {
		t.Error("counters")
	}
}

// CLOSE-3: a received FIN alone is not unread data.
func TestCloseAfterFINOnlyIsOrderly(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fFA, 65535, nil, nil))
	h.expect(fA, snd0, rcv0+1) // CLOSE-19: the FIN is ACKed at once
	if h.c.State() != StateCloseWait {
		t.Fatal(h.c.State())
	}
	if _, err := h.c.Read(make([]byte, 10), h.now, h.e); err != io.EOF {
		t.Fatal(err)
	}
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0+1) // CLOSE-8: CLOSE_WAIT -> LAST_ACK
	if h.c.State() != StateLastAck {
		t.Fatal(h.c.State())
	}
	h.send(mkSeg(rcv0+1, snd0+1, fA, 65535, nil, nil))
	if h.c.State() != StateClose || h.c.wantTW {
		t.Fatalf("CLOSE-21: state %v tw %v", h.c.State(), h.c.wantTW)
	}
	if h.c.TakeEvents()&EventClosed == 0 {
		t.Error("EventClosed")
	}
}

// SCN-30, CLOSE-7: SO_LINGER {on, 0} resets.
func TestCloseLingerZeroCLOSE7(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetLinger(true, 0)
	h.c.Close(h.now, h.e)
	h.expect(fRA, snd0, rcv0)
	if h.m.Get(metrics.TcpExtTCPAbortOnData) != 1 {
		t.Error("TCPAbortOnData")
	}
}

func TestCloseSynSentSendsNothingCLOSE8(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.expect(fS, 100, 0)
	h.c.Close(h.now, h.e)
	h.expectNone()
	if h.c.State() != StateClose || h.c.NextTimer() != 0 {
		t.Fatal(h.c.State())
	}
}

// SCN-1/SCN-18, FW2-4(c): local close first; the FIN is ACKed; the orphan
// becomes a FIN_WAIT2 record for tcp_fin_timeout.
// ORPHAN-9, TW-ENTER-8: an orphan in FIN_WAIT1 whose FIN is acknowledged
// follows FW2-4: it becomes a FIN_WAIT2-substate record and the socket
// itself is finished (CLOSE).
func TestActiveCloseOrphanFW2Record(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	h.c.Write(payload(1000, 0), h.now, h.e)
	h.expect(fPA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+1000, fA, 1000, nil, tsOpt(101, h.tsNow())))
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0+1000, rcv0)
	if h.c.State() != StateFinWait1 {
		t.Fatal(h.c.State())
	}
	h.send(mkSeg(rcv0, snd0+1001, fA, 1000, nil, tsOpt(102, h.tsNow())))
	ev := h.c.TakeEvents()
	if ev&EventTimeWait == 0 || h.c.State() != StateClose {
		t.Fatalf("events %b state %v", ev, h.c.State())
	}
	tw := h.c.TimeWaitInfo()
	want := TimeWaitInfo{Substate: StateFinWait2, RcvNxt: rcv0, SndNxt: snd0 + 1001, RcvWnd: tw.RcvWnd, RcvWScale: 7,
		HasTS: true, TSRecent: 102, TSRecentStamp: seconds(h.now), TSOffset: 0, Timeout: 60 * time.Second, RTO: h.c.rto}
	if tw != want {
		t.Fatalf("TimeWaitInfo\n got %+v\nwant %+v", tw, want)
	}
	if tw.RcvWnd < 60000 {
		t.Errorf("frozen window %d", tw.RcvWnd)
	}
}

// FW2-9, CLOSE-19: after shutdown(SHUT_WR) the attached FIN_WAIT2 waits
// without timer; the peer's FIN is ACKed at once and TIME-WAIT follows.
func TestShutdownWriteThenPeerFINTimeWait(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Shutdown(false, true, h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	if _, err := h.c.Write([]byte("x"), h.now, h.e); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write after shutdown: %v", err)
	}
	h.send(mkSeg(rcv0, snd0+1, fA, 65535, nil, nil))
	if h.c.State() != StateFinWait2 || h.c.NextTimer() != 0 {
		t.Fatalf("FW2-3: state %v timer %v", h.c.State(), h.c.NextTimer())
	}
	h.send(mkSeg(rcv0, snd0+1, fFA, 65535, nil, nil))
	h.expect(fA, snd0+1, rcv0+1)
	tw := h.c.TimeWaitInfo()
	if h.c.TakeEvents()&EventTimeWait == 0 || tw.Substate != StateTimeWait || tw.Timeout != 60*time.Second || tw.RcvNxt != rcv0+1 || tw.SndNxt != snd0+1 {
		t.Fatalf("tw %+v", tw)
	}
}

// SCN-35, CLOSE-19/20: simultaneous close goes through CLOSING.
func TestSimultaneousCloseSCN35(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0, fFA, 65535, nil, nil))
	h.expect(fA, snd0+1, rcv0+1)
	if h.c.State() != StateClosing {
		t.Fatal(h.c.State())
	}
	h.send(mkSeg(rcv0+1, snd0+1, fA, 65535, nil, nil))
	if h.c.TimeWaitInfo().Substate != StateTimeWait || h.c.TakeEvents()&EventTimeWait == 0 {
		t.Fatal("no TIME-WAIT")
	}
}

// SCN-27, FW2-4(a): TCP_LINGER2 < 0, the FIN's ACK is answered with RST.
func TestLinger2NegativeFW2SCN27(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetLinger2(-1)
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+1, fA, 65535, nil, nil))
	h.expect(fR, snd0+1, 0)
	if h.c.State() != StateClose || h.m.Get(metrics.TcpExtTCPAbortOnData) != 1 {
		t.Fatal(h.c.State())
	}
}

// SCN-28, FW2-2: closing an attached FIN_WAIT2 with TCP_LINGER2 < 0.
func TestCloseInFW2Linger2NegativeSCN28(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Shutdown(false, true, h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+1, fA, 65535, nil, nil))
	h.c.SetLinger2(-1)
	h.c.Close(h.now, h.e)
	h.expect(fRA, snd0+1, rcv0)
	if h.m.Get(metrics.TcpExtTCPAbortOnLinger) != 1 {
		t.Error("TCPAbortOnLinger")
	}
}

// SCN-26, FW2-2/6/7: tcp_fin_timeout 90 s: 30 s as a full socket, then a
// FIN_WAIT2 record for another 30 s. TIMER-11: the orphaned full-socket
// FIN_WAIT2 runs on the keepalive timer reused as FIN_WAIT2 timer.
func TestFinTimeoutAbove60SCN26(t *testing.T) {
	h := newHarness(t)
	h.cfg.FinTimeout = 90 * time.Second
	h.passive(plainSYN())
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+1, fA, 65535, nil, nil))
	if h.c.State() != StateFinWait2 {
		t.Fatal(h.c.State())
	}
	if d := h.advanceToTimer(); d != 30*time.Second {
		t.Fatalf("keepalive timer after %v", d)
	}
	tw := h.c.TimeWaitInfo()
	if tw.Substate != StateFinWait2 || tw.Timeout != 30*time.Second {
		t.Fatalf("%+v", tw)
	}
	h.expectNone()
}

// SCN-31, CLOSE-12, ORPHAN-9: new data reaching an orphan after close is
// answered with RST.
func TestDataAfterCloseRSTSCN31(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0, fPA, 65535, payload(100, 0), nil))
	h.expect(fR, snd0, 0)
	if h.c.State() != StateClose || h.m.Get(metrics.TcpExtTCPAbortOnData) != 1 {
		t.Fatal(h.c.State())
	}
}

// SCN-32, ORPHAN-3/4/5/8: an unanswered FIN is retransmitted with backoff
// and the orphan dies silently 102.2 s after the FIN went out.
// TIMER-11: only the retransmission timer drives an orphaned FIN_WAIT1.
// MIB-13: TCPAbortOnTimeout +1.
func TestOrphanFINTimeoutSCN32(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	start := h.now
	for i := range 8 {
		h.advanceToTimer()
		h.expect(fFA, snd0, rcv0)
		_ = i
	}
	h.advanceToTimer()
	h.expectNone()
	if d := time.Duration(h.now - start); d != 102200*time.Millisecond {
		t.Errorf("destroyed after %v", d)
	}
	if h.c.State() != StateClose || h.m.Get(metrics.TcpExtTCPAbortOnTimeout) != 1 {
		t.Fatal(h.c.State())
	}
}

// CLOSE-11: the FIN waits behind unsent data and rides on the last segment.
func TestFINPiggybacksOnLastSegment(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.sndWnd = 1500 // room for one segment and a half
	h.c.Write(payload(2500, 0), h.now, h.e)
	h.expect(fA, snd0, rcv0)
	h.c.Close(h.now, h.e)
	h.expectNone()
	if h.c.State() != StateFinWait1 {
		t.Fatal(h.c.State())
	}
	h.send(mkSeg(rcv0, snd0+1000, fA, 5000, nil, nil))
	h.expect(fA, snd0+1000, rcv0)
	h.expect(fFA|fP, snd0+2000, rcv0)
}

// TIME_WAIT fallback: without records the Conn keeps TIME_WAIT for 60 s.
func TestTimeWaitFallback(t *testing.T) {
	h := newHarness(t)
	h.cfg.NoTimeWaitRecords = true
	h.passive(plainSYN())
	h.c.Shutdown(false, true, h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+1, fFA, 65535, nil, nil))
	h.expect(fA, snd0+1, rcv0+1)
	if h.c.State() != StateTimeWait {
		t.Fatal(h.c.State())
	}
	h.send(mkSeg(rcv0, snd0+1, fFA, 65535, nil, nil)) // retransmitted FIN: re-ACK
	h.expect(fA, snd0+1, rcv0+1)
	if d := h.advanceToTimer(); d != 60*time.Second {
		t.Fatalf("TIME_WAIT lasted %v", d)
	}
	if h.c.State() != StateClose {
		t.Fatal(h.c.State())
	}
}

// CLOSE-8: the close() state table.
func TestCloseTableCLOSE8(t *testing.T) {
	type tc struct {
		name  string
		setup func(h *harness)
		want  State
		seg   uint8 // expected flags of the emitted segment, 0 = none
	}
	for _, c := range []tc{
		{"ESTABLISHED->FIN_WAIT1+FIN", func(h *harness) { h.passive(plainSYN()) }, StateFinWait1, fFA},
		{"CLOSE_WAIT->LAST_ACK+FIN", func(h *harness) {
			h.passive(plainSYN())
			h.send(mkSeg(rcv0, snd0, fFA, 65535, nil, nil))
			h.recv()
		}, StateLastAck, fFA},
		{"SYN_SENT->CLOSE", func(h *harness) {
			h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
			h.recv()
		}, StateClose, 0},
		{"FIN_WAIT1 unchanged", func(h *harness) {
			h.passive(plainSYN())
			h.c.Shutdown(false, true, h.now, h.e)
			h.recv()
		}, StateFinWait1, 0},
		{"LAST_ACK unchanged", func(h *harness) {
			h.passive(plainSYN())
			h.send(mkSeg(rcv0, snd0, fFA, 65535, nil, nil))
			h.recv()
			h.c.Shutdown(false, true, h.now, h.e)
			h.recv()
		}, StateLastAck, 0},
		{"CLOSING unchanged", func(h *harness) {
			h.passive(plainSYN())
			h.c.Shutdown(false, true, h.now, h.e)
			h.recv()
			h.send(mkSeg(rcv0, snd0, fFA, 65535, nil, nil))
			h.recv()
		}, StateClosing, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.setup(h)
			h.c.Close(h.now, h.e)
			if h.c.State() != c.want {
				t.Fatalf("state %v want %v", h.c.State(), c.want)
			}
			if c.seg == 0 {
				h.expectNone()
			} else if o := h.recv(); o.Flags != c.seg {
				t.Fatalf("sent %v", o)
			}
		})
	}
}

// CLOSE-12 also covers CLOSE_WAIT after SHUT_RD: new data starting before
// rcv_nxt resets.
func TestCloseWaitOldSegmentWithNewDataAfterShutRD(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fPA, 65535, payload(10, 0), nil))
	h.recv()
	h.c.Read(make([]byte, 100), h.now, h.e)
	h.send(mkSeg(rcv0+10, snd0, fFA, 65535, nil, nil))
	h.recv()
	// The peer retransmits overlapping data with more bytes: after its FIN
	// that is bogus; with the receive side shut down it resets.
	h.send(mkSeg(rcv0+5, snd0, fPA, 65535, payload(20, 0), nil))
	h.expect(fR, snd0, 0)
	if !errors.Is(h.c.Err(), syscall.EPIPE) {
		t.Fatalf("err %v", h.c.Err())
	}
}

// An active RST of a timestamped connection carries the TS option
// (tcp_transmit_skb adds the established options).
func TestActiveRSTCarriesTimestamp(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	h.send(mkSeg(rcv0, snd0, fPA, 1000, payload(10, 0), tsOpt(150, 1)))
	h.recv()
	h.c.Close(h.now, h.e)
	r := h.expect(fRA, snd0, rcv0+10)
	if !r.Opts.HasTS || r.Opts.TSEcr != 150 || r.Opts.TSVal != h.tsNow() {
		t.Fatalf("RST options %+v", r.Opts)
	}
	if r.Window == 0 {
		t.Error("RST window 0; Linux advertises tcp_select_window")
	}
}

// CLOSE-8: SYN_RECV -> FIN_WAIT1; the FIN leaves once the SYN is ACKed.
func TestCloseInSynRecvSimultaneousOpen(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.expect(fS, 100, 0)
	h.send(mkSeg(peerISN, 0, fS, 65535, nil, plainSYN()))
	h.expect(fSA, 100, peerISN+1)
	h.c.Close(h.now, h.e)
	if h.c.State() != StateFinWait1 {
		t.Fatal(h.c.State())
	}
	h.expectNone()
	h.send(mkSeg(peerISN+1, 101, fA, 65535, nil, nil))
	h.expect(fFA, 101, peerISN+1)
	h.send(mkSeg(peerISN+1, 102, fA, 65535, nil, nil))
	if h.c.TakeEvents()&EventTimeWait == 0 || h.c.TimeWaitInfo().Substate != StateFinWait2 {
		t.Fatal("no FIN_WAIT2 record")
	}
}
