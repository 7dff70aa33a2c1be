package cc

import "testing"

// The slow_start/*.pkt scripts, for both algorithms: how cwnd grows per
// ACK depends on how many segments each ACK covers and on whether the
// flow was cwnd-limited (tcp_is_cwnd_limited: in slow start, cwnd may grow
// to twice the most ever in flight).
func TestPacketdrillSlowStart(t *testing.T) {
	tests := []struct {
		name  string
		write int // packets written before the first ACK
		steps []step
	}{
		{"slow-start-ack-per-1pkt", 30, []step{
			{105, 1, 11, 0}, {0, 2, 12, 0}, {5, 3, 13, 0}, {0, 4, 14, 0}, {5, 5, 15, 0},
			{0, 6, 16, 0}, {5, 7, 17, 0}, {0, 8, 18, 0}, {5, 9, 19, 0}, {0, 10, 20, 0},
		}},
		{"slow-start-ack-per-2pkt", 30, []step{
			{105, 2, 12, 0}, {5, 4, 14, 0}, {5, 6, 16, 0}, {5, 8, 18, 0}, {5, 10, 20, 0},
		}},
		{"slow-start-ack-per-4pkt", 30, []step{
			{110, 4, 14, 0}, {10, 8, 18, 0}, {5, 10, 20, 0},
		}},
		{"slow-start-app-limited", 10, []step{
			{105, 2, 12, 0}, {5, 4, 14, 0}, {5, 6, 16, 0}, {5, 8, 18, 0}, {5, 10, 20, 0},
		}},
		{"slow-start-app-limited-9-packets-out", 9, []step{
			{105, 2, 12, 0}, {5, 4, 14, 0}, {5, 6, 16, 0}, {5, 8, 18, 0}, {5, 9, 18, 0},
		}},
		{"slow-start-ack-per-2pkt-send-5pkt", 5, []step{
			{0, 2, 10, 0}, {0, 4, 10, 0}, {0, 5, 10, 0},
		}},
		{"slow-start-ack-per-2pkt-send-6pkt", 6, []step{
			{0, 2, 12, 0}, {0, 4, 12, 0}, {0, 6, 12, 0},
		}},
	}
	for _, name := range Names() {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				alg, err := New(name)
				if err != nil {
					t.Fatal(err)
				}
				t0 := ms(200)
				f := newFlow(t, alg, 10, t0)
				f.updatePacingRate()
				f.write(tc.write, t0)
				f.run(t0, tc.steps)
				if f.s.SSThresh != inf {
					t.Errorf("ssthresh %d: slow start ended", f.s.SSThresh)
				}
			})
		}
	}
}

// slow_start/slow-start-after-idle.pkt's restart: cwnd 36 after 2 s idle
// with an RTO well below that halves down to, but not under, the initial
// window.
func TestRestartCwnd(t *testing.T) {
	tests := []struct {
		name        string
		cwnd, init  uint32
		idle, rto   int64
		wantCwnd    uint32
		ssth, wantS uint32
	}{
		{"halve-to-init", 36, 10, ms(2000), ms(300), 10, inf, inf},
		{"one-rto-one-halving", 36, 10, ms(500), ms(300), 18, 20, 27}, // ssthresh raised to 3/4 cwnd
		{"short-idle", 36, 10, ms(200), ms(300), 36, 10, 27},
		{"cwnd-below-init", 4, 10, ms(5000), ms(300), 4, 2, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Sender{Cwnd: tc.cwnd, SSThresh: tc.ssth}
			RestartCwnd(NewReno(), &s, tc.init, tc.idle, tc.rto, false, 0)
			if s.Cwnd != tc.wantCwnd || s.SSThresh != tc.wantS {
				t.Errorf("cwnd %d ssthresh %d, want %d %d", s.Cwnd, s.SSThresh, tc.wantCwnd, tc.wantS)
			}
		})
	}
}
