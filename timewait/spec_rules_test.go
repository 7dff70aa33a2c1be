package timewait

import (
	"testing"

	"github.com/ustack/ustack/metrics"
)

// TestTWProc2_TSEcrIgnored: TW-PROC-2: TSecr takes part in no decision in
// TIME-WAIT: the same segment with any TSecr gives the same verdict and
// leaves the record in the same state.
func TestTWProc2_TSEcrIgnored(t *testing.T) {
	segs := []Segment{
		seg(A, tR, 0, ts(tT+1)),          // bare ACK at R
		seg(A|F, tR-1, 0, ts(tT+1)),      // retransmitted FIN
		seg(S, tR+1000, 0, ts(tT+1)),     // new SYN
		seg(R, tR, 0, ts(tT+1)),          // exact RST
		seg(A, tR, 0, ts(tT-5)),          // PAWS failure
		seg(A, tR+tW+100, 10, ts(tT+1)),  // out-of-window data
		seg(A|F, tR, 0, ts(tT+1)),        // FIN in FIN_WAIT2
		seg(S|A, tR+1000, 0, ts(tT+100)), // SYN-ACK
	}
	for _, sub := range []Substate{SubstateTimeWait, SubstateFinWait2} {
		for i, base := range segs {
			var first Verdict
			var firstRec Record
			for j, ecr := range []uint32{0, 1, 12345, 0x80000000, 0xffffffff} {
				r := newRec(sub, false)
				s := base
				s.TSEcr = ecr
				cfg := DefaultConfig()
				v := Process(r, &s, t0+500*ms, &cfg, metrics.New())
				if j == 0 {
					first, firstRec = v, *r
					continue
				}
				if v != first || *r != firstRec {
					t.Errorf("%v seg %d: TSecr %#x changed the outcome: %+v vs %+v", sub, i, ecr, v, first)
				}
			}
		}
	}
}

// TestVER11_BucketLimitPerDeathRow: VER-11: tcp_max_tw_buckets is per
// network namespace (one DeathRow per stack): a full death row does not
// refuse records of another.
func TestVER11_BucketLimitPerDeathRow(t *testing.T) {
	m1, m2 := metrics.New(), metrics.New()
	a, b := NewDeathRow(Linux618, t0, m1), NewDeathRow(Linux618, t0, m2)
	a.SetMaxBuckets(1)
	b.SetMaxBuckets(1)
	if !a.Admit(t0) {
		t.Fatal("first record refused")
	}
	a.Schedule(newRec(SubstateTimeWait, false), 0, t0)
	if a.Admit(t0) {
		t.Fatal("a admitted beyond its limit")
	}
	if !b.Admit(t0) {
		t.Fatal("b refused because a is full")
	}
	if m1.Get(metrics.TcpExtTCPTimeWaitOverflow) != 1 || m2.Get(metrics.TcpExtTCPTimeWaitOverflow) != 0 {
		t.Fatal("overflow counted in the wrong namespace")
	}
}

// TestSYSCTL13_RecycleDefaultOff: SYSCTL-13, RECYCLE-1: tcp_tw_recycle
// defaults to 0, so even the 4.11 profile keeps full 60 s TIME-WAITs
// unless it is turned on (TestProfile411Recycle shows the "on" case and
// that 6.18 ignores it).
func TestSYSCTL13_RecycleDefaultOff(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.TWRecycle {
		t.Fatal("tcp_tw_recycle on by default")
	}
	cfg.Profile, cfg.Peers = Linux411, NewPeerCache(16)
	r := newRec(SubstateTimeWait, false)
	EnterRecycle(r, &cfg, t0)
	if r.Flags&FlagRecycleOK != 0 || NewDeathRow(Linux411, t0, nil).Schedule(r, 0, t0) != TimeWaitLen {
		t.Fatal("recycled with tcp_tw_recycle = 0")
	}
}
