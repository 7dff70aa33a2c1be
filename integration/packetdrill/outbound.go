package packetdrill

import (
	"fmt"

	"github.com/ustack/ustack/integration/packetdrill/script"
)

// sniffLimit is how long past its expected time the runner waits for an
// outbound packet (packetdrill waits 2 s beyond the expected time), and
// anyTimeLimit the wait for a packet at time '*'.
const (
	sniffLimit   = 2_000_000
	anyTimeLimit = 600_000_000
)

// nextPacket returns the next queued outbound packet, advancing the clock
// (timer to timer) until one is sent or the deadline passes.
func (rn *run) nextPacket(deadline int64) (*wirePacket, error) {
	if err := rn.collect(); err != nil {
		return nil, err
	}
	for len(rn.queue) == 0 {
		now := rn.now()
		if now >= deadline {
			return nil, nil
		}
		next := deadline
		if tp, ok := rn.h.(TimerPeeker); ok {
			dl, ok := tp.NextTimer()
			if !ok && rn.pending == nil {
				return nil, nil // nothing will ever be sent
			}
			if ok && dl-rn.origin < next {
				next = max(dl-rn.origin, now)
			}
		} else {
			next = min(next, now+100) // 100 us steps when timers are opaque
		}
		if next == now {
			next = now + 1
		}
		rn.h.AdvanceTo(next + rn.origin)
		if err := rn.collect(); err != nil {
			return nil, err
		}
		if err := rn.retryPending(); err != nil {
			return nil, err
		}
	}
	p := rn.queue[0]
	rn.queue = rn.queue[1:]
	return p, nil
}

// outbound checks the next packet(s) the stack sent against a '>' line.
// Like packetdrill without --strict_segments, consecutive segments are
// aggregated until they carry the payload the script expects, so a script
// written for a TSO/GSO kernel matches a stack that sends one MSS per
// packet: fragments must agree on everything but FIN, PSH, CWR and seq,
// and all but the last must be the same size.
func (rn *run) outbound(ev *script.Event, start, end int64, tol int64) error {
	sp := ev.Packet
	if sp.IPInfo != "" {
		return unsupportedf("IP header fields in packets (%s)", sp.IPInfo)
	}
	if sp.HasPorts {
		return unsupportedf("explicit ports in packets")
	}
	deadline := max(start, end) + sniffLimit
	if ev.Time.Kind == script.TimeAny {
		deadline = rn.now() + anyTimeLimit
	}
	var frags []*wirePacket
	total := 0
	for {
		p, err := rn.nextPacket(deadline)
		if err != nil {
			return err
		}
		if p == nil {
			if len(frags) == 0 {
				return failf(ev.Line, "timed out waiting for outbound packet %s (expected at %s sec)", sp, script.FormatUsecs(start))
			}
			break
		}
		if len(frags) > 0 {
			prev := frags[len(frags)-1]
			if msg := fragmentMismatch(p, prev, rn.flow.localISN, total, int(sp.Len)); msg != "" {
				return failf(ev.Line, "outbound packet: %s\n  script packet: %s\n  actual packets: %s", msg, sp, rn.describe(append(frags, p)))
			}
		}
		frags = append(frags, p)
		total += p.PayloadLen
		if total >= int(sp.Len) {
			break
		}
	}
	live := aggregate(frags, total)
	rn.flow.toScript(live, sp)
	actual := fmt.Sprintf("%s %s", script.FormatUsecs(live.At), formatScript('>', live))
	if total != int(sp.Len) {
		return failf(ev.Line, "live packet payload: expected %d bytes vs actual %d bytes\n  script packet: %s\n  actual packet: %s",
			sp.Len, total, sp, actual)
	}
	if err := rn.checkTime(ev, start, end, live.At, tol, "outbound packet"); err != nil {
		return failf(ev.Line, "%s\n  script packet: %s\n  actual packet: %s", err, sp, actual)
	}
	if end := live.Seq + uint32(live.PayloadLen); rn.tso && live.PayloadLen > 0 &&
		(live.Flags^sp.Flags) == script.FlagPSH && !rn.writeEnds[end] {
		// In a TSO kernel, where PSH lands inside a write depends on the
		// skb layout (forced pushes mark whole 64 KB skbs, tcp_fragment
		// moves PSH to the unsent tail); a stack sending one MSS per
		// packet cannot reproduce it. PSH is compared where a write ends.
		rn.notef("line %d: PSH not compared: the segment ends inside a write (TSO artifact)", ev.Line)
		live.Flags = sp.Flags
	}
	if msg := rn.comparePacket(sp, live, start); msg != "" {
		return failf(ev.Line, "%s\n  script packet: %s %s\n  actual packet: %s", msg, script.FormatUsecs(start), sp, actual)
	}
	if rn.lastInjectLine > 0 && live.At < rn.lastInjectAt {
		// Within tolerance, so packetdrill accepts it too; but the packet
		// cannot be a response to the inbound packet before it.
		rn.notef("line %d: the packet was sent at %s sec, before the inbound packet of line %d (%s sec)",
			ev.Line, script.FormatUsecs(live.At), rn.lastInjectLine, script.FormatUsecs(rn.lastInjectAt))
	}
	rn.logf("%s ok %s", script.FormatUsecs(live.At), sp)
	return nil
}

func (rn *run) describe(ps []*wirePacket) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += "; "
		}
		q := *p
		q.Seq -= rn.flow.localISN
		if q.Flags&script.FlagACK != 0 {
			q.Ack -= remoteISN
		}
		s += script.FormatUsecs(q.At) + " " + formatScript('>', &q)
	}
	return s
}

// fragmentMismatch checks that p can follow prev in one aggregate.
func fragmentMismatch(p, prev *wirePacket, isn uint32, sofar, want int) string {
	const ignore = script.FlagFIN | script.FlagPSH | script.FlagCWR
	switch {
	case p.Flags&^ignore != prev.Flags&^ignore || p.AE != prev.AE:
		return fmt.Sprintf("aggregate candidate flags %s do not match %s", flagString(p.Flags, p.AE), flagString(prev.Flags, prev.AE))
	case prev.Flags&script.FlagFIN != 0:
		return "data after a FIN in an aggregate"
	case p.Seq != prev.Seq+uint32(prev.PayloadLen):
		return fmt.Sprintf("aggregate candidate seq %d does not follow %d+%d", p.Seq-isn, prev.Seq-isn, prev.PayloadLen)
	case p.Ack != prev.Ack:
		return "aggregate candidates have different ack numbers"
	case p.Win != prev.Win:
		return "aggregate candidates have different windows"
	case sofar+p.PayloadLen < want && p.PayloadLen != prev.PayloadLen:
		return fmt.Sprintf("fragment payload: expected %d bytes vs actual %d bytes; total payload: expected %d bytes vs actual %d bytes",
			prev.PayloadLen, p.PayloadLen, want, sofar+p.PayloadLen)
	}
	return ""
}

// aggregate merges fragments like packetdrill's aggregate_packets: headers
// of the last, seq and CWR of the first.
func aggregate(frags []*wirePacket, total int) *wirePacket {
	last := *frags[len(frags)-1]
	last.Options = append([]script.TCPOption(nil), last.Options...)
	for i := range last.Options {
		if last.Options[i].SACK != nil {
			last.Options[i].SACK = append([]script.SACKBlock(nil), last.Options[i].SACK...)
		}
	}
	if len(frags) > 1 {
		first := frags[0]
		last.Seq = first.Seq
		last.Flags = last.Flags&^script.FlagCWR | first.Flags&script.FlagCWR
		last.PayloadLen = total
	}
	return &last
}

func (rn *run) checkTime(ev *script.Event, start, end, actual, tol int64, what string) error {
	switch ev.Time.Kind {
	case script.TimeAny:
		return nil
	case script.TimeAbsoluteRange, script.TimeRelativeRange:
		if actual < start-tol || actual > end+tol {
			return fmt.Errorf("timing error: expected %s in time range %s~%s sec but happened at %s sec",
				what, script.FormatUsecs(start), script.FormatUsecs(end), script.FormatUsecs(actual))
		}
		return nil
	}
	if actual < start-tol || actual > start+tol {
		return fmt.Errorf("timing error: expected %s at %s sec but happened at %s sec; tolerance %s sec",
			what, script.FormatUsecs(start), script.FormatUsecs(actual), script.FormatUsecs(tol))
	}
	return nil
}

// comparePacket checks the fields a script gives; live is in script space.
//
// An outbound TS val is only checked with --tcp_ts_tick_usecs, against a
// tolerance that grows with the time since the script started, as
// packetdrill's verify_outbound_tcp_option does.
func (rn *run) comparePacket(sp *script.Packet, live *wirePacket, at int64) string {
	if live.Flags != sp.Flags || live.AE != sp.AE {
		return fmt.Sprintf("bad outbound TCP flags: expected %s vs actual %s", sp.FlagText, flagString(live.Flags, live.AE))
	}
	if live.Seq != sp.Seq {
		return fmt.Sprintf("live packet field tcp_seq: expected: %d vs actual: %d", sp.Seq, live.Seq)
	}
	wantAck := sp.Ack
	if !sp.HasAck {
		wantAck = 0
	}
	if live.Flags&script.FlagACK != 0 || wantAck != 0 {
		if live.Ack != wantAck {
			return fmt.Sprintf("live packet field tcp_ack_seq: expected: %d vs actual: %d", wantAck, live.Ack)
		}
	}
	if sp.HasWin && uint32(live.Win) != sp.Win {
		return fmt.Sprintf("live packet field tcp_window: expected: %d vs actual: %d", sp.Win, live.Win)
	}
	if sp.HasUrg && uint32(live.Urg) != sp.Urg {
		return fmt.Sprintf("live packet field tcp_urg_ptr: expected: %d vs actual: %d", sp.Urg, live.Urg)
	}
	if sp.OptionsAny {
		return ""
	}
	if len(sp.Options) != len(live.Options) {
		return "bad outbound TCP options"
	}
	for i, so := range sp.Options {
		lo := live.Options[i]
		if so.Kind != lo.Kind {
			return "bad outbound TCP options"
		}
		switch so.Kind {
		case script.OptTimestamp:
			if rn.tsTick > 0 {
				diff := int64(int32(lo.TSVal - so.TSVal))
				if diff < 0 {
					diff = -diff
				}
				tol := rn.tolerance(at)
				if diff*rn.tsTick > tol {
					return fmt.Sprintf("bad outbound TCP timestamp value, tolerance %d usecs: expected %d vs actual %d", tol, so.TSVal, lo.TSVal)
				}
			}
		default:
			if so.String() != lo.String() {
				return fmt.Sprintf("bad value in outbound TCP option (kind=%d): expected: %s actual: %s", so.Kind, so, lo)
			}
		}
	}
	return ""
}
