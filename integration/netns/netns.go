// Package netns is the test harness's network-namespace handling: it creates
// named namespaces (so kernel tools can be run inside with `ip netns exec`),
// runs Go code inside them on a locked OS thread, sets sysctls there, reads
// the kernel's counters there, and removes everything again.
//
// Namespaces are created and deleted by iproute2 (`ip netns add/delete`,
// the same bind mounts under /var/run/netns every other tool uses) and
// entered with github.com/vishvananda/netns (setns(2)); nothing here ever
// touches the root namespace's links, addresses, routes or sysctls.
package netns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	vnetns "github.com/vishvananda/netns"
)

// Prefix starts the name of every namespace this package creates, so leaks
// are easy to find (`ip netns list | grep ^ustack-`).
const Prefix = "ustack-"

var seq atomic.Uint64

// Available reports whether namespaces and TUN devices can be created here,
// and if not, why (for t.Skip).
func Available() (bool, string) {
	if os.Geteuid() != 0 {
		return false, "needs root (network namespaces and TUN devices)"
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return false, "needs /dev/net/tun: " + err.Error()
	}
	return true, ""
}

// NS is one named network namespace created by this process.
type NS struct {
	Name string

	mu     sync.Mutex // guards closed
	closed bool
}

// New creates a fresh named namespace "ustack-<tag>-<pid>-<n>" with its
// loopback up. The calling thread's namespace is left unchanged.
func New(tag string) (*NS, error) {
	name := fmt.Sprintf("%s%s-%d-%d", Prefix, tag, os.Getpid(), seq.Add(1))
	// iproute2 creates the namespace: it first makes /run/netns a shared
	// mount of its own (once), then bind-mounts the namespace under it.
	// Creating the bind mount ourselves before that step exists would let
	// a later `ip netns add` by anyone stack /run/netns over our mount,
	// hiding it so it can never be deleted by name.
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("netns: create %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	ns := &NS{Name: name}
	track(ns)
	if err := ns.Run(context.Background(), "ip", "link", "set", "lo", "up"); err != nil {
		ns.Close()
		return nil, err
	}
	return ns, nil
}

// Do runs f on a locked OS thread inside the namespace. Sockets, TUN devices
// and netlink handles created by f belong to the namespace.
func (n *NS) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread dies with the goroutine instead of
		// returning to the pool in the wrong namespace.
		h, err := vnetns.GetFromName(n.Name)
		if err != nil {
			errc <- fmt.Errorf("netns: open %s: %w", n.Name, err)
			return
		}
		defer h.Close()
		if err := vnetns.Set(h); err != nil {
			errc <- fmt.Errorf("netns: enter %s: %w", n.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Command returns a command that runs inside the namespace.
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its error with its
// combined output.
func (n *NS) Run(ctx context.Context, name string, args ...string) error {
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Sysctl sets a sysctl (dotted name, e.g. net.ipv4.tcp_tw_reuse) inside the
// namespace. Only per-namespace sysctls can be set this way.
func (n *NS) Sysctl(name, value string) error {
	path := filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
	return n.Do(func() error { return os.WriteFile(path, []byte(value), 0o644) })
}

// ReadSysctl reads a sysctl inside the namespace.
func (n *NS) ReadSysctl(name string) (string, error) {
	var v string
	path := filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
	err := n.Do(func() error {
		b, err := os.ReadFile(path)
		v = strings.TrimSpace(string(b))
		return err
	})
	return v, err
}

// KernelCounters returns the namespace kernel's SNMP and netstat counters,
// keyed like nstat does ("TcpExtTW", "TcpActiveOpens").
func (n *NS) KernelCounters() (map[string]uint64, error) {
	m := map[string]uint64{}
	err := n.Do(func() error {
		for _, f := range []string{"/proc/thread-self/net/netstat", "/proc/thread-self/net/snmp"} {
			if err := parseProcNet(f, m); err != nil {
				return err
			}
		}
		return nil
	})
	return m, err
}

// parseProcNet reads the two-line-per-group format of /proc/net/netstat.
func parseProcNet(path string, m map[string]uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var names []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		group := strings.TrimSuffix(fields[0], ":")
		if names == nil || names[0] != fields[0] {
			names = fields
			continue
		}
		for i := 1; i < len(fields) && i < len(names); i++ {
			v, err := strconv.ParseInt(fields[i], 10, 64)
			if err == nil {
				m[group+names[i]] = uint64(v)
			}
		}
		names = nil
	}
	return sc.Err()
}

// Close deletes the namespace. Devices inside it go with it once the
// descriptors that hold them are closed. Close is idempotent.
func (n *NS) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	untrack(n)
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "delete", n.Name).CombinedOutput()
	if err == nil {
		return nil
	}
	if _, serr := os.Stat(filepath.Join("/var/run/netns", n.Name)); os.IsNotExist(serr) {
		return nil
	}
	if derr := vnetns.DeleteNamed(n.Name); derr != nil && !errors.Is(derr, os.ErrNotExist) {
		return fmt.Errorf("netns: delete %s: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Leftovers lists namespaces created by this process that still exist; the
// harness's own test uses it to prove that failures clean up.
func Leftovers() []string {
	entries, _ := os.ReadDir("/var/run/netns")
	mine := fmt.Sprintf("-%d-", os.Getpid())
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), Prefix) && strings.Contains(e.Name(), mine) {
			out = append(out, e.Name())
		}
	}
	return out
}
