//go:build linux

package tun

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// All helpers here act on the network namespace of the calling OS thread:
// each opens its own rtnetlink socket (netlink.NewHandle) on the spot, so a
// caller that unshared or entered a namespace on a locked thread configures
// that namespace, never the root one.

// Configure gives the interface name the kernel-side address hostPrefix
// (e.g. 192.0.2.1/24, which also installs the connected route for the
// prefix), sets its MTU and brings it up. Adding an address the interface
// already has is not an error.
func Configure(name string, hostPrefix netip.Prefix, mtu int) error {
	if !hostPrefix.IsValid() || !hostPrefix.Addr().Is4() {
		return fmt.Errorf("tun: configure %s: want an IPv4 prefix, got %v", name, hostPrefix)
	}
	return withLink(name, func(h *netlink.Handle, l netlink.Link) error {
		if mtu > 0 {
			if err := h.LinkSetMTU(l, mtu); err != nil {
				return fmt.Errorf("set mtu %d: %w", mtu, err)
			}
		}
		addr := &netlink.Addr{IPNet: netipToIPNet(hostPrefix)}
		if err := h.AddrReplace(l, addr); err != nil {
			return fmt.Errorf("add address %v: %w", hostPrefix, err)
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
		return nil
	})
}

// SetMTU sets the interface MTU.
func SetMTU(name string, mtu int) error {
	return withLink(name, func(h *netlink.Handle, l netlink.Link) error {
		return h.LinkSetMTU(l, mtu)
	})
}

// SetUp brings the interface up.
func SetUp(name string) error {
	return withLink(name, func(h *netlink.Handle, l netlink.Link) error {
		return h.LinkSetUp(l)
	})
}

// Delete removes the interface (RTM_DELLINK). Closing a non-persistent TUN
// device's descriptor removes it too; this is for persistent ones and
// cleanup after failures.
func Delete(name string) error {
	return withLink(name, func(h *netlink.Handle, l netlink.Link) error {
		return h.LinkDel(l)
	})
}

func withLink(name string, f func(*netlink.Handle, netlink.Link) error) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("tun: %s: netlink: %w", name, err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("tun: %s: %w", name, err)
	}
	if err := f(h, l); err != nil {
		return fmt.Errorf("tun: %s: %w", name, err)
	}
	return nil
}

func netipToIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}
