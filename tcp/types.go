package tcp

import (
	"time"

	"github.com/ustack/ustack/tcp/header"
)

// Time is a point on the stack's clock in nanoseconds since the clock's
// origin. The engine never reads a clock: every entry point takes now.
type Time int64

// Duration converts t to a time.Duration since the origin.
func (t Time) Duration() time.Duration { return time.Duration(t) }

// Tuple identifies a connection from the local side. It is comparable and
// used directly as the key of the stack's established table. timewait.Tuple
// has the same layout, so the two convert to each other.
type Tuple struct {
	LocalAddr  [4]byte
	RemoteAddr [4]byte
	LocalPort  uint16
	RemotePort uint16
}

// Segment is a parsed incoming segment. Payload aliases the packet buffer and
// is only valid during the call it is passed to.
type Segment struct {
	Seq     uint32
	Ack     uint32
	Flags   uint8 // header.Flag*
	Window  uint16
	Payload []byte
	// HasOptions reports a data offset > 5 (TW-PROC-1 cares).
	HasOptions bool
	Opts       header.Options
}

// SegLen returns the sequence space the segment occupies (payload + SYN + FIN).
func (s *Segment) SegLen() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags&header.FlagSYN != 0 {
		n++
	}
	if s.Flags&header.FlagFIN != 0 {
		n++
	}
	return n
}

// Emitter receives the segments the engine produces. The stack implements it
// with preallocated buffers that reserve headroom for the IP header and
// flushes them to the device after the connection's lock is released, so the
// engine never writes to a device itself.
type Emitter interface {
	// Buffer returns a buffer of at least n bytes for one TCP segment
	// (header, options and payload). It stays valid until the next Send.
	Buffer(n int) []byte
	// Send queues seg (a prefix of the last Buffer result, with the TCP
	// checksum already filled in) for transmission from t.LocalAddr to
	// t.RemoteAddr.
	Send(t Tuple, seg []byte)
}

// State is the RFC 9293 connection state, numbered like the kernel's
// TCP_* states so that /proc/net/tcp and ss output match.
type State uint8

const (
	StateEstablished State = 1
	StateSynSent     State = 2
	StateSynRecv     State = 3
	StateFinWait1    State = 4
	StateFinWait2    State = 5
	StateTimeWait    State = 6
	StateClose       State = 7
	StateCloseWait   State = 8
	StateLastAck     State = 9
	StateListen      State = 10
	StateClosing     State = 11
)

var stateNames = [...]string{
	StateEstablished: "ESTAB",
	StateSynSent:     "SYN-SENT",
	StateSynRecv:     "SYN-RECV",
	StateFinWait1:    "FIN-WAIT-1",
	StateFinWait2:    "FIN-WAIT-2",
	StateTimeWait:    "TIME-WAIT",
	StateClose:       "CLOSE",
	StateCloseWait:   "CLOSE-WAIT",
	StateLastAck:     "LAST-ACK",
	StateListen:      "LISTEN",
	StateClosing:     "CLOSING",
}

// String returns the name ss uses for the state.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// Event is a bit set of things the API layer may be waiting for. The engine
// accumulates them; the stack takes them with Conn.TakeEvents after the call
// and wakes waiters after releasing the connection's lock.
type Event uint16

const (
	EventReadable    Event = 1 << iota // data, EOF or an error can be read
	EventWritable                      // send buffer space freed
	EventEstablished                   // handshake completed
	EventError                         // Err() became non-nil (reset, refused, timeout)
	EventClosed                        // reached CLOSE; the stack unhashes the connection
	EventTimeWait                      // ready to be downgraded: call TimeWaitInfo
	EventLingerDone                    // FIN acknowledged (CLOSE-13)
)
