// Package sockets is a BSD-socket-like system call layer for the packetdrill
// runner: a descriptor table, blocking and non-blocking semantics, errno
// values, socket options, fcntl, ioctl, poll and epoll, built on the small
// non-blocking TCP API in Net that a stack under test provides.
//
// Nothing here waits. A call on a blocking descriptor that cannot complete
// yet returns ErrBlocked; the runner, which owns the virtual clock, retries
// it after each step of the simulation (a packet delivered, a timer fired),
// which is how a thread parked in the kernel would see the world change.
package sockets

import (
	"errors"
	"fmt"
	"net/netip"
)

// Net is the TCP API of a system under test. Every method returns at once.
// Errors are syscall.Errno values (errors.Is must match them), as a kernel
// would return; syscall.EAGAIN means "would block".
type Net interface {
	// Listen opens a passive socket on laddr with the options set before
	// listen().
	Listen(laddr netip.AddrPort, backlog int, opts *Options) (Listener, error)
	// Connect starts an active open (the SYN goes out now) and returns the
	// connection in SYN-SENT; Conn.Poll reports when it completes. laddr's
	// port is 0 for an ephemeral port.
	Connect(laddr, raddr netip.AddrPort, opts *Options) (Conn, error)
}

// Listener is a passive socket.
type Listener interface {
	// Accept returns an established connection or EAGAIN.
	Accept() (Conn, error)
	// Pending reports whether Accept would return a connection now.
	Pending() bool
	SetOption(level, name int, v Value) error
	Close() error
}

// Conn is a connected (or connecting) TCP socket.
type Conn interface {
	// Read copies received data; EAGAIN when none, (0, nil) at EOF, an
	// errno after a reset or timeout.
	Read(p []byte) (int, error)
	// Write queues data, possibly partially; EAGAIN when the send buffer is
	// full, EPIPE after shutdown(SHUT_WR), an errno after an error.
	Write(p []byte, flags WriteFlags) (int, error)
	// Shutdown is shutdown(2) with SHUT_RD/SHUT_WR/SHUT_RDWR.
	Shutdown(how int) error
	// Close is close(2): the kernel keeps the connection (orphaned) as long
	// as the protocol requires.
	Close() error
	// Poll returns POLLIN/POLLOUT/POLLERR/POLLHUP/POLLRDHUP readiness and
	// whether the connection is established (a connect() finished).
	Poll() (events uint32, established bool)
	// SoError returns and clears the pending socket error (SO_ERROR).
	SoError() error
	// InQ is the number of bytes readable now (SIOCINQ, TCP_CM_INQ).
	InQ() int
	SetOption(level, name int, v Value) error
	GetOption(level, name int) (Value, error)
	LocalAddr() netip.AddrPort
	RemoteAddr() netip.AddrPort
}

// WakeCounter is implemented by connections that count wake-ups the way the
// kernel's callbacks do: sk_data_ready (data, FIN, error) for readers and
// sk_write_space (enough send space freed) for writers. Edge-triggered epoll
// needs it: without it EPOLLET is reported unsupported.
type WakeCounter interface {
	Wakeups() (read, write uint64)
}

// Lingerer is implemented by connections whose Close does not wait:
// Lingering reports whether a blocking close(2) with SO_LINGER > 0 would
// still be waiting for its FIN to be acknowledged.
type Lingerer interface {
	Lingering() bool
}

// UnsupportedError reports a call or option the layer (or the stack under
// test) does not implement; the runner turns it into "unsupported".
type UnsupportedError struct{ Feature string }

func (e *UnsupportedError) Error() string { return "unsupported: " + e.Feature }

func unsupported(format string, args ...any) error {
	return &UnsupportedError{Feature: fmt.Sprintf(format, args...)}
}

// WriteFlags are the send flags the API distinguishes.
type WriteFlags struct {
	More bool // MSG_MORE: more data follows, hold a partial segment (like TCP_CORK)
	EOR  bool // MSG_EOR: do not coalesce later writes into this data
}

// Value is a socket option value: an integer, or a linger pair.
type Value struct {
	Int        int64
	LingerOn   bool // SO_LINGER
	LingerSecs int
	IsLinger   bool
}

// Options are the socket options given before connect() or listen(); the
// ones a stack needs at open time (MSS to advertise, buffer sizes) must be
// known then.
type Options struct {
	ReuseAddr   bool
	MaxSeg      int // TCP_MAXSEG, 0 when not set
	NoDelay     bool
	Cork        bool
	SndBuf      int // SO_SNDBUF as given (the kernel doubles it), 0 when not set
	RcvBuf      int
	UserTimeout int // ms
	Linger      *Value
	INQ         bool
	// Other holds further options in the order they were set, for the stack
	// to apply once the connection exists.
	Other []SetOpt
}

// SetOpt is one setsockopt call remembered before the connection exists.
type SetOpt struct {
	Level, Name int
	Value       Value
}

// ErrBlocked is returned by Table calls on a blocking descriptor that cannot
// complete now; the caller retries later.
var ErrBlocked = errors.New("call would block")
