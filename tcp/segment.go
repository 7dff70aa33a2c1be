package tcp

import (
	"errors"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// ErrBadHeader reports a TCP header shorter than 20 bytes or a data offset
// outside the segment. Such a segment is dropped and counted (InErrs).
var ErrBadHeader = errors.New("tcp: malformed header")

// ParseSegment fills seg from the TCP bytes b (header, options, payload)
// without allocating. Option anomalies are tolerated the way Linux
// tolerates them (header.ParseOptions keeps what it could parse), so only a
// broken fixed header is an error. Ports are the caller's business.
func ParseSegment(b []byte, seg *Segment) error {
	t := header.TCP(b)
	if !t.Valid() {
		return ErrBadHeader
	}
	seg.Seq = t.Seq()
	seg.Ack = t.Ack()
	seg.Flags = t.Flags()
	seg.Window = t.Window()
	seg.Payload = t.Payload()
	opts := t.Options()
	seg.HasOptions = len(opts) > 0
	if seg.HasOptions {
		_ = header.ParseOptions(opts, &seg.Opts)
	} else {
		seg.Opts = header.Options{}
	}
	return nil
}

// SendReset answers seg with a RST as tcp_v4_send_reset does (TW-RESP-2):
// SEQ = SEG.ACK if the ACK bit was set, else SEQ 0 and RST|ACK acknowledging
// the segment. A RST is never answered. t is the reply's tuple (local =
// the segment's destination).
func SendReset(t Tuple, seg *Segment, e Emitter) {
	if seg.Flags&header.FlagRST != 0 {
		return
	}
	f := header.Fields{SrcPort: t.LocalPort, DstPort: t.RemotePort, DataOffset: header.TCPMinSize}
	if seg.Flags&header.FlagACK != 0 {
		f.Seq = seg.Ack
		f.Flags = header.FlagRST
	} else {
		f.Ack = seg.Seq + seg.SegLen()
		f.Flags = header.FlagRST | header.FlagACK
	}
	b := e.Buffer(header.TCPMinSize)
	s := header.TCP(b[:header.TCPMinSize])
	s.Encode(&f)
	s.SetChecksum(header.TCPChecksum(t.LocalAddr, t.RemoteAddr, s))
	e.Send(t, s)
}

// SendTimeWaitACK emits the ACK of a TIME-WAIT record (TW-RESP-1): SEQ
// snd_nxt, ACK rcv_nxt, the frozen window already scaled, and the TS
// option when the connection used timestamps.
func SendTimeWaitACK(t Tuple, seq, ack uint32, win uint16, hasTS bool, tsval, tsecr uint32, e Emitter) {
	var o header.Options
	if hasTS {
		o.HasTS, o.TSVal, o.TSEcr = true, tsval, tsecr
	}
	hl := header.TCPMinSize + header.OptionsLen(&o)
	b := e.Buffer(hl)
	s := header.TCP(b[:hl])
	s.Encode(&header.Fields{
		SrcPort: t.LocalPort, DstPort: t.RemotePort,
		Seq: seq, Ack: ack, DataOffset: uint8(hl),
		Flags: header.FlagACK, Window: win,
	})
	header.PutOptions(b[header.TCPMinSize:hl], &o)
	s.SetChecksum(header.TCPChecksum(t.LocalAddr, t.RemoteAddr, s))
	e.Send(t, s)
}

// replyReset answers seg with a TW-RESP-2 RST from this connection's tuple.
func (c *Conn) replyReset(seg *Segment, e Emitter) {
	if seg.Flags&header.FlagRST != 0 {
		return
	}
	SendReset(c.tuple, seg, e)
	c.inc(metrics.TcpOutSegs)
	c.inc(metrics.TcpOutRsts)
}
