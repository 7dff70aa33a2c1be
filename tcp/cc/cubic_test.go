package cc

import "testing"

// ssthresh on loss: cwnd*717/1024 (at least 2), and W_max with fast
// convergence: a loss below the previous W_max remembers only
// cwnd*(1024+717)/2048 of it, yielding bandwidth to newer flows.
func TestCubicSSThreshAndFastConvergence(t *testing.T) {
	tests := []struct {
		name             string
		fastConv         bool
		lastMax, cwnd    uint32
		wantSS, wantWMax uint32
	}{
		{"first-loss", true, 0, 100, 70, 100},        // 71700/1024 = 70.02
		{"loss-above-wmax", true, 100, 120, 84, 120}, // 86040/1024 = 84.02
		{"fast-convergence", true, 100, 80, 56, 68},  // 57360/1024 = 56.02; 139280/2048 = 68.01
		{"no-fast-convergence", false, 100, 80, 56, 80},
		{"tiny-3", true, 0, 3, 2, 3}, // 2151/1024 = 2
		{"tiny-2", true, 0, 2, 2, 2}, // 1434/1024 = 1 -> floor 2
		{"tiny-1", true, 0, 1, 2, 1},
		{"big", true, 0, 1_000_000, 700195, 1_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultCubicConfig()
			cfg.FastConvergence = tc.fastConv
			c, _ := NewCubic(cfg)
			c.lastMaxCwnd = tc.lastMax
			c.epochStart = 12345
			s := Sender{Cwnd: tc.cwnd}
			if got := c.SSThresh(&s); got != tc.wantSS {
				t.Errorf("ssthresh %d, want %d", got, tc.wantSS)
			}
			if c.lastMaxCwnd != tc.wantWMax {
				t.Errorf("W_max %d, want %d", c.lastMaxCwnd, tc.wantWMax)
			}
			if c.epochStart != 0 {
				t.Error("epoch not ended")
			}
		})
	}
}

// After a loss at W_max = 100 (cwnd now 70, min RTT 100 ms, HZ 1000):
// K = cubic_root(2^40/410 * 30) = 4316/1024 s (the real cbrt is 4316.97);
// the target one min RTT ahead, t = (elapsed + 100 ms) * 1024/1000, is
// 100 - 410*(K-t)^3/2^40 below K (concave) and 100 + 410*(t-K)^3/2^40
// past it (convex), and cnt = cwnd/(target-cwnd), at least 2.
func TestCubicCurveAfterLoss(t *testing.T) {
	c := mustCubic(t, 1000)
	s := Sender{Cwnd: 100}
	c.SSThresh(&s)
	c.delayMin = 100000
	j0 := c.jiffies(ms(10_000))
	tests := []struct {
		elapsedMs uint32
		cwnd      uint32
		wantCnt   uint32
		region    string
	}{
		{0, 70, 23, "concave: t=102, delta=27, target 73"},
		{1000, 70, 3, "concave: t=1126, delta=12, target 88"},
		{2000, 70, 2, "concave: t=2150, delta=3, target 97, cnt 0 -> 2"},
		{4000, 99, 99, "plateau: t=4198, delta=0, target 100"},
		{5000, 100, 10000, "plateau: at target, 100*cwnd"},
		{6000, 100, 50, "convex: t=6246, delta=2, target 102"},
		{8000, 100, 4, "convex: t=8294, delta=23, target 123"},
		{10000, 100, 2, "convex: t=10342, delta=81, capped at 2"},
	}
	for _, tc := range tests {
		c.update(tc.cwnd, 1, j0+tc.elapsedMs)
		if c.bicK != 4316 || c.bicOriginPoint != 100 {
			t.Fatalf("K %d origin %d, want 4316 100", c.bicK, c.bicOriginPoint)
		}
		if c.cnt != tc.wantCnt {
			t.Errorf("%d ms, cwnd %d (%s): cnt %d, want %d", tc.elapsedMs, tc.cwnd, tc.region, c.cnt, tc.wantCnt)
		}
	}
}

// cwnd over time with an ACK clock after a loss at W_max = 100: growth per
// RTT shrinks while approaching W_max (concave), stalls around K, and
// speeds up past it (convex).
func TestCubicConcaveThenConvex(t *testing.T) {
	c := mustCubic(t, 1000)
	s := Sender{Cwnd: 100, SSThresh: inf, CwndClamp: ^uint32(0), CwndLimited: true}
	s.PriorCwnd = s.Cwnd
	s.SSThresh = c.SSThresh(&s)
	s.Cwnd = s.SSThresh
	c.delayMin = 100000
	now := ms(10_000)
	var perRTT []uint32
	for rtt := 0; rtt < 80; rtt++ {
		// One ACK per segment, spread over the 100 ms RTT.
		n := s.Cwnd
		for i := uint32(0); i < n; i++ {
			c.CongAvoid(&s, 0, 1, now+int64(i)*ms(100)/int64(n))
		}
		now += ms(100)
		perRTT = append(perRTT, s.Cwnd)
	}
	t.Logf("cwnd per RTT: %v", perRTT)
	// K is about 4.2 s = 42 RTTs.
	if perRTT[0] <= 70 || perRTT[39] > 100 || perRTT[39] < 98 {
		t.Fatalf("cwnd after 1 RTT %d, after 40 RTTs %d", perRTT[0], perRTT[39])
	}
	early := perRTT[5] - perRTT[0]
	nearK := perRTT[44] - perRTT[39]
	late := perRTT[79] - perRTT[74]
	if !(early > nearK && late > nearK) {
		t.Errorf("growth over 5 RTTs: early %d, near K %d, late %d; want concave then convex (%v)", early, nearK, late, perRTT)
	}
	if perRTT[79] <= 110 {
		t.Errorf("cwnd %d 8 s after the loss, want well past W_max", perRTT[79])
	}
}

// When CUBIC's curve is slower than Reno would be (W_max barely above
// cwnd), the Reno estimate tcp_cwnd, which grows one segment per
// cwnd*15/8 ACKed (beta_scale = 8*1741/3/307 = 15), caps cnt at
// cwnd/(tcp_cwnd - cwnd).
func TestCubicTCPFriendliness(t *testing.T) {
	for _, friendly := range []bool{true, false} {
		cfg := DefaultCubicConfig()
		cfg.TCPFriendliness = friendly
		c, _ := NewCubic(cfg)
		if c.betaScale != 15 {
			t.Fatalf("beta_scale %d, want 15", c.betaScale)
		}
		c.lastMaxCwnd = 11
		c.delayMin = 100000
		j0 := c.jiffies(ms(10_000))
		c.update(10, 1, j0) // epoch: K = cubic_root(2^40/410) = 1388, target 11
		if c.cnt != 10 {
			t.Fatalf("cnt %d, want 10 (target 11, cwnd 10)", c.cnt)
		}
		// 40 more segments ACKed: Reno would be at 10 + 41/18 -> 12.
		c.update(10, 40, j0+100)
		want := uint32(10)
		if friendly {
			want = 5 // 10 / (12 - 10)
			if c.tcpCwnd != 12 || c.ackCnt != 41-36 {
				t.Errorf("tcp_cwnd %d ack_cnt %d, want 12 5", c.tcpCwnd, c.ackCnt)
			}
		}
		if c.cnt != want {
			t.Errorf("friendliness %v: cnt %d, want %d", friendly, c.cnt, want)
		}
	}
}

// With no W_max yet (no loss, or reset by an RTO) CUBIC grows at least 5%
// per RTT: cnt capped at 20.
func TestCubicNoWMaxCap(t *testing.T) {
	c := mustCubic(t, 1000)
	c.update(100, 1, c.jiffies(ms(10_000)))
	if c.cnt != 20 {
		t.Errorf("cnt %d, want 20", c.cnt)
	}
}

// The recomputation guard: with cwnd unchanged the curve is re-evaluated
// only after HZ/32 jiffies, and never twice in one jiffy.
func TestCubicUpdateRateLimit(t *testing.T) {
	for _, hz := range []int{1000, 250} {
		c := mustCubic(t, hz)
		c.lastMaxCwnd = 100
		c.delayMin = 100000
		j0 := c.jiffies(ms(10_000))
		c.update(70, 1, j0)
		first := c.cnt
		guard := uint32(hz / 32)
		c.update(70, 1, j0+guard) // same cwnd, within HZ/32: untouched
		if c.cnt != first || c.lastTime != j0 {
			t.Errorf("HZ=%d: recomputed within HZ/32", hz)
		}
		c.update(71, 1, j0) // cwnd changed but same jiffy: only friendliness
		if c.lastTime != j0 || c.lastCwnd != 70 {
			t.Errorf("HZ=%d: recomputed twice in one jiffy", hz)
		}
		c.update(70, 1, j0+guard+1)
		if c.lastTime != j0+guard+1 {
			t.Errorf("HZ=%d: not recomputed after HZ/32", hz)
		}
	}
}

// CA_EVENT_TX_START after idleness moves the epoch forward by the idle
// time, but never past now.
func TestCubicTxStartShiftsEpoch(t *testing.T) {
	c := mustCubic(t, 1000)
	s := Sender{}
	c.epochStart = c.jiffies(ms(10_000))
	s.LSndTime = ms(12_000)
	c.CwndEvent(&s, TxStart, ms(15_000)) // idle 3 s
	if want := c.jiffies(ms(13_000)); c.epochStart != want {
		t.Errorf("epoch %d, want %d (+3 s)", c.epochStart, want)
	}
	s.LSndTime = ms(5_000)
	c.CwndEvent(&s, TxStart, ms(16_000)) // +11 s would pass now
	if want := c.jiffies(ms(16_000)); c.epochStart != want {
		t.Errorf("epoch %d, want now %d", c.epochStart, want)
	}
	c.epochStart = 0
	c.CwndEvent(&s, TxStart, ms(20_000))
	if c.epochStart != 0 {
		t.Error("TxStart started an epoch")
	}
	for _, ev := range []CwndEvent{CwndRestart, CompleteCwr, EventLoss, ECNNoCE, ECNIsCE} {
		c.epochStart = 7
		c.CwndEvent(&s, ev, ms(30_000))
		if c.epochStart != 7 {
			t.Errorf("event %d touched the epoch", ev)
		}
	}
}

// Jiffies start at INITIAL_JIFFIES (-300 s), as on a booted kernel.
func TestCubicJiffies(t *testing.T) {
	for _, hz := range []int{1000, 250, 100, 300} {
		c := mustCubic(t, hz)
		if got, want := c.jiffies(0), uint32(int64(-300)*int64(hz)); got != want {
			t.Errorf("HZ=%d: jiffies(0) = %d, want %d", hz, got, want)
		}
		if got := c.jiffies(ms(300_000)); got != 0 {
			t.Errorf("HZ=%d: jiffies(300 s) = %d, want 0", hz, got)
		}
	}
	c := mustCubic(t, 250)
	for us, want := range map[uint32]uint64{0: 0, 1: 1, 4000: 1, 4001: 2, 100000: 25} {
		if got := c.usecsToJiffies(us); got != want {
			t.Errorf("usecs_to_jiffies(%d) at HZ=250 = %d, want %d", us, got, want)
		}
	}
}

func TestCubicInitAndUndo(t *testing.T) {
	cfg := DefaultCubicConfig()
	cfg.HyStart = false
	cfg.InitialSSThresh = 50
	c, _ := NewCubic(cfg)
	s := Sender{Cwnd: 10, SSThresh: inf, SndNxt: 777}
	c.Init(&s, 0)
	if s.SSThresh != 50 {
		t.Errorf("initial_ssthresh without HyStart: %d, want 50", s.SSThresh)
	}
	c = mustCubic(t, 1000)
	s = Sender{Cwnd: 10, SSThresh: inf, SndNxt: 777}
	c.Init(&s, ms(1))
	if s.SSThresh != inf || c.endSeq != 777 || c.roundStart != 1000 {
		t.Errorf("Init: ssthresh %d end_seq %d round_start %d", s.SSThresh, c.endSeq, c.roundStart)
	}
	s.Cwnd, s.PriorCwnd = 5, 9
	if got := c.UndoCwnd(&s); got != 9 {
		t.Errorf("undo %d, want 9", got)
	}
	s.Cwnd = 12
	if got := c.UndoCwnd(&s); got != 12 {
		t.Errorf("undo %d, want 12", got)
	}
}

func TestNewCubicRejectsBadConfig(t *testing.T) {
	for _, mut := range []func(*CubicConfig){
		func(c *CubicConfig) { c.HZ = 0 },
		func(c *CubicConfig) { c.Beta = 0 },
		func(c *CubicConfig) { c.Beta = 1024 },
		func(c *CubicConfig) { c.BicScale = 0 },
		func(c *CubicConfig) { c.BicScale = 1 << 31 },
	} {
		cfg := DefaultCubicConfig()
		mut(&cfg)
		if _, err := NewCubic(cfg); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

// The Reno estimate's catch-up must equal the kernel's subtraction loop.
func TestCubicRenoEstimateCatchUp(t *testing.T) {
	for _, tc := range []struct{ ackCnt, delta uint32 }{
		{0, 18}, {18, 18}, {19, 18}, {36, 18}, {37, 18}, {1000, 1}, {1, 1}, {2, 1}, {12345, 187},
	} {
		wantAck, wantCwnd := tc.ackCnt, uint32(0)
		for wantAck > tc.delta {
			wantAck -= tc.delta
			wantCwnd++
		}
		c := mustCubic(t, 1000)
		// cwnd*15>>3 == delta needs cwnd = delta*8/15 rounded up.
		cwnd := (tc.delta*8 + 14) / 15
		if (cwnd*15)>>3 != tc.delta {
			continue
		}
		c.epochStart, c.lastTime, c.lastCwnd = 5, 5, cwnd+1
		c.ackCnt = tc.ackCnt
		c.update(cwnd, 0, 5) // same jiffy: straight to the Reno estimate
		if c.ackCnt != wantAck || c.tcpCwnd != wantCwnd {
			t.Errorf("ack_cnt %d delta %d: got %d/%d, want %d/%d", tc.ackCnt, tc.delta, c.ackCnt, c.tcpCwnd, wantAck, wantCwnd)
		}
	}
}
