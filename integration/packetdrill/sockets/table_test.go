package sockets

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
)

// stubConn is a connection whose readiness the test sets by hand.
type stubConn struct {
	established bool
	failed      error
	inq         int
	eof         bool
	space       int // bytes Write accepts
	rwake       uint64
	wwake       uint64
	shut        []int
}

func (c *stubConn) Read(p []byte) (int, error) {
	switch {
	case c.inq > 0:
		n := min(len(p), c.inq)
		c.inq -= n
		return n, nil
	case c.eof:
		return 0, io.EOF
	}
	return 0, syscall.EAGAIN
}

func (c *stubConn) Write(p []byte, _ WriteFlags) (int, error) {
	if c.space == 0 {
		return 0, syscall.EAGAIN
	}
	n := min(len(p), c.space)
	c.space -= n
	return n, nil
}

func (c *stubConn) Shutdown(how int) error { c.shut = append(c.shut, how); return nil }
func (c *stubConn) Close() error           { return nil }
func (c *stubConn) Poll() (uint32, bool) {
	var ev uint32
	if c.inq > 0 || c.eof {
		ev |= POLLIN
	}
	if c.space > 0 && c.established {
		ev |= POLLOUT
	}
	if c.failed != nil {
		ev |= POLLERR | POLLHUP
	}
	return ev, c.established
}
func (c *stubConn) SoError() error                    { e := c.failed; c.failed = nil; return e }
func (c *stubConn) InQ() int                          { return c.inq }
func (c *stubConn) SetOption(int, int, Value) error   { return nil }
func (c *stubConn) GetOption(int, int) (Value, error) { return Value{Int: 1000}, nil }
func (c *stubConn) LocalAddr() netip.AddrPort         { return netip.AddrPort{} }
func (c *stubConn) RemoteAddr() netip.AddrPort        { return netip.AddrPort{} }
func (c *stubConn) Wakeups() (uint64, uint64)         { return c.rwake, c.wwake }
func (n *stubNet) Listen(netip.AddrPort, int, *Options) (Listener, error) {
	return nil, syscall.EOPNOTSUPP
}

type stubNet struct {
	conn *stubConn
	opts *Options
}

func (n *stubNet) Connect(_, _ netip.AddrPort, o *Options) (Conn, error) {
	n.opts = o
	return n.conn, nil
}

func newTable(c *stubConn) (*Table, *stubNet) {
	n := &stubNet{conn: c}
	return NewTable(n, netip.MustParseAddr("192.168.0.1"), netip.MustParseAddrPort("192.0.2.1:8080")), n
}

func TestNonBlockingConnectSequence(t *testing.T) {
	c := &stubConn{}
	tab, n := newTable(c)
	fd, _ := tab.Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
	if err := tab.SetSockopt(fd, SOL_TCP, TCP_MAXSEG, Value{Int: 1100}); err != nil {
		t.Fatal(err)
	}
	if v, _ := tab.GetSockopt(fd, SOL_TCP, TCP_MAXSEG); v.Int != 1100 {
		t.Errorf("TCP_MAXSEG before connect = %d, want 1100", v.Int)
	}
	if err := tab.SetSockopt(fd, SOL_TCP, TCP_MAXSEG, Value{Int: 10}); err != syscall.EINVAL {
		t.Errorf("TCP_MAXSEG 10: %v, want EINVAL", err)
	}
	tab.Fcntl(fd, F_SETFL, O_RDWR|O_NONBLOCK)
	if fl, _ := tab.Fcntl(fd, F_GETFL, 0); fl != O_RDWR|O_NONBLOCK {
		t.Errorf("F_GETFL = %#x", fl)
	}
	steps := []error{syscall.EINPROGRESS, syscall.EALREADY}
	for _, want := range steps {
		if err := tab.Connect(fd, netip.AddrPort{}); err != want {
			t.Fatalf("connect = %v, want %v", err, want)
		}
	}
	if n.opts.MaxSeg != 1100 {
		t.Errorf("options at connect: %+v", n.opts)
	}
	if _, err := tab.Read(fd, 10); err != syscall.EAGAIN {
		t.Errorf("read while connecting = %v, want EAGAIN", err)
	}
	c.established = true
	if err := tab.Connect(fd, netip.AddrPort{}); err != nil {
		t.Errorf("connect after completion = %v, want 0", err)
	}
	if err := tab.Connect(fd, netip.AddrPort{}); err != syscall.EISCONN {
		t.Errorf("connect again = %v, want EISCONN", err)
	}
}

func TestBlockingConnectRefused(t *testing.T) {
	c := &stubConn{}
	tab, _ := newTable(c)
	fd, _ := tab.Socket(-1, SOCK_STREAM, IPPROTO_TCP)
	if err := tab.Connect(fd, netip.AddrPort{}); err != ErrBlocked {
		t.Fatalf("blocking connect = %v, want ErrBlocked", err)
	}
	c.failed = syscall.ECONNREFUSED
	if err := tab.Connect(fd, netip.AddrPort{}); err != syscall.ECONNREFUSED {
		t.Errorf("connect after RST = %v, want ECONNREFUSED", err)
	}
}

func TestReadWriteBlocking(t *testing.T) {
	c := &stubConn{established: true, space: 100}
	tab, _ := newTable(c)
	fd, _ := tab.Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
	tab.Connect(fd, netip.AddrPort{})
	// A blocking write that only partly fits blocks, then completes with
	// the full count.
	if _, err := tab.Write(fd, 250, WriteFlags{}); err != ErrBlocked {
		t.Fatalf("write = %v, want ErrBlocked", err)
	}
	c.space = 200
	if n, err := tab.Write(fd, 250, WriteFlags{}); n != 250 || err != nil {
		t.Errorf("write retry = %d, %v; want 250", n, err)
	}
	// Non-blocking: a partial count, then EAGAIN.
	tab.Fcntl(fd, F_SETFL, O_NONBLOCK)
	c.space = 30
	if n, err := tab.Write(fd, 50, WriteFlags{}); n != 30 || err != nil {
		t.Errorf("non-blocking write = %d, %v; want 30", n, err)
	}
	if _, err := tab.Write(fd, 50, WriteFlags{}); err != syscall.EAGAIN {
		t.Errorf("full buffer: %v, want EAGAIN", err)
	}
	// After SHUT_RD an empty receive queue reads as EOF.
	if err := tab.Shutdown(fd, SHUT_RD); err != nil || len(c.shut) != 1 {
		t.Fatal(err)
	}
	if n, err := tab.Read(fd, 10); n != 0 || err != nil {
		t.Errorf("read after SHUT_RD = %d, %v; want 0", n, err)
	}
	c.inq = 5
	if n, _ := tab.Read(fd, 10); n != 5 {
		t.Errorf("data after SHUT_RD: read %d, want 5", n)
	}
	if v, err := tab.Ioctl(fd, SIOCINQ); v != 0 || err != nil {
		t.Errorf("SIOCINQ = %d, %v", v, err)
	}
	if err := tab.Close(fd); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Read(fd, 1); !errors.Is(err, syscall.EBADF) {
		t.Errorf("read after close: %v, want EBADF", err)
	}
}

// Edge-triggered epoll reports an item once per wake-up, level-triggered
// every time it is ready (epoll_in_edge.pkt's expectations).
func TestEpollEdgeTriggered(t *testing.T) {
	c := &stubConn{established: true, space: 1000}
	tab, _ := newTable(c)
	fd, _ := tab.Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
	tab.Connect(fd, netip.AddrPort{})
	ep, _ := tab.EpollCreate(1)
	if err := tab.EpollCtl(ep, EPOLL_CTL_ADD, fd, EPOLLIN|EPOLLOUT|EPOLLET, uint64(fd)); err != nil {
		t.Fatal(err)
	}
	wait := func() []EpollEvent {
		evs, err := tab.EpollWait(ep, 1)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	if evs := wait(); len(evs) != 1 || evs[0].Events != EPOLLOUT {
		t.Fatalf("first wait = %+v, want EPOLLOUT", evs)
	}
	if evs := wait(); len(evs) != 0 {
		t.Fatalf("second wait = %+v, want nothing", evs)
	}
	c.inq, c.rwake = 4000, c.rwake+1
	if evs := wait(); len(evs) != 1 || evs[0].Events != EPOLLIN|EPOLLOUT {
		t.Fatalf("after data = %+v, want EPOLLIN|EPOLLOUT", evs)
	}
	tab.Read(fd, 1000)
	if evs := wait(); len(evs) != 0 {
		t.Fatalf("after a partial read = %+v, want nothing", evs)
	}
	c.rwake++
	if evs := wait(); len(evs) != 1 {
		t.Fatalf("after more data = %+v, want one event", evs)
	}
	// Level-triggered: reported while ready.
	if err := tab.EpollCtl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, 9); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if evs := wait(); len(evs) != 1 || evs[0].Events != EPOLLIN || evs[0].Data != 9 {
			t.Fatalf("level-triggered wait %d = %+v", i, evs)
		}
	}
}

func TestErrnoName(t *testing.T) {
	if got := ErrnoName(syscall.EAGAIN); got != "EAGAIN" {
		t.Errorf("ErrnoName(EAGAIN) = %s", got)
	}
	if got := ErrnoName(syscall.ECONNRESET); got != "ECONNRESET" {
		t.Errorf("ErrnoName(ECONNRESET) = %s", got)
	}
}

// lingerConn is a stubConn whose Close lingers until the test says so.
type lingerConn struct {
	stubConn
	lingering bool
}

func (c *lingerConn) Lingering() bool { return c.lingering }

// TestCloseLingers (CLOSE-13): a blocking close(2) of a Lingerer still
// lingering returns ErrBlocked, keeps the descriptor number taken, and the
// retried call returns 0 once lingering ends; a non-blocking close returns
// at once.
func TestCloseLingers(t *testing.T) {
	c := &lingerConn{lingering: true}
	n := &stubNet{}
	tab := NewTable(n, netip.MustParseAddr("192.168.0.1"), netip.MustParseAddrPort("192.0.2.1:8080"))
	fd, _ := tab.Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
	tab.fds[fd].conn = c
	if err := tab.Close(fd); err != ErrBlocked {
		t.Fatalf("close while lingering = %v, want ErrBlocked", err)
	}
	if fd2, _ := tab.Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP); fd2 == fd {
		t.Errorf("descriptor %d reused while its close blocks", fd)
	}
	if err := tab.Close(fd); err != ErrBlocked {
		t.Fatalf("retried close while lingering = %v, want ErrBlocked", err)
	}
	c.lingering = false
	if err := tab.Close(fd); err != nil {
		t.Fatalf("close after lingering = %v, want 0", err)
	}
	if err := tab.Close(fd); err != syscall.EBADF {
		t.Errorf("second close = %v, want EBADF", err)
	}

	nb := &lingerConn{lingering: true}
	fd, _ = tab.Socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
	tab.fds[fd].conn, tab.fds[fd].nonblock = nb, true
	if err := tab.Close(fd); err != nil {
		t.Errorf("non-blocking close = %v, want 0", err)
	}
}
