package timewait

import (
	"testing"

	"github.com/ustack/ustack/metrics"
)

// harness plays the stack's part for one record on a virtual clock: it
// feeds segments through Process, applies verdicts with the DeathRow and
// "unhashes" the record when it dies. Only record-level behaviour of the SCN
// scenarios is checked here; packets on the wire are the stack's tests.
type harness struct {
	t      *testing.T
	d      *DeathRow
	r      *Record
	cfg    Config
	m      *metrics.Counters
	now    int64
	hashed bool
}

func newHarness(t *testing.T, sub Substate, noTS bool, timeout int64) *harness {
	h := &harness{t: t, m: metrics.New(), cfg: DefaultConfig(), now: t0}
	h.d = NewDeathRow(Linux618, t0, h.m)
	h.r = newRec(sub, noTS)
	if !h.d.Admit(t0) {
		t.Fatal("not admitted")
	}
	h.d.Schedule(h.r, timeout, t0)
	h.hashed = true
	return h
}

// at moves the clock to t0+dt, expiring what is due.
func (h *harness) at(dt int64) {
	h.now = t0 + dt
	for _, r := range h.d.Expire(h.now, nil) {
		if r == h.r {
			h.hashed = false
		}
	}
}

// in delivers a segment at the current time and returns the verdict after
// applying it; a SYN verdict is applied as with a listener when listener.
func (h *harness) in(s Segment, listener bool) Verdict {
	h.t.Helper()
	if !h.hashed {
		h.t.Fatal("segment for a record that is gone")
	}
	v := Process(h.r, &s, h.now, &h.cfg, h.m)
	if h.d.Apply(h.r, v, h.now) {
		h.hashed = false
	}
	if v.Action == ActionSYN && listener && h.d.Kill(h.r) {
		h.hashed = false
	}
	return v
}

func (h *harness) wantAlive(alive bool) {
	h.t.Helper()
	if h.hashed != alive || h.r.Scheduled() != alive {
		h.t.Fatalf("at %v s: alive %v (scheduled %v), want %v", float64(h.now-t0)/1e9, h.hashed, h.r.Scheduled(), alive)
	}
}

func (h *harness) wantExpiry(dt int64) {
	h.t.Helper()
	if h.r.When() != t0+dt {
		h.t.Fatalf("expiry at %v s, want %v s", float64(h.r.When()-t0)/1e9, float64(dt)/1e9)
	}
}

func TestSCN1_silent_60s(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(TimeWaitLen - ms)
	h.wantAlive(true)
	h.at(TimeWaitLen)
	h.wantAlive(false)
	if h.m.Get(metrics.TcpExtTW) != 1 || h.d.Len() != 0 {
		t.Fatal("TW counter / live count")
	}
}

func TestSCN2_fin_retransmit_reacked_and_restarts(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(500 * ms)
	fin := seg(F|A, tR-1, 0, ts(tT+500))
	if v := h.in(fin, false); v.Action != ActionACK {
		t.Fatal("first FIN retransmission not ACKed")
	}
	h.at(510 * ms)
	if v := h.in(fin, false); v.Action != ActionACK {
		t.Fatal("second FIN retransmission 10 ms later not ACKed (never rate-limited)")
	}
	h.wantExpiry(510*ms + TimeWaitLen)
	h.at(510*ms + TimeWaitLen)
	h.wantAlive(false)
}

func TestSCN3_bare_ack_refreshes_T(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(2 * sec)
	if v := h.in(seg(A, tR, 0, ts(tT+2000)), false); v.Action != ActionSuccess {
		t.Fatal("reply to a bare exact ACK")
	}
	h.wantExpiry(2*sec + TimeWaitLen)
	if !h.r.HasTS() || h.r.TSRecent != tT+2000 {
		t.Fatal("the next TW ACK must echo the new TSval")
	}
}

func TestSCN4_keepalive_rate_limited(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	probe := seg(A, tR-1, 0, ts(tT+1))
	h.at(sec)
	if v := h.in(probe, false); v.Action != ActionACK {
		t.Fatal("probe not answered")
	}
	h.at(sec + 100*ms)
	if v := h.in(probe, false); v.Action != ActionSuccess || h.m.Get(metrics.TcpExtTCPACKSkippedTimeWait) != 1 {
		t.Fatal("second probe within 500 ms not suppressed")
	}
	h.at(sec + 600*ms)
	if v := h.in(probe, false); v.Action != ActionACK {
		t.Fatal("third probe 600 ms after the first not answered")
	}
	h.wantExpiry(sec + 600*ms + TimeWaitLen)
}

func TestSCN6_rst_assassination(t *testing.T) {
	for _, f := range []uint8{R, R | A} {
		h := newHarness(t, tw, false, 0)
		h.at(sec)
		if v := h.in(seg(f, tR, 0, noSeg), false); v.Action != ActionSuccess {
			t.Fatal("reply to RST")
		}
		h.wantAlive(false)
		if h.d.Len() != 0 {
			t.Fatal("sockstat tw not decremented")
		}
	}
}

func TestSCN7_rfc1337_keeps_record_and_expiry(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.cfg.RFC1337 = true
	h.at(10 * sec)
	h.in(seg(R, tR, 0, noSeg), false)
	h.wantAlive(true)
	h.wantExpiry(TimeWaitLen)
	if v := h.in(seg(F|A, tR-1, 0, noSeg), false); v.Action != ActionACK {
		t.Fatal("FIN after ignored RST not ACKed")
	}
}

func TestSCN8_rst_wrong_seq_ignored(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(sec)
	for _, s := range []uint32{tR + 1000, tR - 1} {
		if v := h.in(seg(R, s, 0, noSeg), false); v != (Verdict{}) {
			t.Fatalf("verdict %+v", v)
		}
	}
	h.wantAlive(true)
	h.wantExpiry(TimeWaitLen)
}

func TestSCN9_old_rst_ignored_until_paws_msl(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	rst := seg(R, tR, 0, ts(tT-5))
	h.at(10 * sec)
	if v := h.in(rst, false); v != (Verdict{}) || h.m.Get(metrics.TcpExtPAWSTimewait) != 1 {
		t.Fatalf("PAWS-failing RST: %+v", v)
	}
	h.wantExpiry(TimeWaitLen)
	// Keepalives (seq R-1) keep it alive without refreshing T/Ts.
	for _, dt := range []int64{30 * sec, 59 * sec} {
		h.at(dt)
		h.in(seg(A, tR-1, 0, ts(tT+1)), false)
	}
	h.at(61 * sec)
	h.wantAlive(true)
	h.in(rst, false)
	h.wantAlive(false)
}

func TestSCN10_new_syn_reopens(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(sec)
	v := h.in(seg(S, tR+1000, 0, noSeg), true)
	if v.Action != ActionSYN || v.ISN != tS+65537 {
		t.Fatalf("verdict %+v", v)
	}
	h.wantAlive(false)
}

func TestSCN12_syn_equal_ts_then_rst(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(sec)
	if v := h.in(seg(S, tR-1000, 0, ts(tT)), true); v.Action != ActionACK || v.Rearm {
		t.Fatalf("verdict %+v: want TW ACK without re-arm", v)
	}
	h.wantExpiry(TimeWaitLen)
	h.in(seg(R, tR, 0, noSeg), false)
	h.wantAlive(false)
}

func TestSCN13_paws_syn(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(sec)
	if v := h.in(seg(S, tR-1000, 0, ts(tT-10)), true); v.Action != ActionACK {
		t.Fatal("no TW ACK")
	}
	h.wantExpiry(sec + TimeWaitLen)
	if h.m.Get(metrics.TcpExtPAWSTimewait) != 1 {
		t.Fatal("PAWSTimewait")
	}
}

func TestSCN14_syn_without_listener(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	h.at(sec)
	v := h.in(seg(S, tR+1000, 0, noSeg), false) // the stack finds no listener: TW ACK
	if v.Action != ActionSYN || v.Rearm || v.Kill {
		t.Fatalf("verdict %+v", v)
	}
	h.wantAlive(true)
	h.wantExpiry(TimeWaitLen)
}

func TestSCN17_ts_ignored_without_timestamps(t *testing.T) {
	h := newHarness(t, tw, true, 0)
	h.at(sec)
	if v := h.in(seg(S, tR-1000, 0, ts(0xfffffff0)), true); v.Action != ActionACK || v.Rearm {
		t.Fatalf("verdict %+v", v)
	}
	h.wantExpiry(TimeWaitLen)
}

func TestSCN18_fin_wait2_silent_removal(t *testing.T) {
	h := newHarness(t, fw2, false, 60*sec)
	if h.r.Substate != SubstateFinWait2 || h.r.Substate.String() != "FIN-WAIT-2" {
		t.Fatal("substate")
	}
	h.at(60*sec - ms)
	h.wantAlive(true)
	h.at(60 * sec)
	h.wantAlive(false)
}

func TestSCN19_fin_wait2_to_time_wait(t *testing.T) {
	h := newHarness(t, fw2, false, 60*sec)
	h.at(10 * sec)
	if v := h.in(seg(F|A, tR, 0, ts(tT+10000)), false); v.Action != ActionACK {
		t.Fatal("FIN not ACKed")
	}
	if h.r.Substate != SubstateTimeWait || h.r.RcvNxt != tR+1 {
		t.Fatal("not TIME_WAIT acknowledging the FIN")
	}
	h.wantExpiry(70 * sec)
}

func TestSCN20_to_23_fin_wait2(t *testing.T) {
	h := newHarness(t, fw2, false, 60*sec)
	h.at(sec)
	h.in(seg(A, tR, 0, noSeg), false) // SCN-23
	h.wantAlive(true)
	h.wantExpiry(60 * sec)
	if v := h.in(seg(A, tR, 100, noSeg), false); v.Action != ActionRST { // SCN-20
		t.Fatal("data not reset")
	}
	h.wantAlive(false)

	h = newHarness(t, fw2, false, 60*sec)
	h.cfg.RFC1337 = true
	h.in(seg(R, tR+10, 0, noSeg), false) // SCN-21
	h.wantAlive(false)

	h = newHarness(t, fw2, false, 60*sec)
	if v := h.in(seg(S, tR+5000, 0, noSeg), false); v.Action != ActionRST { // SCN-22
		t.Fatal("in-window SYN not reset")
	}
	h.wantAlive(false)
}

func TestSCN24_SCN51_fin_wait2_out_of_window(t *testing.T) {
	h := newHarness(t, fw2, false, 60*sec)
	h.at(sec)
	if v := h.in(seg(A, tR+tW+100, 0, noSeg), false); v.Action != ActionACK {
		t.Fatal("no TW ACK")
	}
	h.at(sec + 200*ms)
	if v := h.in(seg(R, tR+tW+1000, 0, noSeg), false); v.Action != ActionSuccess ||
		h.m.Get(metrics.TcpExtTCPACKSkippedFinWait2) != 1 {
		t.Fatal("not rate-limited")
	}
	h.at(sec + 700*ms)
	if v := h.in(seg(R, tR+tW+1000, 0, noSeg), false); v.Action != ActionACK {
		t.Fatal("out-of-window RST not answered (SCN-51)")
	}
	h.wantExpiry(60 * sec)
}

func TestSCN25_fin_timeout(t *testing.T) {
	h := newHarness(t, fw2, false, 30*sec)
	h.wantExpiry(30 * sec)
	h = newHarness(t, fw2, false, 2*sec)
	h.wantExpiry(2 * sec)
	if h.m.Get(metrics.TcpExtTWKilled) != 1 || h.m.Get(metrics.TcpExtTW) != 0 {
		t.Fatal("a 2 s record counts TWKilled")
	}
}

func TestSCN34_no_buckets(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux618, t0, m)
	d.SetMaxBuckets(0)
	if d.Admit(t0) || m.Get(metrics.TcpExtTCPTimeWaitOverflow) != 1 || d.Len() != 0 {
		t.Fatal("SCN-34")
	}
}

// SCN-47, MIB-1: 100 records count TW +100 at entry even though 10 are
// killed; the rest leave 60 s after their own entry.
func TestSCN47_counted_at_entry(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux618, t0, m)
	recs := make([]*Record, 100)
	for i := range recs {
		recs[i] = newRec(SubstateTimeWait, false)
		d.Schedule(recs[i], 0, t0+int64(i)*ms)
	}
	for i := range 10 {
		d.Kill(recs[i])
	}
	if m.Get(metrics.TcpExtTW) != 100 || d.Len() != 90 {
		t.Fatalf("TW %d live %d", m.Get(metrics.TcpExtTW), d.Len())
	}
	if n := len(d.Expire(t0+TimeWaitLen+99*ms, nil)); n != 90 || d.Len() != 0 {
		t.Fatalf("expired %d", n)
	}
}

// SCN-49, TIMER-6 (a): OOW ACKs every 30 s are each answered (>= 500 ms
// apart) and each restarts 60 s, so the record outlives 60 s by far.
func TestSCN49_oow_acks_keep_alive(t *testing.T) {
	h := newHarness(t, tw, false, 0)
	for i := int64(1); i <= 20; i++ {
		h.at(i * 30 * sec)
		if v := h.in(seg(A, tR+100000, 0, noSeg), false); v.Action != ActionACK {
			t.Fatal("OOW ACK 30 s apart not answered")
		}
	}
	h.at(20*30*sec + TimeWaitLen)
	h.wantAlive(false)
}
