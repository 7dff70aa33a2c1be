// Package packetdrill plays packetdrill scripts against a TCP/IP stack under
// test. The runner is the remote peer (192.0.2.1) and the local process of
// the stack (192.168.0.1): it injects the script's inbound packets at their
// times, makes the system calls through a BSD-socket-like layer
// (package sockets), and checks every outbound packet (flags, relative
// sequence and ACK numbers, window, options) and every return value,
// within the script's timing tolerance, on the stack's virtual clock, so a
// script spanning a minute runs in milliseconds.
//
// What a stack must provide is the Harness interface; NewUstackHarness (in
// ustack.go) adapts package stack to it.
package packetdrill

import (
	"net/netip"

	"github.com/ustack/ustack/integration/packetdrill/sockets"
)

// LocalAddr is the stack's address, packetdrill's default.
func LocalAddr() netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 0, 1}) }

// RemoteAddr is the script side's address, packetdrill's default.
func RemoteAddr() netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, 1}) }

// Sysctl is one "net.ipv4.name" = "value" setting.
type Sysctl struct{ Name, Value string }

// HarnessConfig is what a new system under test is created with.
type HarnessConfig struct {
	Local   netip.Addr
	Sysctls []Sysctl // in order, applied to the stack's options before it starts
}

// Sent is a packet the stack put on the wire, with the virtual time it was
// sent (microseconds since the harness was created).
type Sent struct {
	At  int64
	Pkt []byte // an IPv4 datagram
}

// Harness is a stack under test wired to a virtual clock and an in-memory
// link. All methods are called from one goroutine and must not block.
type Harness interface {
	// Net is the stack's TCP API for the socket layer.
	Net() sockets.Net
	// Now is the virtual time in microseconds since creation.
	Now() int64
	// AdvanceTo moves the virtual clock to t (microseconds), running every
	// timer that falls due on the way, in order.
	AdvanceTo(t int64)
	// Deliver hands one inbound IPv4 datagram to the stack and processes it
	// before returning.
	Deliver(pkt []byte)
	// Sent appends to dst the packets sent since the last call.
	Sent(dst []Sent) []Sent
	// SetSysctl changes a setting while the script runs (a backquoted
	// sysctl after the first event). Errors wrapping
	// sockets.UnsupportedError mean the stack cannot do it.
	SetSysctl(name, value string) error
	Close() error
}

// TimerPeeker is implemented by harnesses that can tell when their next
// timer fires; the runner then waits for an outbound packet by jumping from
// timer to timer instead of in small steps.
type TimerPeeker interface {
	// NextTimer returns the earliest armed timer in microseconds, false if
	// none.
	NextTimer() (int64, bool)
}

// TCPInfoGapper is implemented by harnesses that can tell, with no
// connection open, which TCP_INFO fields (tcpi_ names) their stack does not
// report and why; the runner then lists, for an unsupported script, what
// its Python blocks would need beyond the first unsupported feature.
type TCPInfoGapper interface {
	TCPInfoGaps() map[string]string
}

// HarnessFactory creates a fresh system under test for one script. It
// returns an error wrapping *sockets.UnsupportedError when a sysctl is not
// understood.
type HarnessFactory func(cfg HarnessConfig) (Harness, error)
