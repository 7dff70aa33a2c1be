package cc

import "errors"

// CubicConfig holds tcp_cubic's module parameters plus the jiffy rate. The
// kernel keeps these per host; here each connection's instance has its own
// copy, so two stacks in one process never share them.
type CubicConfig struct {
	HZ                int    // jiffies per second for the curve's clock (see package doc)
	FastConvergence   bool   // fast_convergence
	Beta              uint32 // beta, of BetaScale (717 = 0.7)
	InitialSSThresh   uint32 // initial_ssthresh (used only with HyStart off)
	BicScale          uint32 // bic_scale: C = BicScale*10/1024 segments/s^3 (41: C = 0.4)
	TCPFriendliness   bool   // tcp_friendliness
	HyStart           bool   // hystart
	HyStartDetect     uint8  // hystart_detect: HyStartACKTrain|HyStartDelayDetect
	HyStartLowWindow  uint32 // hystart_low_window, segments
	HyStartAckDeltaUs int32  // hystart_ack_delta_us

	// LegacyHyStartRounds restores HyStart's round tracking as it was
	// before Linux 6.14 ("tcp_cubic: fix incorrect HyStart round start
	// detection", backported to stable): rounds were only tracked once
	// cwnd reached HyStartLowWindow, so the first round then began late.
	// Upstream packetdrill's cubic-bulk-166k.pkt still expects that older
	// behaviour (HyStart exit at cwnd 48; 6.18 exits at 36). Off by default.
	LegacyHyStartRounds bool
}

// BetaScale is BICTCP_BETA_SCALE: beta is a fraction of 1024.
const BetaScale = 1024

// HyStart detector bits for CubicConfig.HyStartDetect.
const (
	HyStartACKTrain    = 0x1 // HYSTART_ACK_TRAIN
	HyStartDelayDetect = 0x2 // HYSTART_DELAY
)

const (
	bictcpHZ          = 10 // BICTCP_HZ: the curve's time unit is 1/1024 s
	hystartMinSamples = 8
	hystartDelayMin   = 4000  // µs
	hystartDelayMax   = 16000 // µs
	gsoLegacyMaxSize  = 65536
)

// DefaultCubicConfig returns Linux 6.18's defaults, with HZ=1000.
func DefaultCubicConfig() CubicConfig {
	return CubicConfig{
		HZ:                1000,
		FastConvergence:   true,
		Beta:              717,
		BicScale:          41,
		TCPFriendliness:   true,
		HyStart:           true,
		HyStartDetect:     HyStartACKTrain | HyStartDelayDetect,
		HyStartLowWindow:  16,
		HyStartAckDeltaUs: 2000,
	}
}

// Cubic is tcp_cubic for one connection (struct bictcp).
type Cubic struct {
	cfg CubicConfig

	// Derived once, as cubictcp_register does.
	betaScale    uint32 // 8*(1024+beta)/3/(1024-beta): Reno-equivalent ACKs per segment, <<3
	cubeRTTScale uint32 // bic_scale*10
	cubeFactor   uint64 // 2^40 / (bic_scale*10)
	jiffyNs      int64
	initJiffies  uint32 // INITIAL_JIFFIES

	// struct bictcp. Times: lastTime and epochStart in jiffies; delayMin,
	// roundStart, lastAck and currRTT in µs.
	cnt            uint32 // increase cwnd by 1 after this many ACKed segments
	lastMaxCwnd    uint32 // W_max
	lastCwnd       uint32
	lastTime       uint32
	bicOriginPoint uint32
	bicK           uint32 // time from epoch start to the origin point, in 1/1024 s
	delayMin       uint32
	epochStart     uint32 // 0: no epoch
	ackCnt         uint32
	tcpCwnd        uint32 // estimated Reno cwnd
	sampleCnt      uint8
	found          bool
	roundStart     uint32
	endSeq         uint32
	lastAck        uint32
	currRTT        uint32

	exit     HyStartExit // unreported HyStart exit
	exitCwnd uint32
}

// NewCubic returns CUBIC with cfg; HZ must be in 1..1e6, Beta in (0, 1024)
// and BicScale in 1..2^20.
func NewCubic(cfg CubicConfig) (*Cubic, error) {
	c := new(Cubic)
	if err := c.Setup(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// Setup makes c a fresh CUBIC with cfg in place (NewCubic without the
// allocation: an engine may embed the state in its connection).
func (c *Cubic) Setup(cfg CubicConfig) error {
	if cfg.HZ <= 0 || cfg.HZ > 1_000_000 {
		return errors.New("tcp/cc: cubic: HZ out of range")
	}
	if cfg.Beta == 0 || cfg.Beta >= BetaScale {
		return errors.New("tcp/cc: cubic: beta must be in (0, 1024)")
	}
	if cfg.BicScale == 0 || cfg.BicScale > 1<<20 {
		return errors.New("tcp/cc: cubic: bic_scale out of range")
	}
	*c = Cubic{cfg: cfg}
	c.betaScale = 8 * (BetaScale + cfg.Beta) / 3 / (BetaScale - cfg.Beta)
	c.cubeRTTScale = cfg.BicScale * 10
	// K = cbrt((W_max - cwnd) / C) in units of 1/1024 s: the cube of
	// 1024 and the 1024 in C's denominator give 2^40 / (bic_scale*10).
	c.cubeFactor = (uint64(1) << (10 + 3*bictcpHZ)) / uint64(cfg.BicScale*10)
	c.jiffyNs = 1_000_000_000 / int64(cfg.HZ)
	c.initJiffies = uint32(int64(-300) * int64(cfg.HZ))
	return nil
}

// Name implements Algorithm.
func (*Cubic) Name() string { return "cubic" }

func (c *Cubic) jiffies(now int64) uint32 {
	return uint32(now/c.jiffyNs) + c.initJiffies
}

// clockUs is bictcp_clock_us: the µs stamp of the packet being processed.
func clockUs(now int64) uint32 { return uint32(now / 1000) }

// usecsToJiffies rounds up, as the kernel's usecs_to_jiffies does.
func (c *Cubic) usecsToJiffies(us uint32) uint64 {
	return (uint64(us)*uint64(c.cfg.HZ) + 999_999) / 1_000_000
}

// reset is bictcp_reset: everything but the HyStart round state.
func (c *Cubic) reset() {
	c.cnt, c.lastMaxCwnd, c.lastCwnd, c.lastTime = 0, 0, 0, 0
	c.bicOriginPoint, c.bicK, c.delayMin, c.epochStart = 0, 0, 0, 0
	c.ackCnt, c.tcpCwnd = 0, 0
	c.found = false
}

// hystartReset is bictcp_hystart_reset: a new round starts at snd_nxt.
func (c *Cubic) hystartReset(s *Sender, now int64) {
	c.roundStart = clockUs(now)
	c.lastAck = c.roundStart
	c.endSeq = s.SndNxt
	c.currRTT = ^uint32(0)
	c.sampleCnt = 0
}

// Init is cubictcp_init.
func (c *Cubic) Init(s *Sender, now int64) {
	c.reset()
	if c.cfg.HyStart {
		c.hystartReset(s, now)
	}
	if !c.cfg.HyStart && c.cfg.InitialSSThresh != 0 {
		s.SSThresh = c.cfg.InitialSSThresh
	}
}

// CwndEvent is cubictcp_cwnd_event: after an application-limited idle
// period, move the epoch forward by the idle time so the curve does not
// credit it.
func (c *Cubic) CwndEvent(s *Sender, ev CwndEvent, now int64) {
	if ev != TxStart {
		return
	}
	nowJ := c.jiffies(now)
	delta := int32(nowJ - c.jiffies(s.LSndTime))
	if c.epochStart != 0 && delta > 0 {
		c.epochStart += uint32(delta)
		if int32(c.epochStart-nowJ) > 0 { // after(epoch_start, now)
			c.epochStart = nowJ
		}
	}
}

// CongAvoid is cubictcp_cong_avoid.
func (c *Cubic) CongAvoid(s *Sender, ack, acked uint32, now int64) {
	if !s.CwndLimited {
		return
	}
	if InSlowStart(s) {
		if acked = SlowStart(s, acked); acked == 0 {
			return
		}
	}
	c.update(s.Cwnd, acked, c.jiffies(now))
	CongAvoidAI(s, c.cnt, acked)
}

// update is bictcp_update: it sets cnt, the number of ACKed segments per
// one-segment increase, from the cubic curve and the Reno estimate.
func (c *Cubic) update(cwnd, acked, nowJ uint32) {
	c.ackCnt += acked

	// Recompute at most every HZ/32 jiffies while cwnd is unchanged, and at
	// most once per jiffy in any case (an epoch restart forces it).
	if c.lastCwnd == cwnd && int32(nowJ-c.lastTime) <= int32(c.cfg.HZ/32) {
		return
	}
	if c.epochStart == 0 || nowJ != c.lastTime {
		c.curve(cwnd, acked, nowJ)
	}

	if c.cfg.TCPFriendliness {
		// Reno grows one segment per cwnd/(3(1-β)/(1+β)) ACKed segments;
		// betaScale carries that factor, <<3.
		// The kernel subtracts delta in a loop while ack_cnt > delta;
		// dividing gives the same result in constant time.
		if delta := (cwnd * c.betaScale) >> 3; delta > 0 && c.ackCnt > delta {
			n := (c.ackCnt - 1) / delta
			c.ackCnt -= n * delta
			c.tcpCwnd += n
		}
		if c.tcpCwnd > cwnd { // CUBIC is slower than Reno would be
			if maxCnt := cwnd / (c.tcpCwnd - cwnd); c.cnt > maxCnt {
				c.cnt = maxCnt
			}
		}
	}

	// At most one segment per two ACKed: 1.5x per RTT.
	c.cnt = max(c.cnt, 2)
}

// curve is the part of bictcp_update that evaluates
// W(t) = C (t - K)^3 + W_max one RTT ahead and derives cnt from it.
func (c *Cubic) curve(cwnd, acked, nowJ uint32) {
	c.lastCwnd = cwnd
	c.lastTime = nowJ

	if c.epochStart == 0 {
		c.epochStart = nowJ
		c.ackCnt = acked
		c.tcpCwnd = cwnd
		if c.lastMaxCwnd <= cwnd {
			c.bicK = 0
			c.bicOriginPoint = cwnd
		} else {
			c.bicK = cubicRoot(c.cubeFactor * uint64(c.lastMaxCwnd-cwnd))
			c.bicOriginPoint = c.lastMaxCwnd
		}
	}

	// t: time since the epoch began plus one min RTT (the target is where
	// the curve will be an RTT from now), in 1/1024 s. The signed 32-bit
	// difference widens to 64 bits as in the kernel.
	t := uint64(int64(int32(nowJ - c.epochStart)))
	t += c.usecsToJiffies(c.delayMin)
	t = (t << bictcpHZ) / uint64(c.cfg.HZ)

	var offs uint64
	if t < uint64(c.bicK) {
		offs = uint64(c.bicK) - t
	} else {
		offs = t - uint64(c.bicK)
	}
	delta := uint32((uint64(c.cubeRTTScale) * offs * offs * offs) >> (10 + 3*bictcpHZ))
	var target uint32
	if t < uint64(c.bicK) {
		target = c.bicOriginPoint - delta // concave: below the origin
	} else {
		target = c.bicOriginPoint + delta // convex: past it
	}

	if target > cwnd {
		c.cnt = cwnd / (target - cwnd)
	} else {
		c.cnt = 100 * cwnd // at or above target: grow very slowly
	}

	// No loss seen yet: the curve alone would be too timid; 5% per RTT.
	if c.lastMaxCwnd == 0 && c.cnt > 20 {
		c.cnt = 20
	}
}

// SSThresh is cubictcp_recalc_ssthresh: end the epoch, remember W_max
// (lowered further when losses come before regaining the last W_max: fast
// convergence) and return cwnd*beta.
func (c *Cubic) SSThresh(s *Sender) uint32 {
	c.epochStart = 0
	if s.Cwnd < c.lastMaxCwnd && c.cfg.FastConvergence {
		c.lastMaxCwnd = (s.Cwnd * (BetaScale + c.cfg.Beta)) / (2 * BetaScale)
	} else {
		c.lastMaxCwnd = s.Cwnd
	}
	return max((s.Cwnd*c.cfg.Beta)/BetaScale, 2)
}

// SetState is cubictcp_state: an RTO forgets everything.
func (c *Cubic) SetState(s *Sender, st CAState, now int64) {
	if st == Loss {
		c.reset()
		c.hystartReset(s, now)
	}
}

// UndoCwnd is tcp_reno_undo_cwnd, as CUBIC uses it.
func (c *Cubic) UndoCwnd(s *Sender) uint32 { return undoCwnd(s) }

// TakeHyStartExit implements HyStartReporter.
func (c *Cubic) TakeHyStartExit() (HyStartExit, uint32) {
	e, w := c.exit, c.exitCwnd
	c.exit, c.exitCwnd = HyStartNone, 0
	return e, w
}
