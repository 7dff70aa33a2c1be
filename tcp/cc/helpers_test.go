package cc

import (
	"strings"
	"testing"
)

func TestSlowStart(t *testing.T) {
	tests := []struct {
		name               string
		cwnd, ssth, clamp  uint32
		acked              uint32
		wantCwnd, wantLeft uint32
	}{
		{"doubling-step", 10, inf, 0, 2, 12, 0},
		{"stretch-ack-counts-in-full", 10, inf, 0, 10, 20, 0},
		{"stops-at-ssthresh", 6, 7, 0, 3, 7, 2},
		{"at-ssthresh", 7, 7, 0, 1, 7, 1},
		{"clamped", 10, inf, 11, 5, 11, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Sender{Cwnd: tc.cwnd, SSThresh: tc.ssth, CwndClamp: tc.clamp}
			left := SlowStart(&s, tc.acked)
			if s.Cwnd != tc.wantCwnd || left != tc.wantLeft {
				t.Errorf("cwnd %d left %d, want %d %d", s.Cwnd, left, tc.wantCwnd, tc.wantLeft)
			}
		})
	}
}

func TestCongAvoidAI(t *testing.T) {
	tests := []struct {
		name              string
		cwnd, cnt, clamp  uint32
		w, acked          uint32
		wantCwnd, wantCnt uint32
	}{
		{"accumulate", 10, 0, 0, 10, 1, 10, 1},
		{"one-per-w", 10, 9, 0, 10, 1, 11, 0},
		{"credit-from-larger-w", 10, 12, 0, 10, 1, 11, 1},
		{"stretch-ack", 10, 5, 0, 10, 25, 13, 0},
		{"stretch-ack-remainder", 10, 5, 0, 4, 10, 13, 2}, // credit first: 11, then 10/4
		{"clamped", 10, 9, 10, 10, 1, 10, 0},
		{"w-zero-is-one", 10, 0, 0, 0, 3, 13, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Sender{Cwnd: tc.cwnd, CwndCnt: tc.cnt, CwndClamp: tc.clamp}
			CongAvoidAI(&s, tc.w, tc.acked)
			if s.Cwnd != tc.wantCwnd || s.CwndCnt != tc.wantCnt {
				t.Errorf("cwnd %d cnt %d, want %d %d", s.Cwnd, s.CwndCnt, tc.wantCwnd, tc.wantCnt)
			}
		})
	}
}

func TestCurrentSSThresh(t *testing.T) {
	s := Sender{Cwnd: 40, SSThresh: 20}
	if got := CurrentSSThresh(&s, false); got != 30 {
		t.Errorf("open: %d, want 3/4 cwnd = 30", got)
	}
	if got := CurrentSSThresh(&s, true); got != 20 {
		t.Errorf("in reduction: %d, want ssthresh 20", got)
	}
	s.SSThresh = 35
	if got := CurrentSSThresh(&s, false); got != 35 {
		t.Errorf("open, high ssthresh: %d, want 35", got)
	}
}

// Reno: slow start doubles per round, congestion avoidance adds one
// segment per cwnd of segments ACKed, loss halves (at least 2), undo
// restores the window before the reduction.
func TestReno(t *testing.T) {
	r := NewReno()
	s := Sender{Cwnd: 10, SSThresh: inf, CwndClamp: ^uint32(0), CwndLimited: true}
	r.Init(&s, 0)
	for i := 0; i < 10; i++ {
		r.CongAvoid(&s, 0, 1, 0)
	}
	if s.Cwnd != 20 {
		t.Fatalf("slow start: cwnd %d after a round of 10 ACKs, want 20", s.Cwnd)
	}
	s.SSThresh = 20
	for round, want := range []uint32{21, 22, 23} {
		for i := uint32(0); i < s.Cwnd; i++ {
			r.CongAvoid(&s, 0, 1, 0)
		}
		if s.Cwnd != want {
			t.Fatalf("CA round %d: cwnd %d, want %d", round, s.Cwnd, want)
		}
	}
	s.CwndLimited = false
	r.CongAvoid(&s, 0, 100, 0)
	if s.Cwnd != 23 {
		t.Fatalf("grew while not cwnd-limited: %d", s.Cwnd)
	}
	for _, tc := range []struct{ cwnd, want uint32 }{{23, 11}, {10, 5}, {5, 2}, {3, 2}, {1, 2}} {
		s.Cwnd = tc.cwnd
		if got := r.SSThresh(&s); got != tc.want {
			t.Errorf("ssthresh(cwnd %d) = %d, want %d", tc.cwnd, got, tc.want)
		}
	}
	s.Cwnd, s.PriorCwnd = 11, 23
	if got := r.UndoCwnd(&s); got != 23 {
		t.Errorf("undo %d, want 23", got)
	}
	// Leaving slow start mid-ACK: the leftover goes to additive increase.
	s = Sender{Cwnd: 9, SSThresh: 10, CwndLimited: true}
	r.CongAvoid(&s, 0, 3, 0)
	if s.Cwnd != 10 || s.CwndCnt != 2 {
		t.Errorf("cwnd %d cnt %d, want 10 2", s.Cwnd, s.CwndCnt)
	}
	r.SetState(&s, Loss, 0)
	r.CwndEvent(&s, TxStart, 0)
	r.PktsAcked(&s, 1, 5, 0)
	if s.Cwnd != 10 || s.CwndCnt != 2 {
		t.Error("no-op hooks changed the sender")
	}
}

func TestNew(t *testing.T) {
	for name, want := range map[string]string{"": "cubic", "cubic": "cubic", "reno": "reno"} {
		alg, err := New(name)
		if err != nil || alg.Name() != want {
			t.Errorf("New(%q) = %v, %v; want %s", name, alg, err, want)
		}
	}
	_, err := New("bbr")
	if err == nil || !strings.Contains(err.Error(), `"bbr"`) || !strings.Contains(err.Error(), "cubic, reno") {
		t.Errorf("New(bbr) error %v, want one naming it and the known names", err)
	}
	if n := Names(); len(n) != 2 || n[0] != "cubic" {
		t.Errorf("Names() = %v", n)
	}
	a, _ := New("cubic")
	b, _ := New("cubic")
	if a == b {
		t.Error("New returned a shared instance")
	}
	if Loss.String() != "Loss" || CAState(9).String() == "" {
		t.Error("CAState.String")
	}
}

// The per-ACK hooks must not allocate: they run on the hot path.
func TestNoAllocsPerACK(t *testing.T) {
	for _, name := range Names() {
		alg, _ := New(name)
		s := Sender{Cwnd: 10, SSThresh: inf, CwndClamp: ^uint32(0), CwndLimited: true, SndNxt: 1}
		alg.Init(&s, 0)
		now := ms(1000)
		allocs := testing.AllocsPerRun(1000, func() {
			now += ms(1)
			s.SndUna += 1000
			s.SndNxt += 2000
			alg.PktsAcked(&s, 1, 50000, now)
			alg.CongAvoid(&s, s.SndUna, 1, now)
			if s.Cwnd > 500 { // keep going through slow start, HyStart and CA
				s.SSThresh = alg.SSThresh(&s)
				s.Cwnd = s.SSThresh
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per ACK", name, allocs)
		}
	}
}
