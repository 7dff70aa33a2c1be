package packetdrill

import (
	"fmt"

	"github.com/ustack/ustack/integration/packetdrill/script"
)

// idleRTOMin is TCP_RTO_MIN: no RTO, hence no idle restart, is shorter.
const idleRTOMin = 200_000

// idleWatch tells when a script asked for tcp_slow_start_after_idle=0 on a
// stack that always restarts cwnd after idle (CondIdleRestart) could have
// been affected. Linux checks when write() queues new data
// (tcp_skb_entail -> tcp_slow_start_after_idle_check): with nothing in
// flight and more than an RTO since data was last sent (lsndtime), it calls
// tcp_cwnd_restart. The watch is conservative: any such write after
// TCP_RTO_MIN or more counts.
type idleWatch struct {
	watch     bool
	violation string

	active   bool   // a connection exists (handshake seen)
	lastSend int64  // lsndtime: last data sent, or the handshake
	sndMax   uint32 // highest sequence sent (live)
	ackMax   uint32 // highest ACK received (live)
	haveAck  bool
}

func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// sent looks at an outbound packet of the flow.
func (w *idleWatch) sent(p *wirePacket) {
	if !w.watch {
		return
	}
	end := p.Seq + uint32(p.PayloadLen)
	if p.Flags&script.FlagSYN != 0 {
		w.active, w.lastSend, w.sndMax = true, p.At, p.Seq+1
		return
	}
	if !w.active || p.PayloadLen == 0 {
		return
	}
	w.lastSend = p.At
	if seqAfter(end, w.sndMax) {
		w.sndMax = end
	}
}

// received looks at an inbound packet (live numbers).
func (w *idleWatch) received(p *wirePacket, now int64) {
	if !w.watch || p.Flags&script.FlagACK == 0 {
		return
	}
	if !w.haveAck || seqAfter(p.Ack, w.ackMax) {
		if w.active && !w.haveAck {
			// The ACK completing a passive open: the child socket's
			// lsndtime starts here.
			w.lastSend = now
		}
		w.ackMax, w.haveAck = p.Ack, true
	}
}

// write is called before a call that queues data.
func (w *idleWatch) write(now int64) {
	if !w.watch || !w.active || !w.haveAck || w.violation != "" {
		return
	}
	nothingInFlight := !seqAfter(w.sndMax, w.ackMax)
	if idle := now - w.lastSend; nothingInFlight && idle > idleRTOMin {
		w.violation = fmt.Sprintf("tcp_slow_start_after_idle=0 (no knob; the engine restarts cwnd after idle) matters here: data written after %s sec idle with nothing in flight",
			script.FormatUsecs(idle))
	}
}
