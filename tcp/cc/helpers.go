package cc

// This file holds the generic pieces of tcp_cong.c and tcp.h that the
// algorithms and the engine share.

// clampOf reads CwndClamp; 0 never occurs in the kernel (it starts at ~0),
// so it is taken to mean "no clamp" rather than "cwnd must be 0".
func clampOf(s *Sender) uint32 {
	if s.CwndClamp == 0 {
		return ^uint32(0)
	}
	return s.CwndClamp
}

// InSlowStart is tcp_in_slow_start: cwnd below ssthresh.
func InSlowStart(s *Sender) bool { return s.Cwnd < s.SSThresh }

// SlowStart is tcp_slow_start. It grows cwnd by one segment per segment
// ACKed but not past ssthresh, and returns the ACKed segments left over for
// congestion avoidance (stretch ACKs count in full: no ABC cap).
func SlowStart(s *Sender, acked uint32) uint32 {
	cwnd := min(s.Cwnd+acked, s.SSThresh)
	acked -= cwnd - s.Cwnd
	s.Cwnd = min(cwnd, clampOf(s))
	return acked
}

// CongAvoidAI is tcp_cong_avoid_ai: cwnd += acked/w, with the remainder kept
// in CwndCnt. Credits earned under a larger w are applied first, one segment.
func CongAvoidAI(s *Sender, w, acked uint32) {
	if w == 0 { // the kernel never passes 0; avoid the division by zero
		w = 1
	}
	if s.CwndCnt >= w {
		s.CwndCnt = 0
		s.Cwnd++
	}
	s.CwndCnt += acked
	if s.CwndCnt >= w {
		delta := s.CwndCnt / w
		s.CwndCnt -= delta * w
		s.Cwnd += delta
	}
	s.Cwnd = min(s.Cwnd, clampOf(s))
}

// CurrentSSThresh is tcp_current_ssthresh: during a cwnd reduction (CA state
// CWR or Recovery) ssthresh itself, otherwise at least 3/4 of cwnd. The
// engine uses it for prior_ssthresh and on idle restart.
func CurrentSSThresh(s *Sender, inCwndReduction bool) uint32 {
	if inCwndReduction {
		return s.SSThresh
	}
	return max(s.SSThresh, (s.Cwnd>>1)+(s.Cwnd>>2))
}

// RestartCwnd is tcp_cwnd_restart (slow start after idle, RFC 2861): it
// reports CwndRestart to alg, raises ssthresh to CurrentSSThresh and halves
// cwnd once per RTO of idleness, but not below min(initCwnd, cwnd). idle is
// now - lsndtime and rto the current RTO, both in ns. The engine calls it
// when tcp_slow_start_after_idle is set, nothing is in flight and idle > rto;
// it also resets snd_cwnd_stamp/snd_cwnd_used, which live on its side.
func RestartCwnd(alg Algorithm, s *Sender, initCwnd uint32, idle, rto int64, inCwndReduction bool, now int64) {
	alg.CwndEvent(s, CwndRestart, now)
	s.SSThresh = CurrentSSThresh(s, inCwndReduction)
	cwnd := s.Cwnd
	restart := min(initCwnd, cwnd)
	if rto > 0 {
		for idle -= rto; idle > 0 && cwnd > restart; idle -= rto {
			cwnd >>= 1
		}
	}
	s.Cwnd = max(cwnd, restart)
}

// undoCwnd is tcp_reno_undo_cwnd, which CUBIC uses too.
func undoCwnd(s *Sender) uint32 { return max(s.Cwnd, s.PriorCwnd) }
