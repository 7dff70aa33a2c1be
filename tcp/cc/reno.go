package cc

// Reno is tcp_reno: Jacobson's slow start and additive increase, halving on
// loss. It has no private state; its hooks the kernel leaves NULL are no-ops.
type Reno struct{}

// NewReno returns Reno.
func NewReno() *Reno { return &Reno{} }

// Name implements Algorithm.
func (*Reno) Name() string { return "reno" }

// Init implements Algorithm; Reno has nothing to set up.
func (*Reno) Init(*Sender, int64) {}

// SSThresh is tcp_reno_ssthresh: half the window, at least 2.
func (*Reno) SSThresh(s *Sender) uint32 { return max(s.Cwnd>>1, 2) }

// CongAvoid is tcp_reno_cong_avoid.
func (*Reno) CongAvoid(s *Sender, ack, acked uint32, now int64) {
	if !s.CwndLimited {
		return
	}
	if InSlowStart(s) {
		if acked = SlowStart(s, acked); acked == 0 {
			return
		}
	}
	CongAvoidAI(s, s.Cwnd, acked)
}

// PktsAcked implements Algorithm; Reno ignores RTT samples.
func (*Reno) PktsAcked(*Sender, uint32, int64, int64) {}

// SetState implements Algorithm; Reno keeps no per-state data.
func (*Reno) SetState(*Sender, CAState, int64) {}

// CwndEvent implements Algorithm; Reno ignores events.
func (*Reno) CwndEvent(*Sender, CwndEvent, int64) {}

// UndoCwnd is tcp_reno_undo_cwnd: back to the window before the reduction.
func (*Reno) UndoCwnd(s *Sender) uint32 { return undoCwnd(s) }
