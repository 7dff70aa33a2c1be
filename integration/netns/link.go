package netns

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The helpers in this file configure links inside namespaces this package
// created. Each runs `ip`, `tc` or `nft` through `ip netns exec`, so the
// command can only see the namespace it was given; nothing here names the
// root namespace.

// cmdTimeout bounds every configuration command: a wedged `ip` must not
// hang a test.
const cmdTimeout = 10 * time.Second

func (n *NS) run(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	return n.Run(ctx, args[0], args[1:]...)
}

// Output runs a command inside the namespace and returns its standard
// output.
func (n *NS) Output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := n.Command(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), n.Name, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Veth creates a veth pair with one end (nameA) in a and the other (nameB)
// in b, gives each end its prefix and brings both up. The pair is created
// inside a and its peer moved straight into b, so it never exists in the
// root namespace.
func Veth(a *NS, nameA string, prefixA netip.Prefix, b *NS, nameB string, prefixB netip.Prefix) error {
	if err := a.run("ip", "link", "add", nameA, "type", "veth", "peer", "name", nameB, "netns", b.Name); err != nil {
		return err
	}
	if err := a.AddrUp(nameA, prefixA); err != nil {
		return err
	}
	return b.AddrUp(nameB, prefixB)
}

// AddrUp adds prefix to dev (if valid) and brings dev up.
func (n *NS) AddrUp(dev string, prefix netip.Prefix) error {
	if prefix.IsValid() {
		if err := n.run("ip", "addr", "replace", prefix.String(), "dev", dev); err != nil {
			return err
		}
	}
	return n.run("ip", "link", "set", dev, "up")
}

// Route adds a route to dst (a prefix, or "default") via gw.
func (n *NS) Route(dst string, gw netip.Addr) error {
	return n.run("ip", "route", "replace", dst, "via", gw.String())
}

// SetMTU sets a link's MTU inside the namespace.
func (n *NS) SetMTU(dev string, mtu int) error {
	return n.run("ip", "link", "set", dev, "mtu", strconv.Itoa(mtu))
}

// Forwarding turns IPv4 forwarding on in the namespace (a router).
func (n *NS) Forwarding() error { return n.Sysctl("net.ipv4.ip_forward", "1") }

// RateLimit puts a token-bucket filter on dev's egress: rate like "20mbit",
// with a burst of about 10 ms at that rate (at least 16 KiB) and a queue of
// at most latency. It shapes what the kernel sends into the link.
func (n *NS) RateLimit(dev, rate string, latency time.Duration) error {
	return n.run("tc", "qdisc", "replace", "dev", dev, "root", "tbf",
		"rate", rate, "burst", "64kb", "latency", fmt.Sprintf("%dms", latency.Milliseconds()))
}

// Nft loads an nftables ruleset (nft -f syntax) into the namespace.
func (n *NS) Nft(ruleset string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := n.Command(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TimeWaitSockets counts the kernel's TIME-WAIT sockets in the namespace
// (ss -tan state time-wait), optionally only those whose remote or local
// address:port contains match.
func (n *NS) TimeWaitSockets(match string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := n.Output(ctx, "ss", "-Htan", "state", "time-wait")
	if err != nil {
		return 0, err
	}
	c := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if match == "" || strings.Contains(l, match) {
			c++
		}
	}
	return c, nil
}

// Have reports whether a program is installed, for t.Skip.
func Have(prog string) bool {
	_, err := exec.LookPath(prog)
	return err == nil
}
