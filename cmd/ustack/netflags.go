package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"github.com/ustack/ustack/stack"
	"github.com/ustack/ustack/tun"
)

// netFlags are the flags shared by serve and dial: which TUN to create, the
// kernel side's address, the stack's address, sysctl overrides and impairment.
type netFlags struct {
	dev    string
	host   string
	addr   string
	mtu    int
	impair string
	pcap   string
	opts   multiFlag
}

func (f *netFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dev, "dev", "", "name of the TUN device to create (required)")
	fs.StringVar(&f.host, "host", "", "kernel-side address of the TUN link, HOSTADDR/PREFIX, e.g. 192.0.2.1/24 (required)")
	fs.StringVar(&f.addr, "addr", "", "the stack's own IPv4 address on that link, e.g. 192.0.2.2 (required)")
	fs.IntVar(&f.mtu, "mtu", 1500, "MTU of the TUN device")
	fs.StringVar(&f.impair, "impair", "", "impair the link with the seeded fault injector, e.g. loss=2%,reorder=5%,dup=1%,delay=20ms,jitter=5ms,seed=1")
	fs.StringVar(&f.pcap, "pcap", "", "write every packet to this pcap file")
	fs.Var(&f.opts, "o", "set an option, sysctl=value (e.g. net.ipv4.tcp_tw_reuse=1); repeatable; see `ustack sysctls`")
}

// parsed holds the validated flag values.
type parsed struct {
	host netip.Prefix
	addr netip.Addr
	opts stack.Options
}

func (f *netFlags) parse() (*parsed, error) {
	if f.dev == "" || f.host == "" || f.addr == "" {
		return nil, errors.New("-dev, -host and -addr are required")
	}
	host, err := netip.ParsePrefix(f.host)
	if err != nil || !host.Addr().Is4() {
		return nil, fmt.Errorf("-host %q: want an IPv4 HOSTADDR/PREFIX such as 192.0.2.1/24", f.host)
	}
	addr, err := netip.ParseAddr(f.addr)
	if err != nil || !addr.Is4() {
		return nil, fmt.Errorf("-addr %q: want an IPv4 address such as 192.0.2.2", f.addr)
	}
	if addr == host.Addr() {
		return nil, fmt.Errorf("-addr %s must differ from the kernel side's -host address", addr)
	}
	if f.mtu < 576 || f.mtu > 65535 {
		return nil, fmt.Errorf("-mtu %d: want 576..65535", f.mtu)
	}
	opts, err := buildOptions(f.opts)
	if err != nil {
		return nil, err
	}
	opts.Addrs = []netip.Addr{addr}
	return &parsed{host: host, addr: addr, opts: opts}, nil
}

func buildOptions(kv []string) (stack.Options, error) {
	opts := stack.DefaultOptions()
	for _, o := range kv {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return opts, fmt.Errorf("-o %q: want sysctl=value", o)
		}
		if err := opts.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return opts, fmt.Errorf("-o %s: %w", o, err)
		}
	}
	return opts, nil
}

// checkPrivileges gives the clear error a user needs before the kernel's
// terse EPERM.
func checkPrivileges() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (CAP_NET_ADMIN) to create and configure a TUN device")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("no /dev/net/tun on this machine (load the tun module): %v", err)
	}
	return nil
}

// openStack creates the TUN device, configures the kernel side, wraps the
// device in the fault injector and pcap tap when asked, and starts a stack.
func (f *netFlags) openStack(p *parsed) (*stack.Stack, func(), error) {
	if err := checkPrivileges(); err != nil {
		return nil, nil, err
	}
	dev, err := tun.CreateTUN(f.dev, f.mtu)
	if err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return nil, nil, fmt.Errorf("device %s is busy (another process has it open)", f.dev)
		}
		return nil, nil, fmt.Errorf("create TUN %s: %w", f.dev, err)
	}
	if err := tun.Configure(f.dev, p.host, f.mtu); err != nil {
		dev.Close()
		return nil, nil, fmt.Errorf("configure %s: %w", f.dev, err)
	}
	var d tun.Device = dev
	if f.impair != "" {
		cfg, err := tun.ParseImpair(f.impair)
		if err != nil {
			dev.Close()
			return nil, nil, fmt.Errorf("-impair: %w", err)
		}
		d = tun.NewFaulty(d, cfg)
	}
	if f.pcap != "" {
		pd, err := tun.CreatePcapFile(d, f.pcap, nil)
		if err != nil {
			d.Close()
			return nil, nil, fmt.Errorf("-pcap: %w", err)
		}
		d = pd
	}
	s, err := stack.New(d, p.opts)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return s, func() { s.Close(); d.Close() }, nil
}
