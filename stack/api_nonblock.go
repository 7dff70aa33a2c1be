package stack

import (
	"net"
	"syscall"

	"github.com/ustack/ustack/tcp"
)

// The non-blocking socket API: what a BSD-socket layer (the packetdrill
// runner, an event loop) needs on top of net.Conn. Nothing here waits, and
// errors are *net.OpError values wrapping syscall errnos like the blocking
// calls; "would block" is syscall.EAGAIN (errors.Is(err, syscall.EAGAIN)).

// Send flags for WriteFlags, with Linux's values.
const (
	MsgDontWait = 0x40   // MSG_DONTWAIT: do not block (EAGAIN when nothing fits)
	MsgEOR      = 0x80   // MSG_EOR: end of record; later data starts a new segment
	MsgMore     = 0x8000 // MSG_MORE: more data follows; hold a partial segment as TCP_CORK does
)

// PollEvents is a poll(2) event mask, with Linux's bit values.
type PollEvents uint32

// Poll event bits.
const (
	PollIn    PollEvents = 0x0001 // POLLIN: data, EOF or a pending error to read; a connection to accept
	PollPri   PollEvents = 0x0002 // POLLPRI (urgent data: never set, ustack has no urgent data)
	PollOut   PollEvents = 0x0004 // POLLOUT: room in the send buffer, or the send side is shut
	PollErr   PollEvents = 0x0008 // POLLERR: a pending error (see SoError)
	PollHup   PollEvents = 0x0010 // POLLHUP: both directions shut, or the connection is CLOSE
	PollNval  PollEvents = 0x0020 // POLLNVAL: the socket was closed by the user
	PollRdHup PollEvents = 0x2000 // POLLRDHUP: the peer's FIN arrived, or shutdown(SHUT_RD)
)

// TryRead is read(2) on a non-blocking socket: it returns what is
// readable now, io.EOF at the end of the stream, a pending error, or a
// *net.OpError wrapping syscall.EAGAIN. Deadlines do not apply.
func (t *TCPConn) TryRead(p []byte) (int, error) { return t.read(p, false) }

// TryWrite is write(2) on a non-blocking socket: it copies what fits into
// the send buffer and returns that count (a short write), or EAGAIN when
// nothing fits (also while the handshake is still in progress).
func (t *TCPConn) TryWrite(p []byte) (int, error) { return t.write(p, 0, false) }

// WriteFlags is send(2) with flags: MsgMore holds a partial segment for
// more data (as under TCP_CORK, for this call only) until a later write,
// an ACK under Nagle, TCP_NODELAY, uncorking or close pushes it; MsgEOR
// ends a record: later data never shares a segment with it (a write that
// returns short sets no mark, as in Linux); MsgDontWait makes the call
// non-blocking like TryWrite. Other bits are EINVAL.
func (t *TCPConn) WriteFlags(p []byte, flags int) (int, error) {
	if flags&^(MsgDontWait|MsgEOR|MsgMore) != 0 {
		return 0, t.opErr("write", syscall.EINVAL)
	}
	return t.write(p, flags, flags&MsgDontWait == 0)
}

// PollEvents returns the connection's poll(2) readiness as Linux's
// tcp_poll computes it:
//   - PollHup when both directions are shut or the connection is CLOSE
//     (reset, timed out, TIME-WAIT reached);
//   - PollIn|PollRdHup once the peer's FIN arrived or after
//     shutdown(SHUT_RD); PollIn when data is queued;
//   - outside SYN-SENT, PollOut when Write would accept data or the send
//     side is shut (CloseWrite, or CLOSE);
//   - PollErr while an error is pending (until SoError or a read or write
//     reports it).
//
// In SYN-SENT nothing but PollErr/PollHup can be set, so a non-blocking
// connect (Dialer.Start) completed when PollOut or PollErr appears. After
// Close it returns PollNval.
func (t *TCPConn) PollEvents() PollEvents {
	if t.closed.Load() {
		return PollNval
	}
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return t.pollLocked()
}

func (t *TCPConn) pollLocked() PollEvents {
	e := t.c.tc
	st := e.State()
	// A socket reaching TIME-WAIT is done for its owner (tcp_time_wait
	// ends in tcp_done: CLOSE, both directions shut), record or not.
	closed := st == tcp.StateClose || st == tcp.StateTimeWait
	rcvShut := t.rdShut || closed || finReceived(st)
	sndShut := t.wrShut || closed
	var ev PollEvents
	if (rcvShut && sndShut) || closed {
		ev |= PollHup
	}
	if rcvShut {
		ev |= PollIn | PollRdHup
	}
	if st != tcp.StateSynSent && st != tcp.StateSynRecv {
		if e.Readable() {
			ev |= PollIn
		}
		if sndShut || e.Writable() {
			ev |= PollOut
		}
	}
	if e.Err() != nil && !t.errTaken {
		ev |= PollErr
	}
	return ev
}

// finReceived reports states in which the peer's FIN has been received
// (RCV_SHUTDOWN set by tcp_fin).
func finReceived(st tcp.State) bool {
	switch st {
	case tcp.StateCloseWait, tcp.StateLastAck, tcp.StateClosing:
		return true
	}
	return false
}

// SoError is getsockopt(SO_ERROR): the pending error (ECONNREFUSED,
// ECONNRESET, ETIMEDOUT, EHOSTUNREACH...) or 0, and clears it: a second
// call returns 0 and PollErr drops. A read or write that reports the error
// clears it as well, as sock_error does; after that reads return io.EOF and
// writes EPIPE.
func (t *TCPConn) SoError() syscall.Errno {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.tc.Err()
	if err == nil || t.errTaken {
		// Like sock_error: with no hard error, SO_ERROR reports (and
		// clears) the soft one, e.g. an ICMP error seen while retrying.
		return c.tc.TakeSoftErr()
	}
	t.errTaken = true
	if errno, ok := engineErr(err).(syscall.Errno); ok {
		return errno
	}
	return syscall.EIO
}

// PollEvents returns the listener's readiness: PollIn when Accept would
// return a connection at once (inet_csk_listen_poll), PollNval after Close.
func (l *TCPListener) PollEvents() PollEvents {
	if l.closed.Load() {
		return PollNval
	}
	if l.Pending() > 0 {
		return PollIn
	}
	return 0
}

var _ net.Conn = (*TCPConn)(nil)
