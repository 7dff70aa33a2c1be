package cc

import "testing"

// flow is a minimal stand-in for the engine, enough to replay packetdrill
// scripts' ACK patterns against an Algorithm: one MSS per packet, an
// application that has `limit` packets to send, and the kernel's order of
// hooks on each ACK (pkts_acked, then cong_avoid, then transmit).
type flow struct {
	t     *testing.T
	alg   Algorithm
	s     Sender
	sent  []int64 // send time of packet i
	una   int     // packets cumulatively ACKed
	limit int     // packets the application has written so far

	// tcp_cwnd_validate's bookkeeping for tcp_is_cwnd_limited.
	isCwndLimited bool
	maxPacketsOut uint32
	cwndUsageSeq  uint32

	// Optional EDT pacing as with the fq qdisc (tcp_update_pacing_rate,
	// tcp_update_skb_after_send): packets are stamped with their departure
	// time, which is what RTT samples are measured from.
	pace        bool
	srttUs8     uint64 // srtt_us, <<3
	wstamp      int64  // tcp_wstamp_ns
	dataSegsOut int
}

const simMSS = 1000

func newFlow(t *testing.T, alg Algorithm, cwnd uint32, established int64) *flow {
	f := &flow{t: t, alg: alg}
	f.s = Sender{Cwnd: cwnd, SSThresh: InfiniteSSThresh, CwndClamp: ^uint32(0), MSS: simMSS, SndNxt: 1, SndUna: 1}
	alg.Init(&f.s, established)
	return f
}

func (f *flow) seq(pkt int) uint32 { return 1 + uint32(pkt)*simMSS }

// write makes n more packets available and transmits what cwnd allows.
func (f *flow) write(n int, now int64) {
	f.limit += n
	f.xmit(now)
}

// xmit is tcp_write_xmit + tcp_cwnd_validate + tcp_event_data_sent.
func (f *flow) xmit(now int64) {
	sent := 0
	for len(f.sent)-f.una < int(f.s.Cwnd) && len(f.sent) < f.limit {
		if f.pace && f.wstamp > now {
			break // the pacing timer (advance) sends it later
		}
		if len(f.sent) == f.una {
			f.alg.CwndEvent(&f.s, TxStart, now)
		}
		stamp := now
		if f.pace {
			prior := f.wstamp
			f.wstamp = max(f.wstamp, now)
			stamp = f.wstamp
			f.dataSegsOut++
			if rate := f.s.PacingRate; rate > 0 && f.dataSegsOut >= 10 {
				lenNs := int64(simMSS * 1e9 / rate)
				lenNs -= min(lenNs/2, f.wstamp-prior)
				f.wstamp += lenNs
			}
		}
		f.sent = append(f.sent, stamp)
		f.s.LSndTime = now
		sent++
	}
	f.s.SndNxt = f.seq(len(f.sent))
	f.s.PacketsOut = uint32(len(f.sent) - f.una)
	limited := f.s.PacketsOut >= f.s.Cwnd && len(f.sent) < f.limit
	if sent > 0 || limited {
		if int32(f.s.SndUna-f.cwndUsageSeq) >= 0 || limited ||
			(!f.isCwndLimited && f.s.PacketsOut > f.maxPacketsOut) {
			f.isCwndLimited = limited
			f.maxPacketsOut = f.s.PacketsOut
			f.cwndUsageSeq = f.s.SndNxt
		}
	}
	f.s.CwndLimited = f.cwndLimited()
}

// cwndLimited is tcp_is_cwnd_limited.
func (f *flow) cwndLimited() bool {
	if f.isCwndLimited {
		return true
	}
	if InSlowStart(&f.s) {
		return f.s.Cwnd < 2*f.maxPacketsOut
	}
	return false
}

// rto is what tcp_enter_loss does to the congestion state when the
// retransmission timer fires with every packet in flight lost; the head is
// retransmitted (and so yields no RTT sample).
func (f *flow) rto(now int64) {
	f.s.PriorCwnd = f.s.Cwnd
	f.s.SSThresh = f.alg.SSThresh(&f.s)
	f.alg.CwndEvent(&f.s, EventLoss, now)
	f.s.Cwnd = 1 // tcp_packets_in_flight() + 1, all marked lost
	f.s.CwndCnt = 0
	f.alg.SetState(&f.s, Loss, now)
	f.sent[f.una] = -1
}

// advance runs the pacing timer up to now: packets whose departure time
// has come leave one by one, each at its own time.
func (f *flow) advance(now int64) {
	for f.pace && len(f.sent)-f.una < int(f.s.Cwnd) && len(f.sent) < f.limit && f.wstamp <= now {
		at := f.wstamp
		n := len(f.sent)
		f.xmit(at)
		if len(f.sent) == n {
			return
		}
	}
}

// ack delivers a cumulative ACK for packets [0, upto) at now.
func (f *flow) ack(upto int, now int64) {
	f.advance(now)
	acked := upto - f.una
	if acked <= 0 {
		f.t.Fatalf("ack %d: nothing new (una %d)", upto, f.una)
	}
	// ca_rtt_us: from the last packet ACKed, none if it was retransmitted
	// (Karn); the estimator uses the first one.
	rtt := int64(-1)
	if at := f.sent[upto-1]; at >= 0 {
		rtt = max(0, now-at) / 1000
	}
	if at := f.sent[f.una]; at >= 0 {
		f.rttEstimate(max(0, now-at) / 1000)
	}
	f.una = upto
	f.s.SndUna = f.seq(upto)
	f.s.Delivered += uint32(acked)
	f.s.PacketsOut = uint32(len(f.sent) - f.una)
	f.alg.PktsAcked(&f.s, uint32(acked), rtt, now)
	f.s.CwndLimited = f.cwndLimited()
	f.alg.CongAvoid(&f.s, f.s.SndUna, uint32(acked), now)
	f.updatePacingRate()
	f.xmit(now)
}

// rttEstimate is the srtt half of tcp_rtt_estimator.
func (f *flow) rttEstimate(us int64) {
	if f.srttUs8 == 0 {
		f.srttUs8 = uint64(us) << 3
	} else {
		f.srttUs8 = uint64(int64(f.srttUs8) + us - int64(f.srttUs8>>3))
	}
	f.srttUs8 = max(f.srttUs8, 1)
}

// updatePacingRate is tcp_update_pacing_rate with the default ratios
// (tcp_pacing_ss_ratio 200, tcp_pacing_ca_ratio 120).
func (f *flow) updatePacingRate() {
	rate := uint64(simMSS) * (10000 << 3)
	if f.s.Cwnd < f.s.SSThresh/2 {
		rate *= 200
	} else {
		rate *= 120
	}
	rate *= uint64(max(f.s.Cwnd, f.s.PacketsOut))
	if f.srttUs8 != 0 {
		rate /= f.srttUs8
	}
	f.s.PacingRate = rate
}

func ms(n float64) int64 { return int64(n * 1e6) }

func mustCubic(t testing.TB, hz int) *Cubic {
	cfg := DefaultCubicConfig()
	cfg.HZ = hz
	c, err := NewCubic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cubic/cubic-bulk-166k.pkt: two packets ACKed every 100 ms. Slow start
// doubles per round, HyStart's delay detector stops it at 48, and from then
// on CUBIC's curve (and its cap of one segment per two ACKed) sets the pace.
func TestPacketdrillCubicBulk166k(t *testing.T) {
	for _, hz := range []int{1000, 250, 100} {
		cfg := DefaultCubicConfig()
		cfg.HZ = hz
		cfg.LegacyHyStartRounds = true
		c, _ := NewCubic(cfg)
		t0 := ms(5000) // some uptime, so jiffies are nowhere near the 0 sentinel
		f := newFlow(t, c, 10, t0)
		// The script runs over fq: EDT pacing; the handshake's RTT was 100 ms.
		f.pace, f.s.Paced, f.srttUs8 = true, true, 100000<<3
		f.updatePacingRate()
		f.write(400, t0)
		now := t0
		want := map[int]uint32{5: 20, 10: 30, 15: 40, 19: 48, 30: 49, 40: 50, 50: 52, 60: 58}
		for k := 61; k <= 70; k++ {
			want[k] = 58 + uint32(k-60)
		}
		for k := 80; k <= 200; k += 10 {
			want[k] = 68 + uint32(k-70)
		}
		for k := 1; k <= 200; k++ {
			now += ms(100)
			f.ack(2*k, now)
			if w, ok := want[k]; ok && f.s.Cwnd != w {
				t.Errorf("HZ=%d: after ACK %d (ack %d): cwnd %d, want %d", hz, k, f.seq(2*k), f.s.Cwnd, w)
			}
		}
		if e, w := c.TakeHyStartExit(); e != HyStartDelay || w != 48 {
			t.Errorf("HZ=%d: HyStart exit %v at %d, want delay at 48", hz, e, w)
		}
	}
}

// cubic/cubic-bulk-166k-idle-restart.pkt: after 4 s of application-limited
// idleness CUBIC must not have accumulated curve time: TxStart shifts the
// epoch.
func TestPacketdrillCubicBulk166kIdleRestart(t *testing.T) {
	for _, hz := range []int{1000, 250} {
		cfg := DefaultCubicConfig()
		cfg.HZ = hz
		cfg.LegacyHyStartRounds = true
		c, _ := NewCubic(cfg)
		t0 := ms(5000)
		f := newFlow(t, c, 10, t0)
		f.pace, f.s.Paced, f.srttUs8 = true, true, 100000<<3
		f.updatePacingRate()
		f.write(40, t0)
		now := t0
		check := func(k int, want uint32) {
			if f.s.Cwnd != want {
				t.Errorf("HZ=%d: after ACK %d: cwnd %d, want %d", hz, k, f.s.Cwnd, want)
			}
		}
		for k := 1; k <= 20; k++ {
			now += ms(100)
			f.ack(2*k, now)
			switch k {
			case 5:
				check(k, 20)
			case 10:
				check(k, 30)
			case 15:
				check(k, 40)
			case 19:
				check(k, 48)
			}
		}
		now += ms(4000)
		f.write(160, now)
		want := map[int]uint32{30: 48, 40: 49, 50: 52, 60: 58}
		for k := 21; k <= 60; k++ {
			now += ms(100)
			f.ack(2*k, now)
			if w, ok := want[k]; ok {
				check(k, w)
			}
		}
	}
}

// The same script under Linux 6.18's HyStart round tracking: the first
// round starts at the first ACK even below hystart_low_window, so the
// second round (ACK 12001 on) is the first one sampled and its 9th sample,
// at cwnd 36, ends slow start. Upstream's script predates that fix; the
// runner must either expect 36 here or run with LegacyHyStartRounds.
func TestCubicBulk166kLinux618HyStart(t *testing.T) {
	c := mustCubic(t, 1000)
	t0 := ms(5000)
	f := newFlow(t, c, 10, t0)
	f.pace, f.s.Paced, f.srttUs8 = true, true, 100000<<3
	f.updatePacingRate()
	f.write(400, t0)
	now := t0
	for k := 1; k <= 20; k++ {
		now += ms(100)
		f.ack(2*k, now)
	}
	if e, w := c.TakeHyStartExit(); e != HyStartDelay || w != 36 || f.s.SSThresh != 36 {
		t.Errorf("HyStart exit %v at %d (ssthresh %d), want delay at 36", e, w, f.s.SSThresh)
	}
}

// cubic/cubic-rto-ss-ca-cwnd-bump.pkt: an RTO at cwnd 10 gives ssthresh
// 10*717/1024 = 7 and resets CUBIC (W_max forgotten). Slow start from 1
// up to 7, then congestion avoidance where, with no W_max, cnt is capped at
// 20 and then lowered by the Reno-friendly estimate: 8 after 15 more ACKs.
func TestPacketdrillCubicRTOSlowStartThenCA(t *testing.T) {
	c := mustCubic(t, 1000)
	t0 := ms(1000)
	f := newFlow(t, c, 10, t0)
	f.updatePacingRate()
	f.write(1, t0)
	now := f.run(t0, []step{{100, 1, 10, inf}}) // not cwnd-limited: no growth
	f.write(1, now)
	now += ms(600) // TLP, then RTO at srtt + 2*rttvar
	f.rto(now)
	f.s.PacketsOut = 1
	now = f.run(now, []step{{100, 2, 2, 7}})
	if f.s.PriorCwnd != 10 || c.UndoCwnd(&f.s) != 10 {
		t.Errorf("prior_cwnd %d, undo %d; want 10", f.s.PriorCwnd, c.UndoCwnd(&f.s))
	}
	f.write(200, now)
	if len(f.sent) != 4 {
		t.Fatalf("sent %d packets after the RTO, want 4", len(f.sent))
	}
	f.run(now, []step{
		{100, 3, 3, 7},
		{2, 4, 4, 7},
		{98, 5, 5, 7},
		{2, 6, 6, 7},
		{2, 7, 7, 7},
		{2, 8, 0, 0}, {98, 9, 0, 0}, {2, 10, 0, 0}, {2, 11, 0, 0},
		{2, 12, 0, 0}, {2, 13, 0, 0}, {2, 14, 0, 0}, {2, 15, 0, 0},
		{98, 16, 7, 7},
		{2, 17, 0, 0}, {2, 18, 0, 0}, {2, 19, 0, 0}, {2, 20, 0, 0},
		{2, 21, 0, 0}, {2, 22, 0, 0},
		{98, 23, 8, 7},
	})
}
