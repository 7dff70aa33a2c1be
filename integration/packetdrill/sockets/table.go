package sockets

import (
	"errors"
	"io"
	"net/netip"
	"sort"
	"syscall"
)

// Table is a process's descriptor table over one Net. It is not safe for
// concurrent use: the runner drives it from one goroutine.
type Table struct {
	net Net
	// LocalAddr is the stack's address; BindPort the port bind(..., ...)
	// picks; ConnectAddr where connect(..., ...) goes (packetdrill's
	// defaults: 8080 both ways).
	LocalAddr   netip.Addr
	BindPort    uint16
	ConnectAddr netip.AddrPort
	fds         map[int]*file
	// lingering holds descriptors whose blocking close(2) waits for the
	// FIN to be acknowledged (SO_LINGER with a timeout): the number stays
	// taken until the call returns.
	lingering map[int]*file
}

type fileKind uint8

const (
	kindSocket fileKind = iota
	kindEpoll
)

type file struct {
	kind     fileKind
	nonblock bool

	// socket
	opts       Options
	bound      netip.AddrPort
	listener   Listener
	conn       Conn
	connecting bool // connect() started and not yet reported complete
	shutRD     bool
	written    int // progress of a blocking write that blocked part way

	// epoll
	items map[int]*epollItem
}

// NewTable returns an empty table.
func NewTable(n Net, local netip.Addr, remote netip.AddrPort) *Table {
	return &Table{net: n, LocalAddr: local, BindPort: 8080, ConnectAddr: remote, fds: map[int]*file{}}
}

func (t *Table) alloc(f *file) int {
	fd := 3
	for t.fds[fd] != nil || t.lingering[fd] != nil {
		fd++
	}
	t.fds[fd] = f
	return fd
}

func (t *Table) sock(fd int) (*file, error) {
	f := t.fds[fd]
	if f == nil {
		return nil, syscall.EBADF
	}
	if f.kind != kindSocket {
		return nil, syscall.ENOTSOCK
	}
	return f, nil
}

func (f *file) block(err error) error {
	if errors.Is(err, syscall.EAGAIN) && !f.nonblock {
		return ErrBlocked
	}
	return err
}

// Socket is socket(2). Arguments below zero mean "..." (any).
func (t *Table) Socket(domain, typ, proto int64) (int, error) {
	if domain >= 0 && domain != AF_INET {
		return -1, unsupported("socket domain %d (IPv4 only)", domain)
	}
	if typ >= 0 && typ&0xf != SOCK_STREAM {
		return -1, unsupported("socket type %d (TCP only)", typ)
	}
	if proto > 0 && proto != IPPROTO_TCP {
		return -1, unsupported("socket protocol %d", proto)
	}
	return t.alloc(&file{kind: kindSocket, nonblock: typ >= 0 && typ&O_NONBLOCK != 0}), nil
}

// Bind is bind(2); an invalid addr means the default local address.
func (t *Table) Bind(fd int, addr netip.AddrPort) error {
	f, err := t.sock(fd)
	if err != nil {
		return err
	}
	if f.bound.IsValid() || f.conn != nil || f.listener != nil {
		return syscall.EINVAL
	}
	if !addr.IsValid() {
		addr = netip.AddrPortFrom(t.LocalAddr, t.BindPort)
	}
	f.bound = addr
	return nil
}

// Listen is listen(2).
func (t *Table) Listen(fd int, backlog int) error {
	f, err := t.sock(fd)
	if err != nil {
		return err
	}
	if f.conn != nil {
		return syscall.EINVAL
	}
	if f.listener != nil {
		return nil
	}
	if !f.bound.IsValid() {
		return unsupported("listen() without bind() (autobind to an ephemeral port)")
	}
	l, err := t.net.Listen(f.bound, backlog, &f.opts)
	if err != nil {
		return err
	}
	f.listener = l
	return nil
}

// Accept is accept(2).
func (t *Table) Accept(fd int) (int, error) {
	f, err := t.sock(fd)
	if err != nil {
		return -1, err
	}
	if f.listener == nil {
		return -1, syscall.EINVAL
	}
	c, err := f.listener.Accept()
	if err != nil {
		return -1, f.block(err)
	}
	return t.alloc(&file{kind: kindSocket, conn: c}), nil
}

// Connect is connect(2); an invalid raddr means the default remote address.
// A blocking connect that is retried after ErrBlocked completes with 0.
func (t *Table) Connect(fd int, raddr netip.AddrPort) error {
	f, err := t.sock(fd)
	if err != nil {
		return err
	}
	if f.listener != nil {
		return syscall.EINVAL
	}
	if f.conn == nil {
		if !raddr.IsValid() {
			raddr = t.ConnectAddr
		}
		c, err := t.net.Connect(f.bound, raddr, &f.opts)
		if err != nil {
			return err
		}
		f.conn, f.connecting = c, true
		if f.nonblock {
			return syscall.EINPROGRESS
		}
		return t.connectProgress(f)
	}
	if f.connecting {
		if err := t.connectProgress(f); err != ErrBlocked || !f.nonblock {
			return err
		}
		return syscall.EALREADY
	}
	return syscall.EISCONN
}

func (t *Table) connectProgress(f *file) error {
	ev, est := f.conn.Poll()
	switch {
	case est:
		f.connecting = false
		return nil
	case ev&(POLLERR|POLLHUP) != 0:
		f.connecting = false
		if err := f.conn.SoError(); err != nil {
			return err
		}
		return syscall.ECONNREFUSED
	}
	return ErrBlocked
}

func (t *Table) conn(fd int) (*file, error) {
	f, err := t.sock(fd)
	if err != nil {
		return nil, err
	}
	if f.conn == nil {
		return nil, syscall.ENOTCONN
	}
	return f, nil
}

// Read is read(2)/recv(2) of up to n bytes; it returns the count.
func (t *Table) Read(fd int, n int) (int, error) {
	f, err := t.conn(fd)
	if err != nil {
		return -1, err
	}
	if f.connecting {
		if err := t.connectProgress(f); err != nil {
			return -1, f.block(syscall.EAGAIN)
		}
	}
	buf := make([]byte, n)
	got, err := f.conn.Read(buf)
	if err == io.EOF {
		return 0, nil
	}
	if errors.Is(err, syscall.EAGAIN) && f.shutRD {
		// After SHUT_RD Linux returns 0 instead of blocking, yet still
		// hands out data that arrives later.
		return 0, nil
	}
	if err != nil {
		return -1, f.block(err)
	}
	return got, nil
}

// Write is write(2)/send(2)/sendmsg(2) of n bytes.
func (t *Table) Write(fd int, n int, flags WriteFlags) (int, error) {
	f, err := t.conn(fd)
	if err != nil {
		return -1, err
	}
	if f.connecting {
		if err := t.connectProgress(f); err != nil {
			return -1, f.block(syscall.EAGAIN)
		}
	}
	buf := make([]byte, n-f.written)
	got, err := f.conn.Write(buf, flags)
	if err != nil && !errors.Is(err, syscall.EAGAIN) {
		f.written = 0
		return -1, err
	}
	total := f.written + got
	switch {
	case total == n:
		f.written = 0
		return total, nil
	case f.nonblock && total > 0:
		return total, nil
	case f.nonblock:
		return -1, syscall.EAGAIN
	}
	f.written = total
	return -1, ErrBlocked
}

// Shutdown is shutdown(2).
func (t *Table) Shutdown(fd int, how int) error {
	f, err := t.conn(fd)
	if err != nil {
		return err
	}
	if how < SHUT_RD || how > SHUT_RDWR {
		return syscall.EINVAL
	}
	if how != SHUT_WR {
		f.shutRD = true
	}
	return f.conn.Shutdown(how)
}

// Close is close(2). On a blocking socket whose Conn is a Lingerer
// still lingering, it returns ErrBlocked and the retried call completes
// once the lingering ends (CLOSE-13).
func (t *Table) Close(fd int) error {
	if f := t.lingering[fd]; f != nil {
		if l, ok := f.conn.(Lingerer); ok && l.Lingering() {
			return ErrBlocked
		}
		delete(t.lingering, fd)
		return nil
	}
	f := t.fds[fd]
	if f == nil {
		return syscall.EBADF
	}
	delete(t.fds, fd)
	for _, g := range t.fds {
		if g.kind == kindEpoll {
			delete(g.items, fd)
		}
	}
	switch {
	case f.listener != nil:
		return f.listener.Close()
	case f.conn != nil:
		if err := f.conn.Close(); err != nil {
			return err
		}
		if l, ok := f.conn.(Lingerer); ok && !f.nonblock && l.Lingering() {
			if t.lingering == nil {
				t.lingering = map[int]*file{}
			}
			t.lingering[fd] = f
			return ErrBlocked
		}
		return nil
	}
	return nil
}

// Fcntl is fcntl(2) with F_GETFL/F_SETFL.
func (t *Table) Fcntl(fd int, cmd int, arg int64) (int64, error) {
	f := t.fds[fd]
	if f == nil {
		return -1, syscall.EBADF
	}
	switch cmd {
	case F_GETFL:
		fl := int64(O_RDWR)
		if f.nonblock {
			fl |= O_NONBLOCK
		}
		return fl, nil
	case F_SETFL:
		f.nonblock = arg&O_NONBLOCK != 0
		return 0, nil
	}
	return -1, unsupported("fcntl command %d", cmd)
}

// Ioctl is ioctl(2) with SIOCINQ.
func (t *Table) Ioctl(fd int, req int64) (int64, error) {
	f, err := t.sock(fd)
	if err != nil {
		return -1, err
	}
	switch req {
	case SIOCINQ:
		if f.listener != nil {
			return -1, syscall.EINVAL
		}
		if f.conn == nil {
			return 0, nil
		}
		return int64(f.conn.InQ()), nil
	}
	return -1, unsupported("ioctl request %#x", req)
}

// SetSockopt is setsockopt(2).
func (t *Table) SetSockopt(fd int, level, name int, v Value) error {
	f, err := t.sock(fd)
	if err != nil {
		return err
	}
	if err := f.opts.Remember(level, name, v); err != nil {
		return err
	}
	switch {
	case f.listener != nil:
		return f.listener.SetOption(level, name, v)
	case f.conn != nil:
		return f.conn.SetOption(level, name, v)
	}
	return nil
}

// Remember records an option set before the socket is opened; it rejects
// values Linux rejects.
func (o *Options) Remember(level, name int, v Value) error {
	switch {
	case level == SOL_SOCKET && name == SO_REUSEADDR:
		o.ReuseAddr = v.Int != 0
	case level == SOL_SOCKET && name == SO_SNDBUF:
		o.SndBuf = int(v.Int)
	case level == SOL_SOCKET && name == SO_RCVBUF:
		o.RcvBuf = int(v.Int)
	case level == SOL_SOCKET && name == SO_LINGER:
		if !v.IsLinger {
			return syscall.EINVAL
		}
		vv := v
		o.Linger = &vv
	case level == SOL_TCP && name == TCP_MAXSEG:
		if v.Int != 0 && (v.Int < 88 || v.Int > 65535-40) {
			return syscall.EINVAL
		}
		o.MaxSeg = int(v.Int)
	case level == SOL_TCP && name == TCP_NODELAY:
		o.NoDelay = v.Int != 0
	case level == SOL_TCP && name == TCP_CORK:
		o.Cork = v.Int != 0
	case level == SOL_TCP && name == TCP_USER_TIMEOUT:
		if v.Int < 0 {
			return syscall.EINVAL
		}
		o.UserTimeout = int(v.Int)
	case level == SOL_TCP && name == TCP_INQ:
		o.INQ = v.Int != 0
	default:
		o.Other = append(o.Other, SetOpt{level, name, v})
	}
	return nil
}

// GetSockopt is getsockopt(2).
func (t *Table) GetSockopt(fd int, level, name int) (Value, error) {
	f, err := t.sock(fd)
	if err != nil {
		return Value{}, err
	}
	if level == SOL_SOCKET && name == SO_ERROR {
		if f.conn == nil {
			return Value{}, nil
		}
		e := f.conn.SoError()
		var errno syscall.Errno
		if e != nil && !errors.As(e, &errno) {
			return Value{}, e
		}
		return Value{Int: int64(errno)}, nil
	}
	if f.conn != nil {
		return f.conn.GetOption(level, name)
	}
	o := &f.opts
	switch {
	case level == SOL_TCP && name == TCP_MAXSEG:
		if o.MaxSeg != 0 {
			return Value{Int: int64(o.MaxSeg)}, nil
		}
		return Value{Int: 536}, nil // TCP_MSS_DEFAULT before a connection exists
	case level == SOL_SOCKET && name == SO_REUSEADDR:
		return Value{Int: b2i(o.ReuseAddr)}, nil
	case level == SOL_TCP && name == TCP_NODELAY:
		return Value{Int: b2i(o.NoDelay)}, nil
	case level == SOL_TCP && name == TCP_USER_TIMEOUT:
		return Value{Int: int64(o.UserTimeout)}, nil
	}
	for i := len(o.Other) - 1; i >= 0; i-- {
		if so := o.Other[i]; so.Level == level && so.Name == name {
			return so.Value, nil
		}
	}
	return Value{}, unsupported("getsockopt %s before the socket is connected", OptName(level, name))
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// PollFD is one entry of poll(2).
type PollFD struct {
	FD      int
	Events  uint32
	Revents uint32
}

// Poll is poll(2) with a zero timeout: it fills Revents and returns how many
// entries are ready. The runner handles waiting.
func (t *Table) Poll(fds []PollFD) int {
	n := 0
	for i := range fds {
		fds[i].Revents = t.readiness(fds[i].FD) & (fds[i].Events | POLLERR | POLLHUP | POLLNVAL)
		if fds[i].Revents != 0 {
			n++
		}
	}
	return n
}

// readiness is the socket's poll mask, as tcp_poll computes it.
func (t *Table) readiness(fd int) uint32 {
	f := t.fds[fd]
	switch {
	case f == nil:
		return POLLNVAL
	case f.listener != nil:
		if f.listener.Pending() {
			return POLLIN
		}
		return 0
	case f.conn != nil:
		ev, _ := f.conn.Poll()
		return ev
	}
	// A socket never connected: tcp_poll reports POLLOUT|POLLHUP for CLOSE.
	return POLLOUT | POLLHUP
}

// SortedFDs lists the open descriptors (for tests and diagnostics).
func (t *Table) SortedFDs() []int {
	var out []int
	for fd := range t.fds {
		out = append(out, fd)
	}
	sort.Ints(out)
	return out
}

// BoundPort returns the port a socket is bound to.
func (t *Table) BoundPort(fd int) (uint16, error) {
	f, err := t.sock(fd)
	if err != nil {
		return 0, err
	}
	if !f.bound.IsValid() {
		return 0, syscall.EINVAL
	}
	return f.bound.Port(), nil
}

// InqHint is the TCP_CM_INQ value after a read: the bytes still queued, or
// 1 when none are but the peer's FIN arrived (tcp_inq_hint tells the reader
// to keep reading to see EOF).
func (t *Table) InqHint(fd int) (int64, error) {
	f, err := t.conn(fd)
	if err != nil {
		return 0, err
	}
	if !f.opts.INQ {
		return 0, unsupported("TCP_CM_INQ without setsockopt(TCP_INQ)")
	}
	n := f.conn.InQ()
	if n == 0 {
		if ev, _ := f.conn.Poll(); ev&POLLRDHUP != 0 {
			return 1, nil
		}
	}
	return int64(n), nil
}
