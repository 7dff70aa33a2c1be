package netns

import (
	"context"
	"net"
	"os"
	"testing"
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
