package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ustack/ustack/tcp"
)

// TCPConn is a TCP connection of a Stack. It implements net.Conn and is
// safe for concurrent use. Blocking calls wait on per-connection wake-ups
// signalled by the packet path after it released the connection's lock;
// the Try* variants, PollEvents and SoError give the non-blocking socket
// API (see api_nonblock.go).
type TCPConn struct {
	s      *Stack
	c      *conn
	laddr  *net.TCPAddr
	raddr  *net.TCPAddr
	rd, wd *deadline
	closed atomic.Bool
	done   chan struct{} // closed by Close: blocked calls return net.ErrClosed

	linger atomic.Int64 // SO_LINGER seconds as given to SetLinger; -1 = off

	// Guarded by c.mu.
	errTaken bool     // the pending error (sk_err) was reported: SO_ERROR, read or write
	rdShut   bool     // shutdown(SHUT_RD) by the user (RCV_SHUTDOWN)
	wrShut   bool     // shutdown(SHUT_WR) by the user (SEND_SHUTDOWN)
	opts     sockOpts // socket options as set, for the getters

	// The SO_LINGER wait of a close in progress (StartClose): the clock
	// instant it ends at and the alarm filed for it. Guarded by lingerMu.
	lingerMu   sync.Mutex
	lingerAt   tcp.Time
	lingerCh   <-chan struct{}
	lingerStop func()
}

// wrapConn makes the TCPConn of c without touching the engine. Its
// recorded options start with TCP_NODELAY on, which Go sets on every TCP
// connection (the dial and accept paths set it in the engine).
func wrapConn(s *Stack, c *conn) *TCPConn {
	t := c.tuple
	tc := &TCPConn{
		s:     s,
		c:     c,
		laddr: tcpAddr(t.LocalAddr, t.LocalPort),
		raddr: tcpAddr(t.RemoteAddr, t.RemotePort),
		rd:    newDeadline(),
		wd:    newDeadline(),
		done:  make(chan struct{}),
	}
	tc.linger.Store(-1)
	tc.opts = defaultSockOpts()
	tc.opts.noDelay = true
	return tc
}

func tcpAddr(a [4]byte, port uint16) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(a), port))
}

func (t *TCPConn) opErr(op string, err error) error { return opError(op, t.laddr, t.raddr, err) }

// LocalAddr implements net.Conn.
func (t *TCPConn) LocalAddr() net.Addr { return t.laddr }

// RemoteAddr implements net.Conn.
func (t *TCPConn) RemoteAddr() net.Addr { return t.raddr }

// errno converts the engine's errors to a syscall.Errno where it has one.
func engineErr(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// Read implements net.Conn. It returns io.EOF after the peer's FIN. A
// pending error (reset, timeout) is returned once, like read(2) clearing
// sk_err; later reads then see the end of the stream (io.EOF).
func (t *TCPConn) Read(p []byte) (int, error) { return t.read(p, true) }

func (t *TCPConn) read(p []byte, block bool) (int, error) {
	if t.closed.Load() {
		return 0, t.opErr("read", net.ErrClosed)
	}
	for {
		if block && t.rd.expired() {
			return 0, t.opErr("read", os.ErrDeadlineExceeded)
		}
		var n int
		var err error
		var ch <-chan struct{}
		c := t.c
		b := t.s.getBatch()
		c.mu.Lock()
		c.prepare(b)
		if len(p) == 0 {
			// A zero-length read returns at once, like read(2).
		} else {
			n, err = c.tc.Read(p, t.s.now(), b)
			err = t.takeErrLocked(err, io.EOF)
		}
		t.s.afterEngine(c, b)
		if n == 0 && err == nil && len(p) > 0 && block {
			ch = c.rq.wait()
		}
		c.mu.Unlock()
		t.s.putBatch(b)
		switch {
		case n > 0 || len(p) == 0:
			return n, nil
		case err == io.EOF:
			return 0, io.EOF
		case err != nil:
			return 0, t.opErr("read", engineErr(err))
		case !block:
			return 0, t.opErr("read", syscall.EAGAIN)
		}
		select {
		case <-ch:
		case <-t.rd.wait():
		case <-t.done:
			return 0, t.opErr("read", net.ErrClosed)
		case <-t.s.closed:
			return 0, t.opErr("read", net.ErrClosed)
		}
	}
}

// takeErrLocked applies sock_error's read-and-clear to an error the engine
// returned: its connection error is reported once (then err stands in),
// anything else passes through. c.mu is held.
func (t *TCPConn) takeErrLocked(got, after error) error {
	if got == nil || got == io.EOF {
		return got
	}
	if cerr := t.c.tc.Err(); cerr == nil || !errors.Is(got, cerr) {
		return got
	}
	if t.errTaken {
		return after
	}
	t.errTaken = true
	return got
}

// Write implements net.Conn: it blocks until all of p is in the send
// buffer, the deadline passes or the connection fails.
func (t *TCPConn) Write(p []byte) (int, error) { return t.write(p, 0, true) }

func (t *TCPConn) write(p []byte, flags int, block bool) (int, error) {
	if t.closed.Load() {
		return 0, t.opErr("write", net.ErrClosed)
	}
	var mf tcp.MsgFlags
	if flags&MsgMore != 0 {
		mf |= tcp.MsgMore
	}
	if flags&MsgEOR != 0 {
		// Only a call that copies all of its data marks the record end
		// (the engine checks), so the mark lands on the last chunk.
		mf |= tcp.MsgEOR
	}
	written := 0
	for {
		if block && t.wd.expired() {
			return written, t.opErr("write", os.ErrDeadlineExceeded)
		}
		var n int
		var err error
		var ch <-chan struct{}
		c := t.c
		b := t.s.getBatch()
		c.mu.Lock()
		c.prepare(b)
		if written < len(p) {
			n, err = c.tc.WriteMsg(p[written:], mf, t.s.now(), b)
			err = t.takeErrLocked(err, syscall.EPIPE)
		}
		t.s.afterEngine(c, b)
		written += n
		if written < len(p) && err == nil && n == 0 && block {
			ch = c.wq.wait()
		}
		c.mu.Unlock()
		t.s.putBatch(b)
		if err != nil {
			return written, t.opErr("write", engineErr(err))
		}
		if written == len(p) {
			return written, nil
		}
		if !block {
			if written > 0 {
				return written, nil // a partial write, like send(2) with MSG_DONTWAIT
			}
			return 0, t.opErr("write", syscall.EAGAIN)
		}
		if ch == nil {
			continue // partial progress: try again at once
		}
		select {
		case <-ch:
		case <-t.wd.wait():
		case <-t.done:
			return written, t.opErr("write", net.ErrClosed)
		case <-t.s.closed:
			return written, t.opErr("write", net.ErrClosed)
		}
	}
}

// Close implements net.Conn: tcp_close (CLOSE-1..17). With SetLinger(n>0)
// it blocks until the FIN is acknowledged or n seconds pass on the stack's
// clock (CLOSE-13); on a VirtualClock that wait ends when the clock is
// advanced past it, never by sleeping. StartClose is the non-blocking form.
func (t *TCPConn) Close() error {
	if err := t.StartClose(); err != nil {
		return err
	}
	for {
		t.lingerMu.Lock()
		alarm := t.lingerCh
		t.lingerMu.Unlock()
		if alarm == nil {
			return nil
		}
		c := t.c
		c.mu.Lock()
		var ch <-chan struct{}
		if lingering(c.tc.State()) {
			ch = c.wq.wait()
		}
		c.mu.Unlock()
		if ch == nil {
			t.endLinger()
			return nil
		}
		select {
		case <-ch:
		case <-alarm:
			t.endLinger()
			return nil // the socket lives on as an orphan (CLOSE-13)
		case <-t.s.closed:
			t.endLinger()
			return nil
		}
	}
}

// StartClose is close(2) without the SO_LINGER wait: the connection is
// closed now (FIN or RST sent as Close would) and the call returns at
// once. Lingering then reports whether a blocking Close would still be
// waiting; with a VirtualClock the end of that wait is one of the clock's
// deadlines (NextDeadline).
func (t *TCPConn) StartClose() error {
	if !t.closed.CompareAndSwap(false, true) {
		return t.opErr("close", net.ErrClosed)
	}
	close(t.done)
	s, c := t.s, t.c
	b := s.getBatch()
	c.mu.Lock()
	c.userClose = true
	c.prepare(b)
	c.tc.Close(s.now(), b)
	s.afterEngine(c, b)
	if c.hashed && c.tc.State() == tcp.StateClose {
		s.unhash(c) // closed in SYN_SENT (CLOSE-8) or reset: nothing left
	}
	if !c.hashed && c.ownsPort {
		s.ports.release(c.tuple.LocalPort, c)
		c.ownsPort = false
	}
	secs := t.linger.Load()
	wait := secs > 0 && lingering(c.tc.State())
	c.mu.Unlock()
	s.putBatch(b)
	if wait {
		at := s.clock.Now() + tcp.Time(secs)*tcp.Time(time.Second)
		ch, stop := clockAlarm(s.clock, at)
		t.lingerMu.Lock()
		t.lingerAt, t.lingerCh, t.lingerStop = at, ch, stop
		t.lingerMu.Unlock()
	}
	return nil
}

// Lingering reports whether a close with SO_LINGER > 0 is still waiting
// for its FIN to be acknowledged (the state is FIN_WAIT1, CLOSING or
// LAST_ACK and the linger time has not run out on the stack's clock).
func (t *TCPConn) Lingering() bool {
	t.lingerMu.Lock()
	at, ch := t.lingerAt, t.lingerCh
	t.lingerMu.Unlock()
	if ch == nil {
		return false
	}
	if !isClosedChan(ch) && t.s.clock.Now() < at {
		t.c.mu.Lock()
		still := lingering(t.c.tc.State())
		t.c.mu.Unlock()
		if still {
			return true
		}
	}
	t.endLinger()
	return false
}

func (t *TCPConn) endLinger() {
	t.lingerMu.Lock()
	stop := t.lingerStop
	t.lingerCh, t.lingerStop = nil, nil
	t.lingerMu.Unlock()
	if stop != nil {
		stop()
	}
}

func lingering(st tcp.State) bool {
	return st == tcp.StateFinWait1 || st == tcp.StateClosing || st == tcp.StateLastAck
}

func (t *TCPConn) shutdown(op string, read, write bool) error {
	if t.closed.Load() {
		return t.opErr(op, net.ErrClosed)
	}
	var err error
	t.s.run(t.c, func(e *tcp.Conn, now tcp.Time, b *batch) {
		err = e.Shutdown(read, write, now, b)
		// inet_shutdown marks the directions even when it reports ENOTCONN.
		t.rdShut = t.rdShut || read
		t.wrShut = t.wrShut || write
	})
	if err != nil {
		return t.opErr(op, engineErr(err))
	}
	return nil
}

// CloseWrite shuts down the sending side (shutdown(SHUT_WR), CLOSE-18).
func (t *TCPConn) CloseWrite() error { return t.shutdown("close", false, true) }

// CloseRead shuts down the receiving side (shutdown(SHUT_RD)).
func (t *TCPConn) CloseRead() error { return t.shutdown("close", true, false) }

// SetDeadline implements net.Conn.
func (t *TCPConn) SetDeadline(d time.Time) error {
	if t.closed.Load() {
		return t.opErr("set", net.ErrClosed)
	}
	t.rd.set(d)
	t.wd.set(d)
	return nil
}

// SetReadDeadline implements net.Conn.
func (t *TCPConn) SetReadDeadline(d time.Time) error {
	if t.closed.Load() {
		return t.opErr("set", net.ErrClosed)
	}
	t.rd.set(d)
	return nil
}

// SetWriteDeadline implements net.Conn.
func (t *TCPConn) SetWriteDeadline(d time.Time) error {
	if t.closed.Load() {
		return t.opErr("set", net.ErrClosed)
	}
	t.wd.set(d)
	return nil
}

// State returns the engine's state of the connection (CLOSE once it became
// a TIME-WAIT record or was reset).
func (t *TCPConn) State() tcp.State {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if !t.c.hashed && t.c.tc.State() == tcp.StateTimeWait {
		return tcp.StateClose // TW-ENTER-9
	}
	return t.c.tc.State()
}

// Poll reports, without blocking, whether Read and Write would return at
// once (poll(2)'s POLLIN and POLLOUT): data, EOF or an error to read; room
// in the send buffer or an error to report. PollEvents gives the full
// tcp_poll mask (POLLERR, POLLHUP, POLLRDHUP, SYN-SENT rules).
func (t *TCPConn) Poll() (readable, writable bool) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.tc.Readable(), t.c.tc.Writable()
}

// Info returns getsockopt(TCP_INFO): the engine's snapshot taken at the
// stack's current time (ages such as tcpi_last_data_recv count to now).
func (t *TCPConn) Info() tcp.Info {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.tc.InfoAt(t.s.now())
}

var _ net.Conn = (*TCPConn)(nil)
