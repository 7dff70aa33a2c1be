package interop

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/harness"
	"github.com/ustack/ustack/stack"
)

// TestPAWS uses ustack's timestamp-clock skew (ustack.ts_clock_skew) to put
// one ustack instance's TSvals behind another's on the same address and
// port, and checks that the kernel's PAWS drops what it must.
//
// The skew can only run a stack's clock ahead and is fixed at creation, so
// "skewing backwards" is done with two stacks in turn on the same TUN
// address: the first runs 100 s ahead, the second is not skewed.
func TestPAWS(t *testing.T) {
	harness.Skip(t)
	const (
		port     = 40300
		skew     = "100000" // ms
		kernPort = 6001
	)
	// SCN-13 / PAWS-9 / TW-PROC-15 / MIB-5, VER-4: the kernel holds
	// TIME-WAIT with ts_recent from the first stack; the second stack's SYN
	// from the same port carries an older TSval: the kernel answers with
	// its TIME-WAIT ACK and counts PAWSTimewait (PAWSEstab before 6.x).
	// ustack's SYN_SENT answers that ACK with a RST (PAWS-10's
	// unacceptable-ACK branch), which kills the record (tcp_rfc1337 = 0),
	// and the retransmitted SYN one RTO later gets through.
	for _, behind := range []bool{true, false} {
		name := "second-stack-behind/kernel-TW-rejects-SYN"
		first, second := skew, "0"
		if !behind {
			name = "second-stack-ahead/kernel-TW-admits-SYN"
			first, second = "0", skew
		}
		t.Run(name, func(t *testing.T) {
			e := harness.New(t, harness.Config{Tag: "paws", NoStack: true, Deadline: 30 * time.Second})
			e.StartStack([2]string{"net.ipv4.tcp_timestamps", "2"}, [2]string{"ustack.ts_clock_skew", first})
			kl := e.KernelListen(harness.HostAddrPort(kernPort))
			kernelCloser(kl, true)
			laddr := net.TCPAddrFromAddrPort(netip.AddrPortFrom(harness.StackAddr, port))
			d := &stack.Dialer{Stack: e.Stack, LocalAddr: laddr, ReuseAddr: true, Timeout: 5 * time.Second}
			ustackClientOnce(t, e, d, harness.HostAddrPort(kernPort), false)
			settle()
			if n, _ := e.NS.TimeWaitSockets(fmt.Sprintf(":%d", port)); n != 1 {
				t.Fatalf("kernel TIME-WAIT sockets for port %d: %d, want 1%s", port, n, finOrder(e))
			}
			_, last, _ := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
				return p.Dir == harness.ToKernel && h.HasTS
			})
			before := e.KernelDelta()

			e.Staged("restart ustack with ts_clock_skew %s ms", second)
			e.StopStack()
			e.StartStack([2]string{"net.ipv4.tcp_timestamps", "2"}, [2]string{"ustack.ts_clock_skew", second})
			d.Stack = e.Stack
			start := time.Now()
			e.Staged("second stack connects from port %d", port)
			ustackClientOnce(t, e, d, harness.HostAddrPort(kernPort), true)
			took := time.Since(start)
			_, syn, _ := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
				return p.Dir == harness.ToKernel && h.Flags == harness.SYN
			})
			after := e.KernelDelta()
			paws := after["TcpExtPAWSTimewait"] - before["TcpExtPAWSTimewait"] + after["TcpExtPAWSEstab"] - before["TcpExtPAWSEstab"]
			t.Logf("first stack's last TSval %d, second stack's SYN TSval %d; connect took %v", last.TSVal, syn.TSVal, took)
			if behind {
				if int32(syn.TSVal-last.TSVal) >= 0 {
					t.Fatalf("second stack's TSval %d is not behind the first's %d: ustack.ts_clock_skew not applied", syn.TSVal, last.TSVal)
				}
				if paws == 0 {
					t.Errorf("kernel PAWSTimewait/PAWSEstab did not count the old SYN")
				}
				if took < 500*time.Millisecond {
					t.Errorf("connect took %v: the PAWS-rejected SYN should cost one SYN RTO", took)
				}
			} else {
				if paws != 0 {
					t.Errorf("kernel counted PAWS %d for a newer TSval", paws)
				}
				if took > 500*time.Millisecond {
					t.Errorf("connect took %v: a newer SYN should be admitted by TIME-WAIT at once (TW-PROC-14)", took)
				}
			}
			harness.Summary(t, 0, took, "kernel_PAWSTimewait", after["TcpExtPAWSTimewait"], "kernel_PAWSEstab", after["TcpExtPAWSEstab"],
				"tsval_delta", int32(syn.TSVal-last.TSVal))
		})
	}

	// SCN-42 / PAWS-8: PAWSEstab on an established connection needs a
	// stack whose TSvals jump back mid-connection.
	t.Run("established/kernel-PAWSEstab", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "paws", StackOptions: [][2]string{
			{"net.ipv4.tcp_timestamps", "2"}, {"ustack.ts_clock_skew", skew}}})
		kl := e.KernelListen(harness.HostAddrPort(kernPort))
		got := make(chan int64, 1)
		go func() {
			c, err := kl.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			h := harness.NewHashWriter()
			io.Copy(h, c)
			got <- h.N()
		}()
		c, err := e.Stack.DialContext(e.Ctx(), "tcp", harness.HostAddrPort(kernPort))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("before"))
		if err := e.Stack.SetOption("ustack.ts_clock_skew", "0"); err != nil {
			t.Skipf("ustack.ts_clock_skew cannot go back on a running stack (%v): "+
				"no way yet to make an established connection's TSvals jump back", err)
		}
		c.SetWriteDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte("after"))
		time.Sleep(500 * time.Millisecond)
		if v := e.KernelDelta()["TcpExtPAWSEstab"]; v == 0 {
			t.Errorf("kernel PAWSEstab = 0 after ustack's TSvals went back 100 s")
		}
		harness.Summary(t, 0, e.Elapsed(), "kernel_PAWSEstab", e.KernelDelta()["TcpExtPAWSEstab"])
	})
}
