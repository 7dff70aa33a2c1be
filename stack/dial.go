package stack

import (
	"context"
	"net"
	"syscall"
	"time"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
)

// Dialer holds connect() options beyond the address. The zero value (with
// Stack set) behaves like Stack.Dial.
type Dialer struct {
	Stack *Stack
	// LocalAddr is bound before connecting (bind(2)); a zero port lets
	// connect() pick one (PORT-*), an explicit port enables TW-REUSE-8.
	LocalAddr *net.TCPAddr
	// ReuseAddr sets SO_REUSEADDR before the bind (PORT-8).
	ReuseAddr bool
	// Timeout bounds the handshake of Dial; 0 means only the SYN retries
	// do. Start ignores it.
	Timeout time.Duration
	// RecvBuffer, SendBuffer and MaxSeg are SO_RCVBUF, SO_SNDBUF and
	// TCP_MAXSEG set before connect (0: the sysctl defaults), which shape
	// the SYN's window, window scale and MSS. The buffers are capped at
	// net.core.[rw]mem_max and doubled as setsockopt does; MaxSeg outside
	// [88, 32767] fails with EINVAL.
	RecvBuffer, SendBuffer, MaxSeg int
}

// Dial connects to address ("ip:port") over network "tcp" or "tcp4".
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext is Dial with a context bounding the handshake.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	raddr, err := resolve(network, address)
	if err != nil {
		return nil, opError("dial", nil, nil, err)
	}
	c, err := (&Dialer{Stack: s}).dial(ctx, raddr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTCP is net.DialTCP on the stack.
func (s *Stack) DialTCP(network string, laddr, raddr *net.TCPAddr) (*TCPConn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, opError("dial", laddr, raddr, net.UnknownNetworkError(network))
	}
	return (&Dialer{Stack: s, LocalAddr: laddr}).dial(context.Background(), raddr)
}

// DialContext connects with the Dialer's options.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	raddr, err := resolve(network, address)
	if err != nil {
		return nil, opError("dial", d.LocalAddr, nil, err)
	}
	c, err := d.dial(ctx, raddr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Start is a non-blocking connect(2): it binds, sends the SYN and
// returns the connection in SYN-SENT at once (where connect would return
// EINPROGRESS). Completion shows in PollEvents (PollOut when established,
// PollErr|PollHup when it failed) and SoError (the errno of a failure);
// reads and writes before that return EAGAIN (TryRead/TryWrite) or wait
// (Read/Write). Errors found before the SYN goes out (no such address,
// port in use...) are returned as Dial would. Timeout and contexts do not
// apply: the SYN retries bound the handshake; Close abandons it (CLOSE-8).
func (d *Dialer) Start(network, address string) (*TCPConn, error) {
	raddr, err := resolve(network, address)
	if err != nil {
		return nil, opError("dial", d.LocalAddr, nil, err)
	}
	return d.start(raddr)
}

// dial is Start followed by the wait for the handshake.
func (d *Dialer) dial(ctx context.Context, raddr *net.TCPAddr) (*TCPConn, error) {
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("dial", d.LocalAddr, raddr, ctxErr(err))
	}
	t, err := d.start(raddr)
	if err != nil {
		return nil, err
	}
	s, c := t.s, t.c
	// Like net.Dial, the error names the local address the caller gave.
	fail := func(err error) (*TCPConn, error) {
		s.abortDial(c)
		return nil, opError("dial", d.LocalAddr, raddr, err)
	}
	for {
		c.mu.Lock()
		st, cerr := c.tc.State(), c.tc.Err()
		var ch <-chan struct{}
		if st == tcp.StateSynSent && cerr == nil {
			ch = c.wq.wait()
		}
		c.mu.Unlock()
		if ch == nil {
			switch {
			case cerr != nil:
				return fail(engineErr(cerr))
			case st == tcp.StateClose:
				return fail(syscall.ECONNREFUSED)
			}
			return t, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fail(ctxErr(ctx.Err()))
		case <-s.closed:
			return nil, opError("dial", d.LocalAddr, raddr, net.ErrClosed)
		}
	}
}

// start is tcp_v4_connect: choose the source address and port (bind, or
// the ephemeral search with TIME-WAIT reuse), hash the connection and send
// the SYN.
func (d *Dialer) start(raddr *net.TCPAddr) (*TCPConn, error) {
	s := d.Stack
	laddr := d.LocalAddr
	if raddr == nil {
		return nil, opError("dial", laddr, nil, &net.AddrError{Err: "missing address"})
	}
	fail := func(err error) (*TCPConn, error) { return nil, opError("dial", laddr, raddr, err) }
	if s.isClosed() {
		return fail(net.ErrClosed)
	}
	if m := d.MaxSeg; m != 0 && (m < minMaxSeg || m > maxMaxSeg) {
		return fail(syscall.EINVAL)
	}
	rap := raddr.AddrPort()
	ra := rap.Addr().Unmap()
	if !ra.Is4() {
		return fail(&net.AddrError{Err: "not an IPv4 address", Addr: ra.String()})
	}
	dst, rport := ra.As4(), rap.Port()
	if rport == 0 || ra.IsUnspecified() {
		return fail(syscall.ECONNREFUSED)
	}
	src := s.localAddrFor(dst)
	var lport uint16
	if laddr != nil {
		lap := laddr.AddrPort()
		if a := lap.Addr().Unmap(); a.IsValid() && !a.IsUnspecified() {
			if !a.Is4() || !s.isOwn(a.As4()) {
				return fail(syscall.EADDRNOTAVAIL)
			}
			src = a.As4()
		}
		lport = lap.Port()
	}

	c := s.newConn()
	c.reuse = d.ReuseAddr
	c.mu.Lock()
	now := s.now()
	var reused *timewait.Record
	var opts tcp.ActiveOpts
	// insert is __inet_check_established: the 4-tuple must be free, or
	// hold a TIME-WAIT record that may be taken over (TW-REUSE-1/2/8), which
	// is then destroyed (TW-REUSE-10).
	insert := func(bound bool) func(port uint16) (bool, any) {
		return func(port uint16) (bool, any) {
			k := tcp.Tuple{LocalAddr: src, RemoteAddr: dst, LocalPort: port, RemotePort: rport}
			h := s.flowHash(&k)
			sh := s.table.shard(h)
			sh.mu.Lock()
			defer sh.mu.Unlock()
			e := sh.getLocked(k)
			if e.c != nil {
				return false, nil
			}
			var displaced any
			if e.tw != nil {
				if !s.reuseCheck(e.tw, now, bound) {
					return false, nil
				}
				reused = e.tw
				opts.ISN, opts.TSRecent, opts.TSRecentStamp = reuseState(e.tw)
				opts.HasISN, opts.InheritTS = true, true
				s.tw.mu.Lock()
				s.tw.dr.Recycle(e.tw)
				s.tw.mu.Unlock()
				displaced = e.tw
			}
			c.tuple, c.hash, c.hashed = k, h, true
			sh.setConnLocked(k, c)
			return true, displaced
		}
	}
	var err error
	if lport != 0 {
		if _, err = s.ports.bind(src, lport, d.ReuseAddr, false, c); err == nil {
			c.boundPort, c.ownsPort = true, true
			if err = s.ports.connectBound(lport, insert(true)); err != nil {
				s.ports.release(lport, c)
				c.ownsPort = false
			}
		}
	} else {
		_, err = s.ports.connectPort(src, dst, rport, c, insert(false))
		c.ownsPort = err == nil
	}
	if err != nil {
		c.mu.Unlock()
		return fail(err)
	}
	if reused == nil {
		s.recycleFetch(c.tuple, now, &opts)
	}
	opts.NoDelay = true
	var so sockOpts
	if d.RecvBuffer != 0 {
		so.rcvBuf, so.set = bufValue(d.RecvBuffer, s.o().CoreRmemMax, sockMinRcvbuf), so.set|optRcvBuf
		opts.RecvBuffer = so.rcvBuf / 2
	}
	if d.SendBuffer != 0 {
		so.sndBuf, so.set = bufValue(d.SendBuffer, s.o().CoreWmemMax, sockMinSndbuf), so.set|optSndBuf
		opts.SendBuffer = so.sndBuf / 2
	}
	if d.MaxSeg != 0 {
		so.maxSeg, so.set = d.MaxSeg, so.set|optMaxSeg
		opts.MSS = d.MaxSeg
	}
	b := s.getBatch()
	b.ipID = &c.ipID
	c.tc = tcp.NewActive(s.cfg.Load(), s.m, c.tuple, opts, now, b)
	s.afterEngine(c, b)
	t := wrapConn(s, c)
	so.linger, so.noDelay, so.set = -1, true, so.set|optNoDelay
	t.opts = so
	c.mu.Unlock()
	s.putBatch(b)
	return t, nil
}

// abortDial gives up a connect in progress: close() in SYN_SENT sends
// nothing (CLOSE-8).
func (s *Stack) abortDial(c *conn) {
	s.run(c, func(e *tcp.Conn, now tcp.Time, b *batch) {
		c.userClose = true
		e.Close(now, b)
	})
	c.mu.Lock()
	if c.hashed {
		s.unhash(c)
	}
	if c.ownsPort {
		s.ports.release(c.tuple.LocalPort, c)
		c.ownsPort = false
	}
	c.mu.Unlock()
}

func reuseState(r *timewait.Record) (isn, tsRecent uint32, tsStamp int64) {
	w, t, st := r.ReuseState()
	return w, t, int64(st)
}
