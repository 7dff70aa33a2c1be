package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

func TestPassiveOpenSYNACKOptions(t *testing.T) {
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 65535, nil, linuxSYN(777))
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	sa := h.expect(fSA, ourISN, peerISN+1)
	// Linux: 65536-byte window space rounded to the MSS without TS (1448).
	if sa.Window != 65160 {
		t.Errorf("SYN-ACK window %d, want 65160", sa.Window)
	}
	o := sa.Opts
	if !o.HasMSS || o.MSS != 1460 || !o.SACKPermitted || !o.HasTS || o.TSEcr != 777 || !o.HasWScale || o.WScale != 7 {
		t.Errorf("SYN-ACK options %+v", o)
	}
	if o.TSVal != h.tsNow() {
		t.Errorf("TSval %d want %d", o.TSVal, h.tsNow())
	}
	if h.c.State() != StateSynRecv {
		t.Fatal(h.c.State())
	}
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 1000, nil, &header.Options{HasTS: true, TSVal: 778, TSEcr: o.TSVal}))
	if h.c.State() != StateEstablished {
		t.Fatal(h.c.State())
	}
	if ev := h.c.TakeEvents(); ev&EventEstablished == 0 {
		t.Errorf("events %b", ev)
	}
	if h.c.sndWnd != 1000<<7 {
		t.Errorf("snd_wnd %d", h.c.sndWnd)
	}
	if h.c.mssCache != 1448 {
		t.Errorf("mss %d", h.c.mssCache)
	}
	if h.m.Get(metrics.TcpPassiveOpens) != 1 || h.m.Get(metrics.TcpCurrEstab) != 1 {
		t.Error("counters")
	}
}

func TestPassiveOpenNoOptionsWindow(t *testing.T) {
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 65535, nil, plainSYN())
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	sa := h.expect(fSA, ourISN, peerISN+1)
	if sa.Window != 64240 {
		t.Errorf("window %d want 64240", sa.Window)
	}
	if sa.Opts.HasTS || sa.Opts.SACKPermitted || sa.Opts.HasWScale || sa.Opts.MSS != 1460 {
		t.Errorf("opts %+v", sa.Opts)
	}
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 32768, nil, nil))
	if h.c.mssCache != 1000 || h.c.rcvWScale != 0 {
		t.Errorf("mss %d wscale %d", h.c.mssCache, h.c.rcvWScale)
	}
}

func TestActiveOpenSYNOptions(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	s := h.expect(fS, 100, 0)
	if s.Window != 64240 { // tcp_connect_init rounds to the full MSS
		t.Errorf("SYN window %d", s.Window)
	}
	o := s.Opts
	if o.MSS != 1460 || !o.SACKPermitted || !o.HasTS || o.TSEcr != 0 || o.WScale != 7 {
		t.Errorf("opts %+v", o)
	}
	// Linux layout: mss, sackOK, TS, nop, wscale = 20 bytes of options.
	if len(s.Raw) != 40 || s.Raw[24] != header.OptSACKPerm || s.Raw[26] != header.OptTS {
		t.Errorf("layout %x", s.Raw[20:])
	}
	h.now += Time(50 * time.Millisecond)
	h.send(mkSeg(peerISN, 101, fSA, 5792, nil, &header.Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasWScale: true, WScale: 2}))
	if a := h.expect(fA, 101, peerISN+1); a.Window != 502 { // ALIGN(64240, 128) >> 7
		t.Errorf("third ACK window %d", a.Window)
	}
	if h.c.State() != StateEstablished || h.c.tsOK || !h.c.sackOK || h.c.sndWScale != 2 {
		t.Fatalf("state %v ts %v sack %v", h.c.State(), h.c.tsOK, h.c.sackOK)
	}
	if h.c.rto != 250*time.Millisecond {
		t.Errorf("rto %v want 250ms (50ms srtt + 200ms rttvar floor)", h.c.rto)
	}
	if h.m.Get(metrics.TcpActiveOpens) != 1 {
		t.Error("ActiveOpens")
	}
}

// TestSYNRetransmitBackoffAndTimeout: CONST-7: TCP_TIMEOUT_INIT 1 s, then
// doubling; MIB-18: AttemptFails +1 when the connect times out.
func TestSYNRetransmitBackoffAndTimeout(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.expect(fS, 100, 0)
	want := []time.Duration{1, 2, 4, 8, 16, 32}
	for i, w := range want {
		if d := h.advanceToTimer(); d != w*time.Second {
			t.Fatalf("retransmission %d after %v, want %v", i+1, d, w*time.Second)
		}
		h.expect(fS, 100, 0)
	}
	if d := h.advanceToTimer(); d != 64*time.Second {
		t.Fatalf("give up after %v", d)
	}
	h.expectNone()
	if !errors.Is(h.c.Err(), syscall.ETIMEDOUT) || h.c.State() != StateClose {
		t.Fatalf("err %v state %v", h.c.Err(), h.c.State())
	}
	if h.m.Get(metrics.TcpExtTCPSynRetrans) != 6 || h.m.Get(metrics.TcpAttemptFails) != 1 {
		t.Errorf("SynRetrans %d AttemptFails %d", h.m.Get(metrics.TcpExtTCPSynRetrans), h.m.Get(metrics.TcpAttemptFails))
	}
}

func TestSYNACKRetransmitAndExpiry(t *testing.T) {
	h := newHarness(t)
	h.c = NewPassive(h.cfg, h.m, testTuple, mkSeg(peerISN, 0, fS, 65535, nil, plainSYN()), ourISN, h.now, h.e)
	h.expect(fSA, ourISN, peerISN+1)
	for _, w := range []time.Duration{1, 2, 4, 8, 16} {
		if d := h.advanceToTimer(); d != w*time.Second {
			t.Fatalf("after %v want %v", d, w)
		}
		h.expect(fSA, ourISN, peerISN+1)
	}
	h.advanceToTimer()
	h.expectNone()
	if h.c.State() != StateClose {
		t.Fatal(h.c.State())
	}
}

func TestSYNRecvRetransmittedSYNGetsSYNACK(t *testing.T) {
	h := newHarness(t)
	h.c = NewPassive(h.cfg, h.m, testTuple, mkSeg(peerISN, 0, fS, 65535, nil, plainSYN()), ourISN, h.now, h.e)
	h.expect(fSA, ourISN, peerISN+1)
	h.send(mkSeg(peerISN, 0, fS, 65535, nil, plainSYN()))
	h.expect(fSA, ourISN, peerISN+1)
	// A bad ACK gets a RST from the listener path (SEQ = its ACK).
	h.send(mkSeg(peerISN+1, 4242, fA, 65535, nil, nil))
	h.expect(fR, 4242, 0)
}

func TestActiveOpenRSTRefused(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.expect(fS, 100, 0)
	h.send(mkSeg(0, 101, fRA, 0, nil, nil))
	if !errors.Is(h.c.Err(), syscall.ECONNREFUSED) {
		t.Fatal(h.c.Err())
	}
	h.expectNone()
}

func TestSynSentBadACKGetsRST(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.expect(fS, 100, 0)
	h.send(mkSeg(peerISN, 555, fSA, 5000, nil, nil))
	h.expect(fR, 555, 0)
	if h.c.State() != StateSynSent {
		t.Fatal(h.c.State())
	}
}

// PAWS-10 / SCN-43: a SYN-ACK echoing a TSval we never sent.
func TestPAWSActiveSCN43(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	s := h.expect(fS, 100, 0)
	h.send(mkSeg(peerISN, 101, fSA, 5000, nil, &header.Options{HasMSS: true, MSS: 1460, HasTS: true, TSVal: 9, TSEcr: s.Opts.TSVal + 100000}))
	h.expect(fR, 101, 0)
	if h.c.State() != StateSynSent || h.m.Get(metrics.TcpExtPAWSActive) != 1 {
		t.Fatalf("state %v PAWSActive %d", h.c.State(), h.m.Get(metrics.TcpExtPAWSActive))
	}
	h.advanceToTimer()
	h.expect(fS, 100, 0)
}

func TestSimultaneousOpen(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.expect(fS, 100, 0)
	h.send(mkSeg(peerISN, 0, fS, 65535, nil, plainSYN()))
	h.expect(fSA, 100, peerISN+1)
	if h.c.State() != StateSynRecv {
		t.Fatal(h.c.State())
	}
	h.send(mkSeg(peerISN, 101, fSA, 65535, nil, plainSYN()))
	if h.c.State() != StateEstablished {
		t.Fatal(h.c.State())
	}
}

// TestISNAndTSOffsetKeyed: VER-8: TS offsets are per 4-tuple (6.18.17+).
func TestISNAndTSOffsetKeyed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Secret = [16]byte{1}
	t2 := testTuple
	t2.RemotePort++
	a, b := ISN(cfg, testTuple, 0), ISN(cfg, t2, 0)
	if a == b {
		t.Error("ISN ignores the port")
	}
	if ISN(cfg, testTuple, 64) != a+1 {
		t.Error("ISN clock is not ns>>6")
	}
	if TSOffset(cfg, testTuple) == TSOffset(cfg, t2) {
		t.Error("TS offset must depend on the 4-tuple (6.18.17+, TW-REUSE-13)")
	}
	if TSOffset(cfg, testTuple) != TSOffset(cfg, testTuple) || TSOffset(cfg, testTuple) == uint32(ISN(cfg, testTuple, 0)) {
		t.Error("TS offset must be stable and not the ISN")
	}
	cfg2 := *cfg
	cfg2.Secret[0] = 2
	if ISN(&cfg2, testTuple, 0) == a {
		t.Error("ISN ignores the secret")
	}
}

// packetdrill mss/mss-setsockopt-tcp_maxseg-server.pkt
func TestListenerMaxSegInherited(t *testing.T) {
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 32792, nil, &header.Options{HasMSS: true, MSS: 1300, HasWScale: true, WScale: 7})
	h.c = NewPassiveOpts(h.cfg, h.m, testTuple, syn, ourISN, PassiveOpts{MSS: 1100}, h.now, h.e)
	sa := h.expect(fSA, ourISN, peerISN+1)
	if sa.Opts.MSS != 1100 || sa.Opts.WScale != 7 {
		t.Fatalf("opts %+v", sa.Opts)
	}
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 257, nil, nil))
	if i := h.c.Info(); i.AdvMSS != 1100 || i.SndMSS != 1100 {
		t.Fatalf("advmss %d snd_mss %d", i.AdvMSS, i.SndMSS)
	}
	h.c.Write(payload(12000, 0), h.now, h.e)
	for i := range 10 {
		o := h.recv()
		if o.Seq != snd0+uint32(i*1100) || len(o.Payload) != 1100 {
			t.Fatalf("segment %d: %v", i, o)
		}
	}
	h.expectNone() // cwnd 10
}

// TW-REUSE-9, PAWS-11: a reused 4-tuple starts at the given ISN with the
// record's ts_recent; a crossed SYN with an older TSval is dropped.
func TestActiveOpenTimeWaitReuse(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 70000, HasISN: true, InheritTS: true, TSRecent: 5000, TSRecentStamp: seconds(h.now)}, h.now, h.e)
	s := h.expect(fS, 70000, 0)
	if !s.Opts.HasTS || s.Opts.TSEcr != 0 {
		t.Fatalf("opts %+v", s.Opts)
	}
	if s.Window != 65160 { // an inherited ts_recent makes tcp_connect_init deduct the TS option
		t.Errorf("window %d", s.Window)
	}
	h.send(mkSeg(peerISN, 0, fS, 65535, nil, &header.Options{HasMSS: true, MSS: 1460, HasTS: true, TSVal: 4000}))
	h.expectNone()
	if h.c.State() != StateSynSent {
		t.Fatal(h.c.State())
	}
	// The SYN-ACK overwrites the inherited value (PAWS-1).
	h.send(mkSeg(peerISN, 70001, fSA, 65535, nil, &header.Options{HasMSS: true, MSS: 1460, HasTS: true, TSVal: 10, TSEcr: s.Opts.TSVal}))
	a := h.expect(fA, 70001, peerISN+1)
	if a.Opts.TSEcr != 10 || h.c.tsRecent != 10 {
		t.Errorf("TSecr %d ts_recent %d", a.Opts.TSEcr, h.c.tsRecent)
	}
}
