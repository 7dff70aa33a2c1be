package netns

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func TestNamespaceLifecycle(t *testing.T) {
	if ok, why := Available(); !ok {
		t.Skip(why)
	}
	ns, err := New("harness")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if _, err := os.Stat("/var/run/netns/" + ns.Name); err != nil {
		t.Fatalf("named namespace missing: %v", err)
	}
	// Sysctls are per namespace: set one that differs from the default.
	if err := ns.Sysctl("net.ipv4.tcp_tw_reuse", "1"); err != nil {
		t.Fatal(err)
	}
	if v, err := ns.ReadSysctl("net.ipv4.tcp_tw_reuse"); err != nil || v != "1" {
		t.Fatalf("sysctl read back %q, %v", v, err)
	}
	// Loopback inside works and traffic is counted by that namespace's kernel.
	err = ns.Do(func() error {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ns.KernelCounters()
	if err != nil {
		t.Fatal(err)
	}
	if m["TcpActiveOpens"] != 1 {
		t.Fatalf("TcpActiveOpens in namespace = %d, want 1", m["TcpActiveOpens"])
	}
	if err := ns.Run(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if left := Leftovers(); len(left) != 0 {
		t.Fatalf("namespaces left behind: %v", left)
	}
}

// A failing scenario must still leave nothing behind: the harness's cleanup
// runs from t.Cleanup even when the test body panics or fails.
func TestNoLeftoversAfterFailure(t *testing.T) {
	if ok, why := Available(); !ok {
		t.Skip(why)
	}
	t.Run("inner", func(t *testing.T) {
		defer func() { recover() }()
		ns, err := New("fail")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		panic("scenario failure")
	})
	if left := Leftovers(); len(left) != 0 {
		t.Fatalf("namespaces left behind: %v", left)
	}
}

// Two namespaces joined by a veth pair, a kernel connection across it, a
// shaped link, an nftables table and a process that is killed by id.
func TestVethToolsAndProcesses(t *testing.T) {
	if ok, why := Available(); !ok {
		t.Skip(why)
	}
	a, err := New("veth-a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New("veth-b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pa, pb := netip.MustParsePrefix("198.51.100.1/30"), netip.MustParsePrefix("198.51.100.2/30")
	if err := Veth(a, "va", pa, b, "vb", pb); err != nil {
		t.Fatal(err)
	}
	if Have("tc") {
		if err := a.RateLimit("va", "50mbit", 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if Have("nft") {
		if err := b.Nft("table ip t {\n chain c {\n  type filter hook input priority 0; policy accept;\n }\n}\n"); err != nil {
			t.Fatal(err)
		}
	}
	var l net.Listener
	if err := b.Do(func() (err error) { l, err = net.Listen("tcp4", "198.51.100.2:9000"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	err = a.Do(func() error {
		c, err := net.DialTimeout("tcp4", "198.51.100.2:9000", 5*time.Second)
		if err != nil {
			return err
		}
		c.Read(make([]byte, 1)) // the server's FIN
		return c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	// The server closed first: the TIME-WAIT socket is b's, not a's.
	if n, err := b.TimeWaitSockets(""); err != nil || n != 1 {
		t.Fatalf("TIME-WAIT in b: %d, %v", n, err)
	}
	if n, _ := a.TimeWaitSockets(""); n != 0 {
		t.Fatalf("TIME-WAIT in a: %d", n)
	}
	p, err := a.StartIn(context.Background(), "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	if len(Running()) != 1 {
		t.Fatalf("running: %v", Running())
	}
	p.Kill()
	if r := Running(); len(r) != 0 {
		t.Fatalf("still running after Kill: %v", r)
	}
	a.Close()
	b.Close()
	if err := CheckClean(0); err != nil {
		t.Fatal(err)
	}
}
