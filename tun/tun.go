// Package tun is ustack's link layer: the Device interface every packet
// source implements, the Linux TUN device, and test middleware (an in-memory
// linked pair, a seeded fault injector and a pcap tap) that wraps any Device.
//
// # Batching
//
// Read and Write move a batch of packets per call, like wireguard-go's tun
// package: packet i lives at bufs[i][offset:]; the bytes before offset are
// headroom the caller may use to prepend headers without copying. BatchSize
// is a hint for how many buffers a caller should offer; implementations
// accept any number.
//
// # Errors
//
// A closed device reports os.ErrClosed (errors.Is works), whatever the kernel
// said (EBADFD, EBADF, "use of closed file"). Other kernel errors arrive as
// *os.PathError or *os.SyscallError wrapping a syscall.Errno.
//
// # Linux device
//
// CreateTUN opens /dev/net/tun through github.com/songgao/water, which does
// the open(2) with O_NONBLOCK and the TUNSETIFF ioctl with IFF_TUN|IFF_NO_PI
// (no 4-byte packet-information header: every read is one raw IP packet) and
// wraps the descriptor in an *os.File, so the Go runtime poller can park a
// reader and Close can wake it. golang.org/x/sys/unix does what water does
// not: it marks the descriptor close-on-exec, checks it really is
// non-blocking, and performs the read(2)/write(2) calls of a batch inside the
// file's syscall.RawConn so that one Read drains every packet already queued
// in the kernel without parking again. Addresses, MTU and link state are
// configured over rtnetlink with github.com/vishvananda/netlink (Configure,
// SetMTU, SetUp, Delete); nothing shells out.
package tun

import "syscall"

// Device is a layer-3 packet device: every packet is one IPv4 datagram, with
// no link header and no packet-information prefix.
//
// Read and Write may be called concurrently with each other and with Close.
type Device interface {
	// Read reads up to len(bufs) packets; packet i lands at
	// bufs[i][offset:offset+sizes[i]]. It blocks until at least one packet is
	// available, then returns every packet it can get without blocking again.
	// len(sizes) must be >= len(bufs).
	Read(bufs [][]byte, sizes []int, offset int) (n int, err error)
	// Write writes the packets bufs[i][offset:]; returns how many were
	// written. The caller may reuse bufs as soon as Write returns.
	Write(bufs [][]byte, offset int) (int, error)
	// BatchSize is the number of buffers a caller should offer to Read.
	BatchSize() int
	// MTU is the largest packet the device carries.
	MTU() int
	// Name is the interface name ("ustun0") or a descriptive label.
	Name() string
	// Close makes blocked and future Read/Write calls return os.ErrClosed.
	Close() error
}

// TryReader is implemented by devices that can be drained without blocking,
// which lets packet-level tests read "everything the link holds right now"
// without sleeping. TryRead behaves like Read but returns (0, nil) at once
// when no packet is ready.
type TryReader interface {
	TryRead(bufs [][]byte, sizes []int, offset int) (n int, err error)
}

// ErrTooBig is returned (wrapped) by Write when a packet is larger than the
// device can carry; it is syscall.EMSGSIZE so errors.Is matches the kernel's
// error as well.
const ErrTooBig = syscall.EMSGSIZE

// errEmpty is returned (wrapped) by Write for a zero-length packet, which a
// real TUN rejects with EINVAL.
const errEmpty = syscall.EINVAL
