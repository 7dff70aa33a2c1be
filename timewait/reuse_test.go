package timewait

import (
	"testing"

	"github.com/ustack/ustack/metrics"
)

// TestTWReuse: TW-REUSE-*; SYSCTL-2: with the default tcp_tw_reuse_delay
// (1000 ms) reuse is refused at exactly 1000 ms and allowed at 1001 ms.
func TestTWReuse(t *testing.T) {
	lo := Tuple{LocalAddr: [4]byte{127, 0, 0, 1}, RemoteAddr: [4]byte{127, 0, 0, 1}, LocalPort: 40000, RemotePort: 80}
	cases := []struct {
		name     string
		sub      Substate
		noTS     bool
		loopback bool // addresses in 127/8
		flags    Flags
		mode     int
		after    int64 // now - creation
		devLo    bool  // caller says: bound to lo
		bound    bool
		want     bool
	}{
		{name: "TW-REUSE-2_mode1_after_delay", sub: tw, mode: 1, after: 1001 * ms, want: true},
		{name: "TW-REUSE-5_mode1_at_delay_exactly_refused", sub: tw, mode: 1, after: 1000 * ms, want: false},
		{name: "TW-REUSE-5_mode1_within_delay", sub: tw, mode: 1, after: 500 * ms, want: false},
		{name: "TW-REUSE-1_mode0_never", sub: tw, mode: 0, after: 50 * sec, want: false},
		{name: "TW-REUSE-3_mode2_not_loopback", sub: tw, mode: 2, after: 5 * sec, want: false},
		{name: "TW-REUSE-3_mode2_loopback_addrs", sub: tw, mode: 2, loopback: true, after: 1050 * ms, want: true},
		{name: "TW-REUSE-3_mode2_loopback_within_delay", sub: tw, mode: 2, loopback: true, after: 900 * ms, want: false},
		{name: "TW-REUSE-3_mode2_bound_to_lo_flag", sub: tw, mode: 2, flags: FlagBoundLoopback, after: 2 * sec, want: true},
		{name: "TW-REUSE-3_mode2_bound_to_lo_arg", sub: tw, mode: 2, devLo: true, after: 2 * sec, want: true},
		{name: "TW-REUSE-4_fin_wait2_never_by_sysctl", sub: fw2, mode: 1, after: 50 * sec, want: false},
		{name: "TW-REUSE-7_no_timestamps", sub: tw, noTS: true, mode: 1, after: 50 * sec, want: false},
		{name: "TW-REUSE-7_no_timestamps_even_bound", sub: tw, noTS: true, bound: true, want: false},
		{name: "TW-REUSE-8_bound_port_immediately", sub: tw, mode: 0, bound: true, after: 0, want: true},
		{name: "TW-REUSE-8_bound_port_fin_wait2", sub: fw2, mode: 0, bound: true, after: 0, want: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRec(c.sub, c.noTS)
			if c.loopback {
				r.Tuple = lo
			}
			r.Flags |= c.flags
			if got := CanReuse(r, t0+c.after, c.mode, DefaultTWReuseDelay, c.devLo, c.bound); got != c.want {
				t.Fatalf("CanReuse = %v, want %v", got, c.want)
			}
		})
	}
}

// TestTWReuseDelayWraps: the ms comparison is time_after32 on wrapping
// 32-bit values.
func TestTWReuseDelayWraps(t *testing.T) {
	r := newRec(SubstateTimeWait, false)
	start := int64(0xffffff00) * ms // ms clock about to wrap
	r.EntryStamp = MsClock(start)
	if CanReuse(r, start+999*ms, 1, 1000, false, false) || !CanReuse(r, start+1001*ms, 1, 1000, false, false) {
		t.Fatal("delay across the 32-bit ms wrap")
	}
}

// TestTWReuseLegacy: TW-REUSE-6, VER-6: [4.11] boolean sysctl, "last TSval more
// than 1 s ago" in whole seconds, no substate or loopback rule.
func TestTWReuseLegacy(t *testing.T) {
	r := newRec(SubstateFinWait2, false) // Ts = 100 s
	if CanReuseLegacy(r, t0+1999*ms, true, false) {
		t.Fatal("reused at now_s - Ts = 1")
	}
	if !CanReuseLegacy(r, t0+2*sec, true, false) {
		t.Fatal("not reused at now_s - Ts = 2")
	}
	if CanReuseLegacy(r, t0+50*sec, false, false) || !CanReuseLegacy(r, t0, false, true) {
		t.Fatal("sysctl off / bound port")
	}
	if !CanReuseProfile(Linux411, r, t0+3*sec, 2, 1000, false, false) {
		t.Fatal("4.11 treats any non-zero tcp_tw_reuse as on")
	}
	if CanReuseProfile(Linux618, r, t0+3*sec, 1, 1000, false, false) {
		t.Fatal("6.18 reused a FIN_WAIT2 record")
	}
	r.TSRecentStamp = 0
	if CanReuseLegacy(r, t0+50*sec, true, true) {
		t.Fatal("reused without timestamps")
	}
}

// TestTWReuseState: TW-REUSE-9/10, SCN-37: write_seq = S + 65537 and the
// inherited PAWS state; the displaced record counts TWRecycled.
func TestTWReuseState(t *testing.T) {
	r := newRec(SubstateTimeWait, false)
	ws, tsr, tss := r.ReuseState()
	if ws != tS+65537 || tsr != tT || tss != SecClock(t0) {
		t.Fatalf("reuse state %d %d %d", ws, tsr, tss)
	}
	r.SndNxt = 0xffffffff - 65536
	if ws, _, _ := r.ReuseState(); ws != 1 {
		t.Fatalf("write_seq 0 must become 1, got %d", ws)
	}
	m := metrics.New()
	d := NewDeathRow(Linux618, t0, m)
	d.Schedule(r, 0, t0)
	if !d.Recycle(r) || d.Len() != 0 || m.Get(metrics.TcpExtTWRecycled) != 1 {
		t.Fatal("Recycle")
	}
	if d.Recycle(r) || m.Get(metrics.TcpExtTWRecycled) != 1 {
		t.Fatal("Recycle of a dead record counted")
	}
}

// TestTWReuse12: S + 65537 is always after the peer's rcv_nxt S, so a peer
// in TIME-WAIT admits the new SYN by sequence (TW-REUSE-12, TW-PROC-14).
func TestTWReuse12(t *testing.T) {
	for _, s := range []uint32{0, 1, 0x7fffffff, 0xfffeffff, 0xffffffff} {
		mine := newRec(SubstateTimeWait, true)
		mine.SndNxt = s
		ws, _, _ := mine.ReuseState()
		peer := newRec(SubstateTimeWait, true)
		peer.RcvNxt = s
		syn := Segment{Seq: ws, Flags: FlagSYN}
		cfg := DefaultConfig()
		if v := Process(peer, &syn, t0, &cfg, nil); v.Action != ActionSYN {
			t.Fatalf("S=%#x: peer verdict %v", s, v.Action)
		}
	}
}
