package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ustack/ustack/tcp"
)

// TCPConn is a TCP connection of a Stack. It implements net.Conn and is
// safe for concurrent use. Blocking calls wait on per-connection wake-ups
// signalled by the packet path after it released the connection's lock.
type TCPConn struct {
	s      *Stack
	c      *conn
	laddr  *net.TCPAddr
	raddr  *net.TCPAddr
	rd, wd *deadline
	closed atomic.Bool
	done   chan struct{} // closed by Close: blocked calls return net.ErrClosed

	linger atomic.Int64 // SO_LINGER seconds as given to SetLinger; -1 = off
}

func newTCPConn(s *Stack, c *conn) *TCPConn {
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
	// Go's net package turns TCP_NODELAY on for every TCP connection.
	s.run(c, func(e *tcp.Conn, now tcp.Time, b *batch) { e.SetNoDelay(true, now, b) })
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

// Read implements net.Conn. It returns io.EOF after the peer's FIN.
func (t *TCPConn) Read(p []byte) (int, error) {
	if t.closed.Load() {
		return 0, t.opErr("read", net.ErrClosed)
	}
	for {
		if t.rd.expired() {
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
		}
		t.s.afterEngine(c, b)
		if n == 0 && err == nil && len(p) > 0 {
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

// Write implements net.Conn: it blocks until all of p is in the send
// buffer, the deadline passes or the connection fails.
func (t *TCPConn) Write(p []byte) (int, error) {
	if t.closed.Load() {
		return 0, t.opErr("write", net.ErrClosed)
	}
	written := 0
	for {
		if t.wd.expired() {
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
			n, err = c.tc.Write(p[written:], t.s.now(), b)
		}
		t.s.afterEngine(c, b)
		written += n
		if written < len(p) && err == nil && n == 0 {
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
// it blocks until the FIN is acknowledged or n seconds pass (CLOSE-13).
func (t *TCPConn) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return t.opErr("close", net.ErrClosed)
	}
	close(t.done)
	s, c := t.s, t.c
	var ch <-chan struct{}
	b := s.getBatch()
	c.mu.Lock()
	c.userClose = true
	c.prepare(b)
	c.tc.Close(s.now(), b)
	s.afterEngine(c, b)
	if !c.hashed && c.ownsPort {
		s.ports.release(c.tuple.LocalPort, c)
		c.ownsPort = false
	}
	secs := t.linger.Load()
	if secs > 0 && lingering(c.tc.State()) {
		ch = c.wq.wait()
	}
	c.mu.Unlock()
	s.putBatch(b)
	if ch == nil {
		return nil
	}
	timer := time.NewTimer(time.Duration(secs) * time.Second)
	defer timer.Stop()
	for {
		select {
		case <-ch:
		case <-timer.C:
			return nil // the socket lives on as an orphan (CLOSE-13)
		case <-s.closed:
			return nil
		}
		c.mu.Lock()
		if !lingering(c.tc.State()) {
			c.mu.Unlock()
			return nil
		}
		ch = c.wq.wait()
		c.mu.Unlock()
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
	t.s.run(t.c, func(e *tcp.Conn, now tcp.Time, b *batch) { err = e.Shutdown(read, write, now, b) })
	if err != nil {
		return t.opErr(op, engineErr(err))
	}
	return nil
}

// CloseWrite shuts down the sending side (shutdown(SHUT_WR), CLOSE-18).
func (t *TCPConn) CloseWrite() error { return t.shutdown("close", false, true) }

// CloseRead shuts down the receiving side (shutdown(SHUT_RD)).
func (t *TCPConn) CloseRead() error { return t.shutdown("close", true, false) }

func (t *TCPConn) setOpt(f func(e *tcp.Conn, now tcp.Time, b *batch)) error {
	if t.closed.Load() {
		return t.opErr("set", net.ErrClosed)
	}
	t.s.run(t.c, f)
	return nil
}

// SetLinger sets SO_LINGER with Go's meaning: sec < 0 is the default
// (close returns at once, the FIN goes out in the background); sec == 0
// resets the connection on Close (CLOSE-7); sec > 0 makes Close wait up to
// sec seconds for the FIN to be acknowledged (CLOSE-13).
func (t *TCPConn) SetLinger(sec int) error {
	t.linger.Store(int64(sec))
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) { e.SetLinger(sec >= 0, max(sec, 0)) })
}

// SetNoDelay sets TCP_NODELAY (on by default, as in Go).
func (t *TCPConn) SetNoDelay(noDelay bool) error {
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, b *batch) { e.SetNoDelay(noDelay, now, b) })
}

// SetKeepAlive sets SO_KEEPALIVE.
func (t *TCPConn) SetKeepAlive(keepalive bool) error {
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, _ *batch) { e.SetKeepAlive(keepalive, 0, 0, 0, now) })
}

// SetKeepAlivePeriod sets TCP_KEEPIDLE and TCP_KEEPINTVL to d (as Go does)
// and turns keepalive on.
func (t *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	d = max(d.Round(time.Second), time.Second)
	return t.setOpt(func(e *tcp.Conn, now tcp.Time, _ *batch) { e.SetKeepAlive(true, d, d, 0, now) })
}

// SetReadBuffer sets SO_RCVBUF.
func (t *TCPConn) SetReadBuffer(bytes int) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) { e.SetRecvBuffer(bytes) })
}

// SetWriteBuffer sets SO_SNDBUF.
func (t *TCPConn) SetWriteBuffer(bytes int) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) { e.SetSendBuffer(bytes) })
}

// SetLinger2 sets TCP_LINGER2 (FW2-8).
func (t *TCPConn) SetLinger2(sec int) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) { e.SetLinger2(sec) })
}

// SetUserTimeout sets TCP_USER_TIMEOUT (0 turns it off).
func (t *TCPConn) SetUserTimeout(d time.Duration) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) { e.SetUserTimeout(d) })
}

// SetMaxSeg sets TCP_MAXSEG.
func (t *TCPConn) SetMaxSeg(mss int) error {
	return t.setOpt(func(e *tcp.Conn, _ tcp.Time, _ *batch) { e.SetMaxSeg(mss) })
}

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
// in the send buffer or an error to report.
func (t *TCPConn) Poll() (readable, writable bool) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.tc.Readable(), t.c.tc.Writable()
}

// Info returns TCP_INFO-like data.
func (t *TCPConn) Info() tcp.Info {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.tc.Info()
}

var _ net.Conn = (*TCPConn)(nil)
