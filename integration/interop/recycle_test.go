package interop

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/harness"
	"github.com/ustack/ustack/integration/netns"
)

// TestTwRecycleNAT reproduces the classic tcp_tw_recycle failure (RECYCLE-6,
// MIB-7): two clients in two namespaces reach a server through one NAT
// router, so the server sees one address whose timestamp clocks disagree.
// Linux removed tcp_tw_recycle in 4.12, so the server is ustack with its
// linux-4.11 TIME-WAIT profile; the clients are this kernel, whose
// timestamp offsets are per address pair (the clients' pre-NAT addresses
// differ, so their clocks do). After ustack closes first on one client and
// caches its timestamp, the other client's SYN carries a TSval behind it and
// is dropped (PAWSPassive) until the cache entry ages out.
//
//	ns A 198.51.100.2/30 --veth-- 198.51.100.1 [router: nft masquerade] 192.0.2.1 --TUN-- ustack 192.0.2.2
//	ns B 203.0.113.2/30  --veth-- 203.0.113.1 [                       ]
func TestTwRecycleNAT(t *testing.T) {
	harness.Skip(t)
	harness.SkipWithout(t, "nft")
	for _, recycle := range []string{"1", "0"} {
		t.Run("tw_recycle="+recycle, func(t *testing.T) {
			e := harness.New(t, harness.Config{Tag: "nat", Deadline: 60 * time.Second, StackOptions: [][2]string{
				{"ustack.timewait_profile", "linux-4.11"}, {"net.ipv4.tcp_tw_recycle", recycle}}})
			a, b := natClients(t, e)
			ustackCloser(e, true)
			dial := func(ns *netns.NS) error {
				c, err := harness.KernelDialIn(ns, harness.StackAddrPort(twPort), 0, 1500*time.Millisecond)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte("hello"))
				buf := make([]byte, 16)
				n, _ := c.Read(buf)
				if n != 5 {
					return fmt.Errorf("short echo %d", n)
				}
				return nil
			}
			// Alternate A and B; each connection is closed by ustack first,
			// which caches the client's TSval for the NAT address. A SYN
			// whose TSval is behind the cached one is refused. Which one
			// is behind is random (the kernel's offsets are keyed per
			// address pair, or per 4-tuple since 6.18.17), so keep going
			// until a refusal, at most 12 connections (all succeeding has
			// probability 2^-11 with a working tw_recycle).
			var failed []string
			steps := 12
			if recycle == "0" {
				steps = 4
			}
			for i := 0; i < steps && len(failed) == 0; i++ {
				name, ns := "A", a
				if i%2 == 1 {
					name, ns = "B", b
				}
				e.Staged("step %d: client %s connects", i, name)
				if err := dial(ns); err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) && !isTimeout(err) {
						t.Fatalf("client %s: %v", name, err)
					}
					failed = append(failed, fmt.Sprintf("%s@%d", name, i))
				}
				time.Sleep(20 * time.Millisecond) // ustack's FIN and the last ACK
			}
			pp := e.UCounter("TcpExtPAWSPassive")
			if recycle == "1" {
				if len(failed) == 0 || pp == 0 {
					var tsv []string
					for _, p := range e.Tap.Packets() {
						if h, ok := p.TCP(); ok && p.Dir == harness.FromKernel && h.Flags == harness.SYN {
							tsv = append(tsv, fmt.Sprint(h.TSVal))
						}
					}
					t.Errorf("tw_recycle=1 behind NAT: refused %v, PAWSPassive %d; want a refused SYN and PAWSPassive > 0 "+
						"(SYN TSvals from the NAT address, in order, each connection closed first by ustack: %v)", failed, pp, tsv)
				}
			} else if len(failed) != 0 || pp != 0 {
				t.Errorf("tw_recycle=0: refused %v, PAWSPassive %d; want none", failed, pp)
			}
			harness.Summary(t, 0, e.Elapsed(), "refused", fmt.Sprint(failed), "ustack_PAWSPassive", pp,
				"ustack_ListenDrops", e.UCounter("TcpExtListenDrops"))
		})
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// natClients builds the router (the Env's namespace, which holds the TUN)
// and two client namespaces behind its masquerade.
func natClients(t *testing.T, e *harness.Env) (a, b *netns.NS) {
	t.Helper()
	mk := func(tag string) *netns.NS {
		ns, err := netns.New(tag)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		return ns
	}
	a, b = mk("natA"), mk("natB")
	p := netip.MustParsePrefix
	if err := netns.Veth(e.NS, "ra", p("198.51.100.1/30"), a, "eth0", p("198.51.100.2/30")); err != nil {
		t.Fatal(err)
	}
	if err := netns.Veth(e.NS, "rb", p("203.0.113.1/30"), b, "eth0", p("203.0.113.2/30")); err != nil {
		t.Fatal(err)
	}
	if err := a.Route("default", netip.MustParseAddr("198.51.100.1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Route("default", netip.MustParseAddr("203.0.113.1")); err != nil {
		t.Fatal(err)
	}
	if err := e.NS.Forwarding(); err != nil {
		t.Fatal(err)
	}
	err := e.NS.Nft(`table ip ustacknat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "` + harness.TUNName + `" masquerade
	}
}
`)
	if err != nil {
		t.Skipf("nftables masquerade unavailable: %v", err)
	}
	return a, b
}
