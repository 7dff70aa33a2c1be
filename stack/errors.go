package stack

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// opError builds the error a Go user expects from a socket call:
// *net.OpError{Op, Net: "tcp", Source, Addr, Err}, where a kernel errno is
// wrapped in *os.SyscallError as the net package does, so errors.Is(err,
// syscall.ECONNRESET) and errors.Is(err, os.ErrDeadlineExceeded) work.
func opError(op string, src, dst net.Addr, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		var se *os.SyscallError
		if !errors.As(err, &se) {
			err = os.NewSyscallError(syscallName(op), errno)
		}
	}
	return &net.OpError{Op: op, Net: "tcp", Source: src, Addr: dst, Err: err}
}

func syscallName(op string) string {
	switch op {
	case "dial":
		return "connect"
	case "listen":
		return "bind"
	}
	return op
}

// ctxErr maps a context error to what net.Dial reports: a deadline becomes
// os.ErrDeadlineExceeded (a timeout), a cancellation stays itself.
func ctxErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	return err
}

// deadline is one direction's deadline of a TCPConn or TCPListener: a
// channel that is closed when the deadline passes. Setting a new deadline
// replaces the channel, which is how it applies to calls already blocked
// (they select on wait() again after a wake-up) and future ones.
type deadline struct {
	mu     sync.Mutex // guards the fields below
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline has passed
}

func newDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

// set arms the deadline for t; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for its close to be visible
	}
	d.timer = nil
	closed := isClosedChan(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns the channel that closes at the deadline.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func (d *deadline) expired() bool { return isClosedChan(d.wait()) }

func isClosedChan(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
