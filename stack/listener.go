package stack

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// TCPListener is a listening socket of a Stack; it implements
// net.Listener and is safe for concurrent use.
type TCPListener struct {
	s      *Stack
	l      *listener
	addr   *net.TCPAddr
	dl     *deadline
	closed atomic.Bool
	done   chan struct{}

	optMu sync.Mutex // guards opts
	opts  sockOpts   // inherited by accepted connections
}

// Listen is net.Listen on the stack: network "tcp" or "tcp4", address
// "host:port" with an IPv4 literal or an empty host (INADDR_ANY); port 0
// picks an ephemeral port. The backlog is net.core.somaxconn, like Go's.
// SO_REUSEADDR is set, as Go does for listeners.
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	laddr, err := resolve(network, address)
	if err != nil {
		return nil, opError("listen", nil, nil, err)
	}
	return s.ListenTCP(network, laddr)
}

// ListenTCP is net.ListenTCP on the stack.
func (s *Stack) ListenTCP(network string, laddr *net.TCPAddr) (*TCPListener, error) {
	return ListenConfig{}.ListenTCP(s, network, laddr)
}

// ListenBacklog is ListenTCP with listen(2)'s backlog argument, capped at
// net.core.somaxconn like the kernel does.
func (s *Stack) ListenBacklog(network string, laddr *net.TCPAddr, backlog int) (*TCPListener, error) {
	return ListenConfig{Backlog: backlog}.ListenTCP(s, network, laddr)
}

// ListenConfig holds listen options beyond the address.
type ListenConfig struct {
	// Backlog is listen(2)'s argument, capped at net.core.somaxconn;
	// 0 means somaxconn (what Go passes).
	Backlog int
	// ReusePort sets SO_REUSEPORT, which lets listeners on overlapping
	// addresses of one port coexist (PORT-8). ustack has no reuseport
	// groups: two listeners on the very same address and port still
	// conflict.
	ReusePort bool
}

// Listen is ListenTCP with an address string.
func (lc ListenConfig) Listen(s *Stack, network, address string) (*TCPListener, error) {
	laddr, err := resolve(network, address)
	if err != nil {
		return nil, opError("listen", nil, nil, err)
	}
	return lc.ListenTCP(s, network, laddr)
}

// ListenTCP creates a listener with the configured options.
func (lc ListenConfig) ListenTCP(s *Stack, network string, laddr *net.TCPAddr) (*TCPListener, error) {
	backlog := lc.Backlog
	if backlog <= 0 {
		backlog = s.o().Somaxconn
	}
	if network != "tcp" && network != "tcp4" {
		return nil, opError("listen", nil, laddr, net.UnknownNetworkError(network))
	}
	if s.isClosed() {
		return nil, opError("listen", nil, laddr, net.ErrClosed)
	}
	var addr [4]byte
	var port uint16
	if laddr != nil {
		ap := laddr.AddrPort()
		if a := ap.Addr().Unmap(); a.IsValid() && !a.IsUnspecified() {
			if !a.Is4() || !s.isOwn(a.As4()) {
				return nil, opError("listen", nil, laddr, syscall.EADDRNOTAVAIL)
			}
			addr = a.As4()
		}
		port = ap.Port()
	}
	l := &listener{s: s, addr: addr, reuse: true, backlog: min(max(backlog, 0), s.o().Somaxconn)}
	p, err := s.ports.bindOpts(addr, port, portOwner{addr: addr, reuse: true, rport: lc.ReusePort, listen: true}, l)
	if err != nil {
		return nil, opError("listen", nil, laddr, err)
	}
	l.port = p
	if !s.listeners.add(l) {
		s.ports.release(p, l)
		return nil, opError("listen", nil, laddr, syscall.EADDRINUSE)
	}
	return &TCPListener{
		s:    s,
		l:    l,
		addr: tcpAddr(addr, p),
		dl:   newDeadline(),
		done: make(chan struct{}),
		opts: defaultSockOpts(),
	}, nil
}

// resolve parses "host:port" for network tcp/tcp4 without DNS: the stack
// has its own addresses and no resolver.
func resolve(network, address string) (*net.TCPAddr, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, net.UnknownNetworkError(network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return nil, err
	}
	if host == "" {
		return &net.TCPAddr{Port: p}, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return nil, &net.AddrError{Err: "ustack resolves IP literals only", Addr: host}
	}
	if !a.Unmap().Is4() {
		return nil, &net.AddrError{Err: "not an IPv4 address", Addr: host}
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Unmap(), uint16(p))), nil
}

// Accept implements net.Listener.
func (l *TCPListener) Accept() (net.Conn, error) { return l.AcceptTCP() }

// AcceptTCP returns the next established connection of the accept queue.
// The connection inherits the listener's socket options.
func (l *TCPListener) AcceptTCP() (*TCPConn, error) { return l.accept(true) }

// TryAccept is accept(2) on a non-blocking listener: the next connection
// of the accept queue, or a *net.OpError wrapping syscall.EAGAIN at once.
func (l *TCPListener) TryAccept() (*TCPConn, error) { return l.accept(false) }

func (l *TCPListener) accept(block bool) (*TCPConn, error) {
	for {
		if l.closed.Load() {
			return nil, opError("accept", nil, l.addr, net.ErrClosed)
		}
		if block && l.dl.expired() {
			return nil, opError("accept", nil, l.addr, os.ErrDeadlineExceeded)
		}
		ln := l.l
		ln.mu.Lock()
		var c *conn
		if len(ln.acceptq) > 0 {
			c = ln.acceptq[0]
			ln.acceptq[0] = nil
			ln.acceptq = ln.acceptq[1:]
		}
		var ch <-chan struct{}
		if c == nil && block {
			ch = ln.acceptWait.wait()
		}
		ln.mu.Unlock()
		if c != nil {
			c.mu.Lock()
			c.queued, c.ln = false, nil
			c.mu.Unlock()
			return l.inherit(c), nil
		}
		if !block {
			return nil, opError("accept", nil, l.addr, syscall.EAGAIN)
		}
		select {
		case <-ch:
		case <-l.dl.wait():
		case <-l.done:
		case <-l.s.closed:
			return nil, opError("accept", nil, l.addr, net.ErrClosed)
		}
	}
}

// Close implements net.Listener (CLOSE-2).
func (l *TCPListener) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return opError("close", nil, l.addr, net.ErrClosed)
	}
	close(l.done)
	l.s.closeListener(l.l)
	return nil
}

// Pending returns the number of connections Accept would return without
// blocking (the accept queue length).
func (l *TCPListener) Pending() int {
	l.l.mu.Lock()
	defer l.l.mu.Unlock()
	return len(l.l.acceptq)
}

// Addr implements net.Listener.
func (l *TCPListener) Addr() net.Addr { return l.addr }

// SetDeadline sets the Accept deadline.
func (l *TCPListener) SetDeadline(t time.Time) error {
	if l.closed.Load() {
		return opError("set", nil, l.addr, net.ErrClosed)
	}
	l.dl.set(t)
	return nil
}

// String describes the listener for logs.
func (l *TCPListener) String() string { return fmt.Sprintf("ustack listener %v", l.addr) }

var _ net.Listener = (*TCPListener)(nil)
