package cc

import "testing"

// step is one line pair of a packetdrill script: an ACK after a delay, and
// the cwnd/ssthresh it asserts (0: not asserted).
type step struct {
	after    float64 // ms since the previous step
	ackPkts  int     // cumulative ACK, in packets (ack 1+1000*n)
	cwnd     uint32
	ssthresh uint32
}

func (f *flow) run(now int64, steps []step) int64 {
	f.t.Helper()
	for i, st := range steps {
		now += ms(st.after)
		f.ack(st.ackPkts, now)
		if st.cwnd != 0 && f.s.Cwnd != st.cwnd {
			f.t.Errorf("step %d (ack %d): cwnd %d, want %d", i, f.seq(st.ackPkts), f.s.Cwnd, st.cwnd)
		}
		if st.ssthresh != 0 && f.s.SSThresh != st.ssthresh {
			f.t.Errorf("step %d (ack %d): ssthresh %d, want %d", i, f.seq(st.ackPkts), f.s.SSThresh, st.ssthresh)
		}
	}
	return now
}

const inf = InfiniteSSThresh

// cubic/cubic-hystart-delay-rtt-jumps-upward.pkt: a min RTT of 200 ms, then
// a round whose every sample is >= 240 ms. At the 9th sample of the round
// (more than HYSTART_MIN_SAMPLES) HyStart's delay detector exits slow start:
// 240 ms > 200 ms + clamp(200 ms/8, 4 ms, 16 ms).
func TestHyStartDelayExitOnRTTIncrease(t *testing.T) {
	c := mustCubic(t, 1000)
	t0 := ms(1000)
	f := newFlow(t, c, 10, t0)
	f.updatePacingRate()
	f.write(30, t0)
	now := f.run(t0, []step{{200, 10, 20, inf}})
	if len(f.sent) != 30 {
		t.Fatalf("sent %d packets, want 30", len(f.sent))
	}
	f.run(now, []step{
		{240, 12, 22, inf},
		{1, 14, 24, inf},
		{1, 16, 26, inf},
		{1, 18, 28, inf},
		{1, 20, 30, inf},
		{1, 22, 32, inf},
		{1, 24, 34, inf},
		{1, 26, 36, inf},
		{1, 28, 36, 36}, // 9th sample: exit, ssthresh = cwnd
		{1, 30, 36, 36},
	})
	if e, w := c.TakeHyStartExit(); e != HyStartDelay || w != 36 {
		t.Errorf("HyStart exit %v at %d, want delay at 36", e, w)
	}
	if e, _ := c.TakeHyStartExit(); e != HyStartNone {
		t.Errorf("second TakeHyStartExit: %v, want none", e)
	}
}

// cubic/cubic-hystart-delay-min-rtt-jumps-downward.pkt: samples creeping up
// from 200 ms, then a 29 ms one as the 10th. The new minimum must enter
// both delay_min and the round's curr_rtt before the comparison, so no
// spurious exit (Linux commit b344579ca847).
func TestHyStartNoExitWhenMinRTTDrops(t *testing.T) {
	c := mustCubic(t, 1000)
	t0 := ms(1000)
	f := newFlow(t, c, 10, t0)
	f.updatePacingRate()
	f.write(28, t0)
	now := f.run(t0, []step{{200, 10, 20, inf}})
	now += ms(180)
	f.write(2, now)
	if len(f.sent) != 30 {
		t.Fatalf("sent %d packets, want 30", len(f.sent))
	}
	f.run(now, []step{
		{20, 12, 22, inf},
		{1, 14, 24, inf},
		{1, 16, 26, inf},
		{1, 18, 28, inf},
		{1, 20, 30, inf},
		{1, 22, 32, inf},
		{1, 24, 34, inf},
		{1, 26, 36, inf},
		{1, 28, 38, inf},
		{1, 30, 40, inf},
	})
	if c.delayMin != 29000 {
		t.Errorf("delay_min %d µs, want 29000", c.delayMin)
	}
}

// The ACK-train detector: ACKs no more than hystart_ack_delta_us apart that
// keep coming for more than delay_min/2 after the round began mean the
// pipe is full (here without pacing, so the threshold is halved).
func TestHyStartACKTrainExit(t *testing.T) {
	cfg := DefaultCubicConfig()
	cfg.HyStartDetect = HyStartACKTrain
	c, _ := NewCubic(cfg)
	t0 := ms(1000)
	f := newFlow(t, c, 16, t0)
	f.write(1000, t0)
	// One packet ACKed every 1 ms, 10 ms after it was sent: delay_min is
	// 10 ms, so the train must last more than 5 ms (plus no cushion: no
	// pacing rate).
	now := t0
	var exitAt uint32
	for k := 1; k <= 40 && exitAt == 0; k++ {
		now += ms(1)
		if k < 10 {
			continue
		}
		f.ack(k-9, now)
		if f.s.SSThresh != inf {
			exitAt = uint32(k - 9)
		}
	}
	// The first ACK (packet 1 of 16) starts the round: round_start there.
	// ACK n arrives n-1 ms later; n-1 ms > 5 ms first holds at n = 7.
	if exitAt != 7 {
		t.Fatalf("ACK train exit after ACK %d, want 7", exitAt)
	}
	if e, w := c.TakeHyStartExit(); e != HyStartTrain || w != 22 {
		t.Errorf("HyStart exit %v at %d, want train at 22", e, w)
	}
}

// HyStart leaves cwnd below hystart_low_window alone, and is off once found
// until an RTO resets it.
func TestHyStartLowWindowAndReset(t *testing.T) {
	c := mustCubic(t, 1000)
	s := Sender{Cwnd: 15, SSThresh: inf, SndNxt: 1, SndUna: 1}
	c.Init(&s, ms(1000))
	s.SndNxt = 1_000_000 // one long round once the first ACK starts it
	s.SndUna += 1000
	c.PktsAcked(&s, 1, 10000, ms(1010))
	for i := 0; i < 20; i++ {
		s.SndUna += 1000
		c.PktsAcked(&s, 1, 100000, ms(1011+float64(i)))
	}
	if s.SSThresh != inf {
		t.Fatalf("cwnd 15 < low window: ssthresh %d, want infinite", s.SSThresh)
	}
	s.Cwnd = 16
	for i := 0; i < 9; i++ {
		s.SndUna += 1000
		c.PktsAcked(&s, 1, 100000, ms(1040+float64(i)))
	}
	if s.SSThresh != 16 {
		t.Fatalf("ssthresh %d, want 16 after 9 high samples", s.SSThresh)
	}
	s.SSThresh = inf
	c.PktsAcked(&s, 1, 100000, ms(1050))
	if s.SSThresh != inf {
		t.Fatal("HyStart ran again after it had found its exit")
	}
	c.SetState(&s, Loss, ms(1100))
	if c.found || c.delayMin != 0 || c.currRTT != ^uint32(0) || c.endSeq != s.SndNxt {
		t.Fatalf("SetState(Loss) did not reset: found %v delay_min %d curr_rtt %d", c.found, c.delayMin, c.currRTT)
	}
}

// A negative rttUs (no sample) and samples in the first second of an epoch
// are ignored; 0 counts as 1 µs.
func TestCubicPktsAckedSampling(t *testing.T) {
	c := mustCubic(t, 1000)
	s := Sender{Cwnd: 10, SSThresh: inf}
	c.Init(&s, 0)
	c.PktsAcked(&s, 1, -1, ms(5000))
	if c.delayMin != 0 {
		t.Fatalf("rttUs -1 changed delay_min to %d", c.delayMin)
	}
	c.PktsAcked(&s, 1, 0, ms(5000))
	if c.delayMin != 1 {
		t.Fatalf("rttUs 0: delay_min %d, want 1", c.delayMin)
	}
	c.epochStart = c.jiffies(ms(6000))
	c.PktsAcked(&s, 1, 0, ms(6999))
	c.delayMin = 500
	c.PktsAcked(&s, 1, 100, ms(6999))
	if c.delayMin != 500 {
		t.Fatalf("sample 999 ms into the epoch was used")
	}
	c.PktsAcked(&s, 1, 100, ms(7000))
	if c.delayMin != 100 {
		t.Fatalf("sample 1 s into the epoch ignored: delay_min %d", c.delayMin)
	}
}
