package timewait

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/seqnum"
)

// Action is what the caller sends in reply to a segment that reached a
// record (the kernel's enum tcp_tw_status).
type Action uint8

const (
	// ActionSuccess consumes the segment silently (TCP_TW_SUCCESS).
	ActionSuccess Action = iota
	// ActionACK sends the TW ACK of TW-RESP-1 (TCP_TW_ACK / ACK_OOW).
	ActionACK
	// ActionRST sends a RST in reply to the segment (TW-RESP-2); Kill is set.
	ActionRST
	// ActionSYN offers the SYN to a listener with Verdict.ISN (TW-PROC-20):
	// if a listener exists the caller kills the record and the listener
	// answers with ISN; if none exists the caller sends the TW ACK instead
	// (not rate-limited) and keeps the record without re-arming it.
	ActionSYN
)

func (a Action) String() string {
	return [...]string{"SUCCESS", "ACK", "RST", "SYN"}[a&3]
}

// Verdict is the decision for one segment. The caller applies it:
// DeathRow.Apply does the Kill/Rearm part, the stack sends the reply.
type Verdict struct {
	Action Action
	// OOW marks an ACK produced by the out-of-window path (TCP_TW_ACK_OOW,
	// [6.18] only): the reply clears the ECN bits of the TOS (TW-RESP-1).
	OOW bool
	// Kill: destroy the record now (TW-PROC-5/6/8/11), before replying.
	Kill bool
	// Rearm: restart the record's timer for RearmTimeout, only if it is
	// still pending (TIMER-2).
	Rearm        bool
	RearmTimeout int64 // ns: TimeWaitLen, or [4.11] the recycle timeout (RECYCLE-5)
	// ISN of the new connection for ActionSYN: S + 65537, 0 -> 1.
	ISN uint32
}

// Process is tcp_timewait_state_process: it decides what a segment that
// found record r does (TW-PROC-1..23, PAWS-6/9). It only mutates r as the
// kernel mutates the record (Substate, RcvNxt, TSRecent, TSRecentStamp,
// EntryStamp, LastOOWAckTime), counts into m (may be nil) and, in the 4.11
// and 3.10 profiles with tw_recycle, updates cfg.Peers (RECYCLE-5).
// It does not allocate.
func Process(r *Record, seg *Segment, now int64, cfg *Config, m *metrics.Counters) Verdict {
	rst := seg.Flags&FlagRST != 0
	syn := seg.Flags&FlagSYN != 0
	ack := seg.Flags&FlagACK != 0
	fin := seg.Flags&FlagFIN != 0
	seq := seqnum.Value(seg.Seq)
	end := seqnum.Value(seg.EndSeq())
	rcvNxt := seqnum.Value(r.RcvNxt)

	// TW-PROC-1: the TS option counts only when the header has options and
	// the connection used timestamps. TW-PROC-2 (TSecr minus the offset)
	// changes nothing observable here: TSecr is not used in TIME-WAIT.
	sawTS := seg.HasOptions && seg.HasTS && r.TSRecentStamp != 0
	pawsReject := sawTS && r.pawsReject(seg.TSVal, rst, now, cfg.Profile) // TW-PROC-3

	if r.Substate == SubstateFinWait2 {
		// TW-PROC-4: PAWS failure or outside [R, R+W]: rate-limited ACK.
		if pawsReject || !inWindow(seq, end, rcvNxt, rcvNxt.Add(seqnum.Size(r.RcvWnd))) {
			return r.oowRateLimit(seg, now, cfg, m, metrics.TcpExtTCPACKSkippedFinWait2)
		}
		// TW-PROC-5: any in-window RST kills, whatever tcp_rfc1337 says.
		if rst {
			return Verdict{Kill: true}
		}
		// TW-PROC-6: a SYN at or after R resets.
		if syn && seq.GreaterThanEq(rcvNxt) {
			return Verdict{Action: ActionRST, Kill: true}
		}
		// TW-PROC-7: no ACK, nothing new, or no sequence space: drop.
		if !ack || end.LessThanEq(rcvNxt) || end == seq {
			return Verdict{}
		}
		// TW-PROC-8: new data after our half-close resets.
		if !fin || end != rcvNxt+1 {
			return Verdict{Action: ActionRST, Kill: true}
		}
		// TW-PROC-9: the peer's FIN: real TIME-WAIT from now on.
		r.Substate = SubstateTimeWait
		r.RcvNxt = uint32(end)
		if sawTS {
			r.TSRecent = seg.TSVal
			r.TSRecentStamp = SecClock(now)
			if cfg.Profile == Linux618 {
				r.EntryStamp = MsClock(now) // TW-REUSE-5
			}
		}
		timeout := TimeWaitLen
		// RECYCLE-5: the peer cache is refreshed and the record keeps its
		// recycle timeout.
		if cfg.Profile != Linux618 && cfg.TWRecycle && r.TSRecentStamp != 0 &&
			cfg.Peers != nil && cfg.Peers.RememberTW(r, now) && r.Flags&FlagRecycleOK != 0 {
			timeout = r.RTO35()
		}
		return Verdict{Action: ActionACK, Rearm: true, RearmTimeout: timeout}
	}

	// Substate TIME_WAIT.
	// TW-PROC-10: an exact segment may only be a RST or a bare ACK.
	if !pawsReject && seq == rcvNxt && (end == seq || rst) {
		var v Verdict
		if rst {
			if !cfg.RFC1337 {
				return Verdict{Kill: true} // TW-PROC-11: assassination
			}
			// TW-PROC-12: ignored; only kernels up to the 4.18 era re-armed.
			if cfg.Profile != Linux618 {
				v = Verdict{Rearm: true, RearmTimeout: TimeWaitLen}
			}
		} else {
			v = Verdict{Rearm: true, RearmTimeout: TimeWaitLen} // TW-PROC-13
		}
		if sawTS {
			r.TSRecent = seg.TSVal
			r.TSRecentStamp = SecClock(now)
		}
		return v
	}

	// TW-PROC-14: a new connection's SYN, newer by sequence or timestamp.
	if syn && !rst && !ack && !pawsReject &&
		(seq.GreaterThan(rcvNxt) || (sawTS && int32(r.TSRecent-seg.TSVal) < 0)) {
		return Verdict{Action: ActionSYN, ISN: r.ISN()}
	}

	// TW-PROC-15: counter by profile (VER-4, MIB-4/5).
	if pawsReject {
		if cfg.Profile == Linux618 {
			inc(m, metrics.TcpExtPAWSTimewait)
		} else {
			inc(m, metrics.TcpExtPAWSEstab)
		}
	}

	// TW-PROC-17: any other RST is ignored.
	if rst {
		return Verdict{}
	}
	// TW-PROC-16: everything else gets an ACK; an ACK-less SYN does not
	// re-arm (it may be a new SYN with a random ISN below R).
	v := r.oowRateLimit(seg, now, cfg, m, metrics.TcpExtTCPACKSkippedTimeWait)
	if pawsReject || ack {
		v.Rearm, v.RearmTimeout = true, TimeWaitLen
	}
	return v
}

// inWindow is the kernel's tcp_in_window for [s, e] (TW-PROC-4): seq at the
// left edge, or overlapping the window, or a zero-length segment at the
// right edge.
func inWindow(seq, end, s, e seqnum.Value) bool {
	if seq == s {
		return true
	}
	if end.GreaterThan(s) && seq.LessThan(e) {
		return true
	}
	return seq == e && seq == end
}

// pawsReject is tcp_paws_reject with tolerance 0 (PAWS-3/4/5/6/9).
func (r *Record) pawsReject(tsval uint32, rst bool, now int64, p Profile) bool {
	if int32(r.TSRecent-tsval) <= 0 {
		return false
	}
	nowS := SecClock(now)
	if p == Linux618 {
		if int32(nowS-(r.TSRecentStamp+pawsWrap)) >= 0 { // PAWS-4, wrapping compare
			return false
		}
	} else if int64(nowS) >= int64(r.TSRecentStamp)+paws24Days {
		return false
	}
	if r.TSRecent == 0 { // PAWS-5
		return false
	}
	// PAWS-6: a RST older than TCP_PAWS_MSL since T was recorded passes.
	if rst {
		if p == Linux618 {
			if int32(nowS-(r.TSRecentStamp+pawsMSL)) >= 0 {
				return false
			}
		} else if int64(nowS) >= int64(r.TSRecentStamp)+pawsMSL {
			return false
		}
	}
	return true
}

// oowRateLimit is tcp_timewait_check_oow_rate_limit (TW-PROC-18).
func (r *Record) oowRateLimit(seg *Segment, now int64, cfg *Config, m *metrics.Counters, skipped metrics.ID) Verdict {
	ackV := Verdict{Action: ActionACK, OOW: cfg.Profile == Linux618}
	if cfg.Profile == Linux310 { // VER-3: no limiter before 4.0
		return ackV
	}
	// Segments with sequence space that are not SYNs cannot be part of an
	// ACK loop: never limited.
	if seg.EndSeq() != seg.Seq && seg.Flags&FlagSYN == 0 {
		return ackV
	}
	j := MsClock(now)
	if r.LastOOWAckTime != 0 {
		elapsed := int32(j - r.LastOOWAckTime)
		if 0 <= elapsed && int64(elapsed) < cfg.InvalidRateLimit/1e6 {
			inc(m, skipped)
			return Verdict{}
		}
	}
	r.LastOOWAckTime = j
	return ackV
}

func inc(m *metrics.Counters, id metrics.ID) {
	if m != nil {
		m.Inc(id)
	}
}
