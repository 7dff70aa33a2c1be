package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

func TestICMPPortUnreachableRefusesConnect(t *testing.T) {
	h := newHarness(t)
	h.c = NewActive(h.cfg, h.m, testTuple, ActiveOpts{ISN: 100, HasISN: true}, h.now, h.e)
	h.recv()
	h.c.ICMPError(ICMPDestUnreach, 3, 100, 0, h.now, h.e)
	if !errors.Is(h.c.Err(), syscall.ECONNREFUSED) || h.c.State() != StateClose {
		t.Fatalf("err %v state %v", h.c.Err(), h.c.State())
	}
}

func TestICMPSoftErrorReportedOnTimeout(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetUserTimeout(time.Second)
	h.c.Write(payload(100, 0), h.now, h.e)
	h.recv()
	h.c.ICMPError(ICMPDestUnreach, 1, snd0, 0, h.now, h.e)
	if h.c.Err() != nil {
		t.Fatal("soft error ended the connection")
	}
	h.c.ICMPError(ICMPDestUnreach, 1, snd0+5000, 0, h.now, h.e)
	if h.m.Get(metrics.TcpExtOutOfWindowIcmps) != 1 {
		t.Error("OutOfWindowIcmps")
	}
	for h.c.Err() == nil {
		h.advanceToTimer()
	}
	if !errors.Is(h.c.Err(), syscall.EHOSTUNREACH) {
		t.Fatalf("err %v", h.c.Err())
	}
}

func TestICMPFragNeededLowersMSS(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1460})
	h.c.Write(payload(2920, 0), h.now, h.e)
	h.recv()
	h.recv()
	h.c.ICMPError(ICMPDestUnreach, 4, snd0, 1000, h.now, h.e)
	if h.c.mssCache != 960 {
		t.Fatalf("mss %d", h.c.mssCache)
	}
	o := h.recv()
	if o.Seq != snd0 || len(o.Payload) != 960 {
		t.Fatalf("resent %v", o)
	}
}

// SO_ERROR with sk_err 0 returns sk_err_soft once (sock_getsockopt's
// xchg); an acceptable ACK clears it too (tcp_ack: "something worked").
func TestTakeSoftErr(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.Write(payload(100, 0), h.now, h.e)
	h.recv()
	h.c.ICMPError(ICMPDestUnreach, 1, snd0, 0, h.now, h.e)
	if got := h.c.TakeSoftErr(); got != syscall.EHOSTUNREACH {
		t.Fatalf("SO_ERROR %v, want EHOSTUNREACH", got)
	}
	if got := h.c.TakeSoftErr(); got != 0 {
		t.Fatalf("second SO_ERROR %v, want 0", got)
	}
	h.c.ICMPError(ICMPDestUnreach, 1, snd0, 0, h.now, h.e)
	h.send(mkSeg(rcv0, snd0+100, fA, 65535, nil, nil))
	if got := h.c.TakeSoftErr(); got != 0 {
		t.Fatalf("soft error %v survived an ACK", got)
	}
}
