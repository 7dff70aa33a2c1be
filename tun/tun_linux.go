//go:build linux

package tun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/songgao/water"
	"golang.org/x/sys/unix"
)

// LinuxBatchSize is the BatchSize of the Linux TUN device: how many packets
// one Read may drain from the kernel queue without parking again.
const LinuxBatchSize = 64

// NativeTun is the Linux TUN device returned by CreateTUN.
type NativeTun struct {
	ifce *water.Interface
	file *os.File
	rc   syscall.RawConn
	name string
	mtu  int

	closed atomic.Bool

	// readMu guards the r* fields: the state of the Read in progress, kept
	// here so that the RawConn callback is a method value built once and a
	// Read costs no allocation.
	readMu  sync.Mutex
	rBufs   [][]byte
	rSizes  []int
	rOffset int
	rN      int
	rErr    error
	readFn  func(fd uintptr) bool

	// writeMu guards the w* fields, the state of the Write in progress.
	writeMu sync.Mutex
	wBufs   [][]byte
	wOffset int
	wN      int
	wErr    error
	writeFn func(fd uintptr) bool
}

// CreateTUN creates (or attaches to) the TUN interface name in the calling
// thread's network namespace, with IFF_TUN|IFF_NO_PI, and sets its MTU. A
// name containing "%d" lets the kernel pick the number; Name reports the
// result. The link is left down; see Configure.
//
// Callers working inside a namespace must call this on the OS thread that
// entered it (runtime.LockOSThread): /dev/net/tun binds the device to the
// opener's namespace.
func CreateTUN(name string, mtu int) (Device, error) {
	return CreateNativeTUN(name, mtu)
}

// CreateNativeTUN is CreateTUN returning the concrete type.
func CreateNativeTUN(name string, mtu int) (*NativeTun, error) {
	if mtu <= 0 || mtu > 65535 {
		return nil, fmt.Errorf("tun: bad MTU %d", mtu)
	}
	ifce, err := water.New(water.Config{
		DeviceType:             water.TUN,
		PlatformSpecificParams: water.PlatformSpecificParams{Name: name},
	})
	if err != nil {
		return nil, fmt.Errorf("tun: create %q: %w", name, err)
	}
	file, ok := ifce.ReadWriteCloser.(*os.File)
	if !ok {
		ifce.Close()
		return nil, fmt.Errorf("tun: water returned %T, want *os.File", ifce.ReadWriteCloser)
	}
	t := &NativeTun{ifce: ifce, file: file, name: ifce.Name(), mtu: mtu}
	t.readFn = t.doRead
	t.writeFn = t.doWrite
	if t.rc, err = file.SyscallConn(); err != nil {
		t.Close()
		return nil, err
	}
	// water opens without O_CLOEXEC; a child process must not inherit the
	// device. It does open with O_NONBLOCK, which is what makes the file
	// pollable and Close able to wake a parked Read; insist on it.
	var ctlErr error
	err = t.rc.Control(func(fd uintptr) {
		unix.CloseOnExec(int(fd))
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			ctlErr = err
			return
		}
		if flags&unix.O_NONBLOCK == 0 {
			ctlErr = errors.New("descriptor is blocking; Close could not interrupt Read")
		}
	})
	if err == nil {
		err = ctlErr
	}
	if err == nil {
		err = SetMTU(t.name, mtu)
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("tun: set up %s: %w", t.name, err)
	}
	return t, nil
}

// Read parks until the kernel has a packet for the device, then reads one
// packet per read(2) into successive buffers until the kernel queue is empty
// (EAGAIN) or bufs is full; it never parks again once it holds a packet.
// A packet longer than len(bufs[i])-offset is truncated by the kernel.
func (t *NativeTun) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	t.readMu.Lock()
	defer t.readMu.Unlock()
	t.rBufs, t.rSizes, t.rOffset, t.rN, t.rErr = bufs, sizes, offset, 0, nil
	err := t.rc.Read(t.readFn)
	n, rerr := t.rN, t.rErr
	t.rBufs, t.rSizes = nil, nil
	if err == nil {
		err = rerr
	}
	if err != nil && n == 0 {
		return 0, t.wrapErr("read", err)
	}
	// Packets already read are delivered; a persistent error shows up again
	// on the next call.
	return n, nil
}

// doRead runs inside RawConn.Read; returning false parks until readable.
func (t *NativeTun) doRead(fd uintptr) bool {
	for t.rN < len(t.rBufs) {
		n, err := unix.Read(int(fd), t.rBufs[t.rN][t.rOffset:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return t.rN > 0
		case err != nil:
			t.rErr = err
			return true
		}
		t.rSizes[t.rN] = n
		t.rN++
	}
	return true
}

// Write writes each packet with one write(2). The kernel takes or rejects a
// TUN write at once, so EAGAIN only appears under memory pressure; then the
// write parks until the descriptor is writable.
func (t *NativeTun) Write(bufs [][]byte, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.wBufs, t.wOffset, t.wN, t.wErr = bufs, offset, 0, nil
	err := t.rc.Write(t.writeFn)
	n, werr := t.wN, t.wErr
	t.wBufs = nil
	if err == nil {
		err = werr
	}
	if err != nil {
		return n, t.wrapErr("write", err)
	}
	return n, nil
}

func (t *NativeTun) doWrite(fd uintptr) bool {
	for t.wN < len(t.wBufs) {
		_, err := unix.Write(int(fd), t.wBufs[t.wN][t.wOffset:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil:
			t.wErr = err
			return true
		}
		t.wN++
	}
	return true
}

func (t *NativeTun) wrapErr(op string, err error) error {
	if t.closed.Load() {
		return os.ErrClosed
	}
	if err = mapErr(err); err == os.ErrClosed {
		return err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &os.PathError{Op: op, Path: t.name, Err: errno}
	}
	return err
}

// BatchSize returns LinuxBatchSize.
func (t *NativeTun) BatchSize() int { return LinuxBatchSize }

// MTU returns the MTU given to CreateTUN (or the last SetMTU through this
// device).
func (t *NativeTun) MTU() int { return t.mtu }

// Name returns the kernel's name for the interface.
func (t *NativeTun) Name() string { return t.name }

// Close closes the descriptor, which removes a non-persistent interface and
// wakes a parked Read or Write with os.ErrClosed.
func (t *NativeTun) Close() error {
	if t.closed.Swap(true) {
		return os.ErrClosed
	}
	return t.ifce.Close()
}

var _ Device = (*NativeTun)(nil)

// mapErr turns the many spellings of "this descriptor is gone" into
// os.ErrClosed and leaves other errors alone.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrClosed),
		errors.Is(err, syscall.EBADFD),
		errors.Is(err, syscall.EBADF),
		errors.Is(err, io.ErrClosedPipe):
		return os.ErrClosed
	}
	return err
}
