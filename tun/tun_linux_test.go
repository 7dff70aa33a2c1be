//go:build linux

package tun

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inNewNetns moves the calling test goroutine's OS thread into a fresh
// network namespace, or skips the test. The thread is never unlocked: when
// the test goroutine exits, the runtime discards the thread and with it the
// last reference to the namespace, which tears down everything inside.
func inNewNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (CAP_NET_ADMIN) to unshare a network namespace and create a TUN device")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("skipping: /dev/net/tun not available: %v", err)
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		// Still locked on purpose: the thread's state is unknown.
		t.Skipf("skipping: unshare(CLONE_NEWNET): %v", err)
	}
}

// ipv4UDP builds a minimal IPv4/UDP packet (UDP checksum 0, legal in IPv4).
func ipv4UDP(src, dst netip.AddrPort, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = unix.IPPROTO_UDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(p[20:], src.Port())
	binary.BigEndian.PutUint16(p[22:], dst.Port())
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}

func TestLinuxTUNInNetns(t *testing.T) {
	inNewNetns(t)

	dev, err := CreateTUN("ustun%d", 1400)
	if err != nil {
		t.Fatalf("CreateTUN: %v", err)
	}
	defer dev.Close()
	if dev.BatchSize() != LinuxBatchSize || dev.MTU() != 1400 || dev.Name() == "" {
		t.Fatalf("BatchSize %d MTU %d Name %q", dev.BatchSize(), dev.MTU(), dev.Name())
	}
	host := netip.MustParsePrefix("192.0.2.1/24")
	if err := Configure(dev.Name(), host, 1400); err != nil {
		t.Fatalf("Configure: %v", err)
	}

	// Bound every blocking step: the watchdog closes the device, which must
	// wake the blocked Read.
	watchdog := time.AfterFunc(10*time.Second, func() { dev.Close() })
	defer watchdog.Stop()

	peer := netip.MustParseAddrPort("192.0.2.2:9999")
	// The socket is created on this (namespaced) thread.
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(peer))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := conn.Write([]byte("hello tun")); err != nil {
		t.Fatalf("send: %v", err)
	}

	bufs, sizes := mkbufs(dev.BatchSize(), 1600)
	const headroom = 16
	var got []byte
	// The kernel may also emit IPv6 router solicitations etc.; skip them.
	for i := 0; i < 100 && got == nil; i++ {
		n, err := dev.Read(bufs[:4], sizes, headroom)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for j := range n {
			p := bufs[j][headroom : headroom+sizes[j]]
			if len(p) >= 28 && p[0]>>4 == 4 && p[9] == unix.IPPROTO_UDP &&
				binary.BigEndian.Uint16(p[22:]) == peer.Port() {
				got = p
				break
			}
		}
	}
	if got == nil {
		t.Fatal("no UDP packet read from the TUN device")
	}
	if src := netip.AddrFrom4([4]byte(got[12:16])); src != local.Addr() || local.Addr() != host.Addr() {
		t.Errorf("source %v, socket %v, want %v", src, local.Addr(), host.Addr())
	}
	if dst := netip.AddrFrom4([4]byte(got[16:20])); dst != peer.Addr() {
		t.Errorf("destination %v, want %v", dst, peer.Addr())
	}
	if string(got[28:]) != "hello tun" {
		t.Errorf("payload %q", got[28:])
	}

	// And back: a packet written to the device is delivered to the socket.
	reply := ipv4UDP(peer, local, []byte("hello kernel"))
	out := make([]byte, headroom+len(reply))
	copy(out[headroom:], reply)
	if n, err := dev.Write([][]byte{out}, headroom); n != 1 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rb := make([]byte, 100)
	n, err := conn.Read(rb)
	if err != nil || string(rb[:n]) != "hello kernel" {
		t.Fatalf("socket read %q, %v", rb[:n], err)
	}

	// Close wakes a parked Read with os.ErrClosed.
	errc := make(chan error, 1)
	go func() {
		// Stray kernel packets (IPv6 solicitations) may still arrive first.
		for range 1000 {
			if _, err := dev.Read(bufs, sizes, 0); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	time.AfterFunc(50*time.Millisecond, func() { dev.Close() })
	if err := <-errc; !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := dev.Write([][]byte{out}, headroom); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

func TestLinuxTUNAllocs(t *testing.T) {
	inNewNetns(t)
	dev, err := CreateTUN("ustun%d", 1500)
	if err != nil {
		t.Fatalf("CreateTUN: %v", err)
	}
	defer dev.Close()
	if err := Configure(dev.Name(), netip.MustParsePrefix("192.0.2.1/24"), 1500); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	// Packets to an unused local port: the kernel answers nothing we wait for,
	// so only the device path is measured.
	pkt := ipv4UDP(netip.MustParseAddrPort("192.0.2.2:9"), netip.MustParseAddrPort("192.0.2.1:9"), []byte("x"))
	bufs := [][]byte{pkt}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := dev.Write(bufs, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per Write", allocs)
	}

	// Queue datagrams in the kernel first, then measure Read alone.
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.2:9")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 110 {
		if _, err := conn.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	rbufs, sizes := mkbufs(1, 1500)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := dev.Read(rbufs, sizes, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per Read", allocs)
	}
}
