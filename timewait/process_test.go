package timewait

import (
	"testing"

	"github.com/ustack/ustack/metrics"
)

const (
	ms  = int64(1e6)
	sec = int64(1e9)

	tR = 1000      // R
	tS = 5000      // S
	tW = 65536     // W
	tT = 7000      // T: the peer's TSval of its FIN
	t0 = 100 * sec // record creation time on the virtual clock
)

var testTuple = Tuple{LocalAddr: [4]byte{10, 0, 0, 1}, RemoteAddr: [4]byte{10, 0, 0, 2}, LocalPort: 80, RemotePort: 1234}

// newRec returns a record made at t0, with timestamps (T = tT, Ts = t0 in
// seconds) unless noTS.
func newRec(sub Substate, noTS bool) *Record {
	var T uint32
	var Ts int32
	if !noTS {
		T, Ts = tT, SecClock(t0)
	}
	r := new(Record)
	r.Init(testTuple, sub, tR, tS, tW, 7, T, Ts, 12345, 200*ms, 0, t0)
	return r
}

// procCase is one row of the TW-PROC table: a record, a segment, the
// configuration, and what must come out.
type procCase struct {
	name    string
	sub     Substate
	noTS    bool
	tsZero  bool   // record with Ts set but T = 0 (PAWS-5)
	sndNxt  uint32 // overrides S when non-zero
	lastOOW int64  // if > 0: an OOW ACK was sent this long before now
	cfg     func(*Config)
	at      int64 // now - t0; default 500 ms
	seg     Segment

	want    Verdict
	wantSub Substate // 0: unchanged
	wantR   uint32   // 0: unchanged
	wantT   uint32   // 0: unchanged
	wantTs  int32    // 0: unchanged
	counts  map[metrics.ID]uint64
}

func ts(v uint32) Segment { return Segment{HasOptions: true, HasTS: true, TSVal: v, TSEcr: 1} }

func seg(flags uint8, seq uint32, plen int, s Segment) Segment {
	s.Flags, s.Seq, s.PayloadLen, s.Ack = flags, seq, plen, tS
	return s
}

var (
	ack     = Verdict{Action: ActionACK, OOW: true}
	ackRe   = Verdict{Action: ActionACK, OOW: true, Rearm: true, RearmTimeout: TimeWaitLen}
	rearm   = Verdict{Rearm: true, RearmTimeout: TimeWaitLen}
	kill    = Verdict{Kill: true}
	rstKill = Verdict{Action: ActionRST, Kill: true}
	none    = Verdict{}
	noSeg   = Segment{}
	p411    = func(c *Config) { c.Profile = Linux411 }
	p310    = func(c *Config) { c.Profile = Linux310 }
	rfc1337 = func(c *Config) { c.RFC1337 = true }
	fw2     = SubstateFinWait2
	tw      = SubstateTimeWait
	A       = uint8(FlagACK)
	F       = uint8(FlagFIN)
	S       = uint8(FlagSYN)
	R       = uint8(FlagRST)
	skipTW  = metrics.TcpExtTCPACKSkippedTimeWait
	skipFW2 = metrics.TcpExtTCPACKSkippedFinWait2
	pawsTW  = metrics.TcpExtPAWSTimewait
	pawsEst = metrics.TcpExtPAWSEstab
)

var procCases = []procCase{
	// Substate FIN_WAIT2 (FW2-11: segments at a FIN_WAIT2-substate record
	// follow TW-PROC-4 ... TW-PROC-9).
	{name: "TW-PROC-4_out_of_window_ack", sub: fw2, seg: seg(A, tR+tW+100, 0, noSeg), want: ack},
	// CONST-10: tcp_invalid_ratelimit 500 ms: suppressed 100 ms after the
	// last OOW ACK, answered again 500 ms after it.
	{name: "TW-PROC-4_out_of_window_rate_limited", sub: fw2, lastOOW: 100 * ms, seg: seg(A, tR+tW+100, 0, noSeg), want: none,
		counts: map[metrics.ID]uint64{skipFW2: 1}},
	{name: "TW-PROC-4_rate_limit_over_after_500ms", sub: fw2, lastOOW: 500 * ms, seg: seg(A, tR+tW+100, 0, noSeg), want: ack},
	{name: "TW-PROC-4_out_of_window_data_never_limited", sub: fw2, lastOOW: 1 * ms, seg: seg(A, tR+tW+100, 10, noSeg), want: ack},
	{name: "TW-PROC-4_paws_reject_in_window", sub: fw2, seg: seg(A, tR, 0, ts(tT-5)), want: ack,
		counts: map[metrics.ID]uint64{pawsTW: 0}},
	{name: "TW-PROC-4_rst_out_of_window_gets_ack", sub: fw2, seg: seg(R, tR+tW+1000, 0, noSeg), want: ack},
	{name: "TW-PROC-4_old_syn_below_window", sub: fw2, seg: seg(S, tR-1, 0, noSeg), want: ack},
	{name: "TW-PROC-4_3.10_never_limited", sub: fw2, cfg: p310, lastOOW: 1 * ms, seg: seg(A, tR+tW+100, 0, noSeg),
		want: Verdict{Action: ActionACK}},
	{name: "TW-PROC-5_in_window_rst_kills", sub: fw2, seg: seg(R, tR+10, 0, noSeg), want: kill},
	{name: "TW-PROC-5_in_window_rst_kills_despite_rfc1337", sub: fw2, cfg: rfc1337, seg: seg(R|A, tR, 0, noSeg), want: kill},
	{name: "TW-PROC-6_syn_in_window_resets", sub: fw2, seg: seg(S, tR+5000, 0, noSeg), want: rstKill},
	{name: "TW-PROC-6_syn_at_R_resets", sub: fw2, seg: seg(S|A, tR, 0, noSeg), want: rstKill},
	{name: "TW-PROC-7_bare_ack_ignored", sub: fw2, seg: seg(A, tR, 0, noSeg), want: none},
	{name: "TW-PROC-7_no_ack_flag_ignored", sub: fw2, seg: seg(0, tR, 100, noSeg), want: none},
	{name: "TW-PROC-7_fin_without_ack_ignored", sub: fw2, seg: seg(F, tR, 0, noSeg), want: none},
	{name: "TW-PROC-7_zero_length_at_right_edge", sub: fw2, seg: seg(A, tR+tW, 0, noSeg), want: none},
	{name: "TW-PROC-8_data_resets", sub: fw2, seg: seg(A, tR, 100, noSeg), want: rstKill},
	{name: "TW-PROC-8_data_with_fin_resets", sub: fw2, seg: seg(A|F, tR, 10, noSeg), want: rstKill},
	{name: "TW-PROC-8_misplaced_fin_resets", sub: fw2, seg: seg(A|F, tR+10, 0, noSeg), want: rstKill},
	{name: "TW-PROC-9_fin_in_fin_wait2", sub: fw2, seg: seg(A|F, tR, 0, ts(tT+10)),
		want:    Verdict{Action: ActionACK, Rearm: true, RearmTimeout: TimeWaitLen},
		wantSub: tw, wantR: tR + 1, wantT: tT + 10, wantTs: SecClock(t0 + 500*ms)},
	{name: "TW-PROC-9_fin_without_ts_keeps_T", sub: fw2, seg: seg(A|F, tR, 0, noSeg),
		want:    Verdict{Action: ActionACK, Rearm: true, RearmTimeout: TimeWaitLen},
		wantSub: tw, wantR: tR + 1},
	{name: "TW-PROC-9_fin_never_rate_limited", sub: fw2, lastOOW: 1 * ms, seg: seg(A|F, tR, 0, noSeg),
		want: Verdict{Action: ActionACK, Rearm: true, RearmTimeout: TimeWaitLen}, wantSub: tw, wantR: tR + 1},

	// Substate TIME_WAIT.
	{name: "TW-PROC-11_exact_rst_kills", sub: tw, seg: seg(R, tR, 0, noSeg), want: kill},
	{name: "TW-PROC-11_exact_rst_ack_kills", sub: tw, seg: seg(R|A, tR, 0, ts(tT+1)), want: kill},
	// VER-2: the RST ignored under rfc1337 re-arms in 4.11, not in 6.18.
	{name: "TW-PROC-12_rfc1337_rst_ignored_no_rearm", sub: tw, cfg: rfc1337, seg: seg(R, tR, 0, ts(tT+3)), want: none,
		wantT: tT + 3, wantTs: SecClock(t0 + 500*ms)},
	{name: "TW-PROC-12_rfc1337_rst_rearms_in_4.11", sub: tw, cfg: func(c *Config) { c.Profile = Linux411; c.RFC1337 = true },
		seg: seg(R, tR, 0, noSeg), want: rearm},
	{name: "TW-PROC-13_bare_ack_rearms_and_updates_T", sub: tw, seg: seg(A, tR, 0, ts(tT+20)), want: rearm,
		wantT: tT + 20, wantTs: SecClock(t0 + 500*ms)},
	{name: "TW-PROC-13_flagless_segment_rearms", sub: tw, seg: seg(0, tR, 0, noSeg), want: rearm},
	{name: "TW-PROC-13_equal_ts_passes_paws", sub: tw, seg: seg(A, tR, 0, ts(tT)), want: rearm, wantTs: SecClock(t0 + 500*ms)},
	{name: "TW-PROC-14_syn_higher_seq", sub: tw, seg: seg(S, tR+1000, 0, noSeg), want: Verdict{Action: ActionSYN, ISN: tS + 65537}},
	{name: "TW-PROC-14_syn_newer_ts", sub: tw, seg: seg(S, tR-1000, 0, ts(tT+100)), want: Verdict{Action: ActionSYN, ISN: tS + 65537}},
	{name: "TW-PROC-14_syn_fin_not_examined", sub: tw, seg: seg(S|F, tR+1, 0, noSeg), want: Verdict{Action: ActionSYN, ISN: tS + 65537}},
	{name: "TW-PROC-14_isn_zero_becomes_one", sub: tw, sndNxt: 0xffffffff - 65536, seg: seg(S, tR+1, 0, noSeg),
		want: Verdict{Action: ActionSYN, ISN: 1}},
	{name: "TW-PROC-14_syn_equal_ts_not_admitted", sub: tw, seg: seg(S, tR-1000, 0, ts(tT)), want: ack},
	{name: "TW-PROC-14_syn_at_R_not_admitted", sub: tw, seg: seg(S, tR, 0, noSeg), want: ack},
	{name: "TW-PROC-14_syn_with_ack_not_admitted", sub: tw, seg: seg(S|A, tR+1000, 0, noSeg), want: ackRe},
	{name: "TW-PROC-1_ts_ignored_without_timestamps", sub: tw, noTS: true, seg: seg(S, tR-1000, 0, ts(0x7fffffff)), want: ack},
	{name: "TW-PROC-1_ts_ignored_without_options", sub: tw, seg: seg(S, tR-1000, 0, Segment{HasTS: true, TSVal: tT + 100}), want: ack},
	{name: "TW-PROC-15_paws_syn_acked_and_counted", sub: tw, seg: seg(S, tR-1000, 0, ts(tT-10)), want: ackRe,
		counts: map[metrics.ID]uint64{pawsTW: 1, pawsEst: 0}},
	{name: "TW-PROC-15_paws_counts_PAWSEstab_in_4.11", sub: tw, cfg: p411, seg: seg(A, tR, 0, ts(tT-1)),
		want: Verdict{Action: ActionACK, Rearm: true, RearmTimeout: TimeWaitLen}, counts: map[metrics.ID]uint64{pawsTW: 0, pawsEst: 1}},
	{name: "TW-PROC-15_paws_counts_PAWSEstab_in_3.10", sub: tw, cfg: p310, seg: seg(A, tR, 0, ts(tT-1)),
		want: Verdict{Action: ActionACK, Rearm: true, RearmTimeout: TimeWaitLen}, counts: map[metrics.ID]uint64{pawsEst: 1}},
	{name: "TW-PROC-16_retransmitted_fin", sub: tw, lastOOW: 1 * ms, seg: seg(F|A, tR-1, 0, noSeg), want: ackRe},
	{name: "TW-PROC-16_keepalive_probe", sub: tw, seg: seg(A, tR-1, 0, noSeg), want: ackRe},
	{name: "TW-PROC-16_keepalive_rate_limited_still_rearms", sub: tw, lastOOW: 100 * ms, seg: seg(A, tR-1, 0, noSeg), want: rearm,
		counts: map[metrics.ID]uint64{skipTW: 1}},
	{name: "TW-PROC-16_data_at_R_acked", sub: tw, lastOOW: 1 * ms, seg: seg(A, tR, 100, noSeg), want: ackRe},
	{name: "TW-PROC-16_future_ack", sub: tw, seg: seg(A, tR+100000, 0, noSeg), want: ackRe},
	{name: "TW-PROC-16_synack", sub: tw, seg: seg(S|A, tR+1000, 0, noSeg), want: ackRe},
	{name: "TW-PROC-16_ackless_syn_not_rearmed", sub: tw, seg: seg(S, tR-5, 0, noSeg), want: ack},
	{name: "TW-PROC-16_old_syn_rate_limited", sub: tw, lastOOW: 10 * ms, seg: seg(S, tR-5, 0, noSeg), want: none,
		counts: map[metrics.ID]uint64{skipTW: 1}},
	{name: "TW-PROC-17_rst_wrong_seq_ignored", sub: tw, seg: seg(R, tR+1000, 0, noSeg), want: none},
	{name: "TW-PROC-17_rst_below_R_ignored", sub: tw, seg: seg(R|A, tR-1, 0, noSeg), want: none},
	{name: "TW-PROC-11_rst_with_payload_is_exact", sub: tw, seg: seg(R, tR, 10, noSeg), want: kill},
	{name: "TW-PROC-17_rst_paws_rejected", sub: tw, seg: seg(R, tR, 0, ts(tT-5)), want: none,
		counts: map[metrics.ID]uint64{pawsTW: 1}},
	{name: "TW-PROC-18_limit_disabled", sub: tw, cfg: func(c *Config) { c.InvalidRateLimit = 0 }, lastOOW: 1 * ms,
		seg: seg(A, tR-1, 0, noSeg), want: ackRe},
	// VER-3: OOW ACK rate limiting exists since 4.0; 3.10 ACKs every one.
	{name: "TW-PROC-18_3.10_no_limit", sub: tw, cfg: p310, lastOOW: 1 * ms, seg: seg(A, tR-1, 0, noSeg),
		want: Verdict{Action: ActionACK, Rearm: true, RearmTimeout: TimeWaitLen}},
	{name: "TW-PROC-18_4.11_limit_without_oow_flag", sub: tw, cfg: p411, lastOOW: 1 * ms, seg: seg(A, tR-1, 0, noSeg),
		want: rearm, counts: map[metrics.ID]uint64{skipTW: 1}},
	{name: "TW-PROC-22_second_fin_at_R", sub: tw, lastOOW: 1 * ms, seg: seg(F|A, tR, 0, noSeg), want: ackRe},

	// PAWS rules as used by TIME-WAIT. CONST-4: TCP_PAWS_MSL = 60 s for the
	// RST relaxation. CONST-6, VER-5: ts_recent expires after 2147 s in 6.18,
	// 24 days in 4.11.
	{name: "PAWS-6_rst_accepted_after_paws_msl", sub: tw, at: 61 * sec, seg: seg(R, tR, 0, ts(tT-5)), want: kill},
	{name: "PAWS-6_rst_rejected_before_paws_msl", sub: tw, at: 59 * sec, seg: seg(R, tR, 0, ts(tT-5)), want: none,
		counts: map[metrics.ID]uint64{pawsTW: 1}},
	{name: "PAWS-6_rst_accepted_after_paws_msl_4.11", sub: tw, cfg: p411, at: 60 * sec, seg: seg(R, tR, 0, ts(tT-5)), want: kill},
	{name: "PAWS-4_ts_recent_expires_after_2147s", sub: tw, at: 2147 * sec, seg: seg(A, tR, 0, ts(tT-5)), want: rearm,
		wantT: tT - 5, wantTs: SecClock(t0 + 2147*sec), counts: map[metrics.ID]uint64{pawsTW: 0}},
	{name: "PAWS-4_not_expired_at_2146s", sub: tw, at: 2146 * sec, seg: seg(A, tR, 0, ts(tT-5)), want: ackRe,
		counts: map[metrics.ID]uint64{pawsTW: 1}},
	{name: "PAWS-4_24_days_in_4.11", sub: tw, cfg: p411, at: 2147 * sec, seg: seg(A, tR, 0, ts(tT-5)),
		want: Verdict{Action: ActionACK, Rearm: true, RearmTimeout: TimeWaitLen}, counts: map[metrics.ID]uint64{pawsEst: 1}},
	{name: "PAWS-4_24_days_expired_in_4.11", sub: tw, cfg: p411, at: 24 * 24 * 3600 * sec, seg: seg(A, tR, 0, ts(tT-5)), want: rearm,
		wantT: tT - 5, wantTs: SecClock(t0 + 24*24*3600*sec), counts: map[metrics.ID]uint64{pawsEst: 0}},
	{name: "PAWS-5_ts_recent_zero_passes", sub: tw, tsZero: true, seg: seg(A, tR, 0, ts(0x80000000)), want: rearm,
		wantT: 0x80000000, wantTs: SecClock(t0 + 500*ms)},
	{name: "PAWS-9_tolerance_zero", sub: tw, seg: seg(A, tR, 0, ts(tT-1)), want: ackRe, counts: map[metrics.ID]uint64{pawsTW: 1}},
}

func TestTWProc(t *testing.T) {
	for _, c := range procCases {
		t.Run(c.name, func(t *testing.T) {
			r := newRec(c.sub, c.noTS)
			if c.tsZero {
				r.TSRecent = 0
			}
			if c.sndNxt != 0 {
				r.SndNxt = c.sndNxt
			}
			at := c.at
			if at == 0 {
				at = 500 * ms
			}
			now := t0 + at
			if c.lastOOW > 0 {
				r.LastOOWAckTime = MsClock(now - c.lastOOW)
			}
			cfg := DefaultConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			m := metrics.New()
			before := *r
			s := c.seg
			got := Process(r, &s, now, &cfg, m)
			if got != c.want {
				t.Fatalf("verdict %+v, want %+v", got, c.want)
			}
			check := func(what string, got, unchanged, want uint64) {
				t.Helper()
				if want == 0 {
					want = unchanged
				}
				if got != want {
					t.Errorf("%s = %d, want %d", what, got, want)
				}
			}
			check("substate", uint64(r.Substate), uint64(before.Substate), uint64(c.wantSub))
			check("R", uint64(r.RcvNxt), uint64(before.RcvNxt), uint64(c.wantR))
			check("T", uint64(r.TSRecent), uint64(before.TSRecent), uint64(c.wantT))
			check("Ts", uint64(r.TSRecentStamp), uint64(before.TSRecentStamp), uint64(c.wantTs))
			if r.SndNxt != before.SndNxt || r.RcvWnd != before.RcvWnd || r.Tuple != before.Tuple {
				t.Error("Process changed S, W or the tuple")
			}
			// The OOW timestamp moves exactly when an OOW ACK without
			// sequence space is sent under a limiting profile.
			if got.OOW || (got.Action == ActionACK && cfg.Profile == Linux411) {
				if s.EndSeq() == s.Seq || s.Flags&FlagSYN != 0 {
					if r.LastOOWAckTime != MsClock(now) {
						t.Errorf("LastOOWAckTime = %d, want %d", r.LastOOWAckTime, MsClock(now))
					}
				}
			} else if r.LastOOWAckTime != before.LastOOWAckTime {
				t.Errorf("LastOOWAckTime moved without an OOW ACK")
			}
			for id, want := range c.counts {
				if g := m.Get(id); g != want {
					t.Errorf("%v = %d, want %d", id, g, want)
				}
			}
			for _, id := range []metrics.ID{skipTW, skipFW2, pawsTW, pawsEst} {
				if _, listed := c.counts[id]; !listed && m.Get(id) != 0 {
					t.Errorf("unexpected %v = %d", id, m.Get(id))
				}
			}
		})
	}
}

// TestTWProc9EntryStamp: [6.18] a FIN with TS refreshes the entry stamp used
// by tcp_tw_reuse_delay (TW-REUSE-5); 4.11 has no entry stamp.
func TestTWProc9EntryStamp(t *testing.T) {
	for _, p := range []Profile{Linux618, Linux411} {
		r := newRec(SubstateFinWait2, false)
		cfg := DefaultConfig()
		cfg.Profile = p
		s := seg(A|F, tR, 0, ts(tT+1))
		now := t0 + 10*sec
		Process(r, &s, now, &cfg, nil)
		want := MsClock(t0)
		if p == Linux618 {
			want = MsClock(now)
		}
		if r.EntryStamp != want {
			t.Errorf("%v: EntryStamp %d, want %d", p, r.EntryStamp, want)
		}
	}
}

func TestProcessDoesNotAllocate(t *testing.T) {
	r := newRec(SubstateTimeWait, false)
	cfg := DefaultConfig()
	m := metrics.New()
	s := seg(A, tR-1, 0, ts(tT+1))
	now := t0
	if n := testing.AllocsPerRun(1000, func() {
		now += 10 * ms
		Process(r, &s, now, &cfg, m)
	}); n != 0 {
		t.Fatalf("%v allocs per Process", n)
	}
}

// TestTWResp1 checks the fields the TW ACK is built from (SCN-48).
func TestTWResp1(t *testing.T) {
	r := newRec(SubstateTimeWait, false)
	if r.Window() != 512 {
		t.Errorf("window %d, want 65536>>7 = 512", r.Window())
	}
	if !r.HasTS() || r.TSVal(t0+1500*ms) != MsClock(t0+1500*ms)+12345 {
		t.Errorf("TS option: has %v val %d", r.HasTS(), r.TSVal(t0+1500*ms))
	}
	r.TSRecent = 0
	if r.HasTS() {
		t.Error("TS option with T = 0")
	}
	r.RcvWnd, r.RcvWScale = 1<<30, 0
	if r.Window() != 0xffff {
		t.Errorf("unscaled huge window %d", r.Window())
	}
}

// FuzzProcess: any segment on any record yields a consistent verdict and
// never panics.
func FuzzProcess(f *testing.F) {
	f.Add(uint8(5), uint32(tR), uint8(A|F), 0, true, uint32(tT+1), int64(0))
	f.Add(uint8(6), uint32(tR+9), uint8(S), 3, false, uint32(0), int64(70*sec))
	f.Add(uint8(6), uint32(tR), uint8(R), 0, true, uint32(tT-9), int64(10))
	f.Fuzz(func(t *testing.T, sub uint8, seq uint32, flags uint8, plen int, hasTS bool, tsval uint32, dt int64) {
		if plen < 0 || plen > 65535 || dt < 0 || dt > 1<<50 {
			return
		}
		r := newRec(SubstateTimeWait, false)
		if sub&1 != 0 {
			r.Substate = SubstateFinWait2
		}
		s := Segment{Seq: seq, Ack: tS, Flags: flags, PayloadLen: plen, HasOptions: hasTS, HasTS: hasTS, TSVal: tsval}
		for _, p := range []Profile{Linux618, Linux411, Linux310} {
			cfg := DefaultConfig()
			cfg.Profile = p
			rr := *r
			v := Process(&rr, &s, t0+dt, &cfg, nil)
			if v.Action == ActionRST && (!v.Kill || r.Substate != SubstateFinWait2) {
				t.Fatalf("RST verdict %+v outside FIN_WAIT2 or without kill (TW-PROC-23)", v)
			}
			if v.Action == ActionSYN && r.Substate != SubstateTimeWait {
				t.Fatalf("SYN verdict in FIN_WAIT2 (TW-PROC-23)")
			}
			if v.Kill && v.Rearm {
				t.Fatal("kill and rearm")
			}
		}
	})
}
