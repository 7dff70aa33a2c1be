package cc

import (
	"errors"
	"strings"
)

// Sender is the congestion state the engine owns and the algorithm reads and
// updates. Field names mirror struct tcp_sock so the kernel formulas read the
// same here. See the package doc for who sets what, and when.
type Sender struct {
	Cwnd        uint32 // snd_cwnd, in segments
	SSThresh    uint32 // snd_ssthresh (initial: InfiniteSSThresh)
	CwndCnt     uint32 // snd_cwnd_cnt
	CwndClamp   uint32 // snd_cwnd_clamp (initial ^uint32(0); 0 is read as no clamp)
	PacketsOut  uint32 // packets in flight
	CwndLimited bool   // tcp_is_cwnd_limited() as the engine computes it
	MSS         uint32
	SRTTus      uint32 // smoothed RTT in microseconds (0 = none yet)
	MinRTTus    uint32
	Delivered   uint32 // total segments delivered (tp->delivered)
	SndNxt      uint32
	SndUna      uint32

	// Additions to the agreed interface; zero values are safe.

	PriorCwnd  uint32 // prior_cwnd: Cwnd when the last reduction began (read by UndoCwnd)
	LSndTime   int64  // lsndtime: when data was last sent (ns); read by CwndEvent(TxStart)
	PacingRate uint64 // sk_pacing_rate in bytes/s (0 = none); HyStart ACK-train cushion
	GSOMaxSize uint32 // sk_gso_max_size in bytes (0 = 65536)
	Paced      bool   // sk_pacing_status != SK_PACING_NONE
}

// InfiniteSSThresh is TCP_INFINITE_SSTHRESH, the initial snd_ssthresh.
const InfiniteSSThresh uint32 = 0x7fffffff

// CAState is the congestion-avoidance state (TCP_CA_*).
type CAState uint8

// The TCP_CA_* states, in the kernel's order.
const (
	Open CAState = iota
	Disorder
	CWR
	Recovery
	Loss
)

var caStateNames = [...]string{"Open", "Disorder", "CWR", "Recovery", "Loss"}

func (st CAState) String() string {
	if int(st) < len(caStateNames) {
		return caStateNames[st]
	}
	return "CAState(?)"
}

// CwndEvent is an event the engine reports to the algorithm (CA_EVENT_*).
type CwndEvent uint8

// The CA_EVENT_* events, in the kernel's order.
const (
	TxStart     CwndEvent = iota // first transmit when no packets in flight
	CwndRestart                  // congestion window restart after idle
	CompleteCwr                  // end of congestion window reduction
	EventLoss                    // CA_EVENT_LOSS, on RTO (named so it does not clash with the Loss state)
	ECNNoCE                      // ECT set, CE not set
	ECNIsCE                      // received CE
)

// Algorithm is a congestion-control module (struct tcp_congestion_ops)
// bound to one connection's private state.
type Algorithm interface {
	Name() string
	Init(s *Sender, now int64)                                 // tcp_init_congestion_control
	SSThresh(s *Sender) uint32                                 // .ssthresh, on loss/CWR entry
	CongAvoid(s *Sender, ack uint32, acked uint32, now int64)  // .cong_avoid (engine calls it only when tcp_may_raise_cwnd)
	PktsAcked(s *Sender, acked uint32, rttUs int64, now int64) // .pkts_acked (rttUs < 0: no sample)
	SetState(s *Sender, st CAState, now int64)                 // .set_state
	CwndEvent(s *Sender, ev CwndEvent, now int64)              // .cwnd_event
	UndoCwnd(s *Sender) uint32                                 // .undo_cwnd
}

// HyStartExit is the set of HyStart detectors that ended slow start.
type HyStartExit uint8

// HyStart detectors, as counted by the TCPHystart* MIB entries.
const (
	HyStartNone  HyStartExit = 0
	HyStartTrain HyStartExit = 1 // TcpExtTCPHystartTrainDetect / TCPHystartTrainCwnd
	HyStartDelay HyStartExit = 2 // TcpExtTCPHystartDelayDetect / TCPHystartDelayCwnd
)

// HyStartReporter is implemented by algorithms that may leave slow start on
// their own (CUBIC). The kernel counts those exits in per-namespace MIBs this
// package cannot reach, so the engine asks after PktsAcked.
type HyStartReporter interface {
	// TakeHyStartExit reports (and forgets) an exit since the last call,
	// with the cwnd at which it happened.
	TakeHyStartExit() (HyStartExit, uint32)
}

// Names returns the known algorithm names, the default first.
func Names() []string { return []string{"cubic", "reno"} }

// New returns a fresh instance of the named algorithm with the kernel's
// default parameters; "" means the default, cubic.
func New(name string) (Algorithm, error) {
	switch name {
	case "", "cubic":
		return NewCubic(DefaultCubicConfig())
	case "reno":
		return NewReno(), nil
	}
	return nil, errors.New("tcp/cc: unknown congestion control \"" + name + "\" (known: " + strings.Join(Names(), ", ") + ")")
}
