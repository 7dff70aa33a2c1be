package interop

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/harness"
	"github.com/ustack/ustack/stack"
)

// Rule IDs in names and comments refer to /work/shared/spec/linux-tcp-close.md.

const twPort = 80

// kernelClientOnce connects from the kernel (optionally from a fixed port),
// says hello, reads until ustack's FIN when ustackCloses, else closes
// first. It returns the kernel's local port.
func kernelClientOnce(t *testing.T, e *harness.Env, localPort int, ustackCloses bool) uint16 {
	t.Helper()
	c, err := e.KernelDial(harness.StackAddrPort(twPort), localPort, 5*time.Second)
	if err != nil {
		t.Fatalf("kernel dial from port %d: %v", localPort, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("kernel read echo: %v", err)
	}
	if ustackCloses {
		if _, err := c.Read(buf); err != io.EOF {
			t.Fatalf("kernel waited for ustack's FIN, got %v", err)
		}
	}
	return uint16(c.LocalAddr().(*net.TCPAddr).Port)
}

// ustackCloser serves twPort on ustack with echoCloser's behaviour.
func ustackCloser(e *harness.Env, closeFirst bool) { echoCloser(e.Listen(twPort), closeFirst) }

// settle gives the last ACK of a close time to cross the link.
func settle() { time.Sleep(50 * time.Millisecond) }

// finOrder explains a missing TIME-WAIT: ustack segments that reached the
// kernel after ustack's own FIN make the kernel's TIME-WAIT answer them,
// ustack (already closed) answers with a RST, and the RST kills the record.
func finOrder(e *harness.Env) string {
	v := e.Tap.FINOrderViolations()
	if len(v) == 0 {
		return ""
	}
	return fmt.Sprintf(" (ustack wrote %d segments behind its own FIN, e.g. %s)", len(v), v[0])
}

func noRSTs(t *testing.T, e *harness.Env) {
	t.Helper()
	kd := e.KernelDelta()
	if r := e.UCounter("TcpOutRsts"); r != 0 || kd["TcpOutRsts"] != 0 {
		t.Errorf("RSTs: ustack TcpOutRsts=%d kernel TcpOutRsts=%d%s\n%s", r, kd["TcpOutRsts"], finOrder(e), e.Tap.Dump(20, nil))
	}
}

// TestTimeWait checks who holds TIME-WAIT after each kind of close, both
// ways, and the TIME-WAIT machinery (reuse, bucket limit, RST handling,
// linger, PAWS) as seen from the other side of the wire.
func TestTimeWait(t *testing.T) {
	harness.Skip(t)

	// SCN-1 / TW-ENTER: the side that closes first holds TIME-WAIT.
	t.Run("server-close/ustack-holds-TW", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "tw"})
		ustackCloser(e, true)
		kport := kernelClientOnce(t, e, 0, true)
		settle()
		ktw, _ := e.NS.TimeWaitSockets(fmt.Sprint(kport))
		if n := e.UTimeWait(kport); n != 1 || ktw != 0 {
			t.Errorf("TIME-WAIT: ustack %d kernel %d, want 1 0", n, ktw)
		}
		if v := e.UCounter("TcpExtTW"); v != 1 { // MIB-1 [6.18]: counted at entry
			t.Errorf("ustack TcpExtTW = %d, want 1", v)
		}
		noRSTs(t, e)
		harness.Summary(t, 0, e.Elapsed(), "ustack_tw", e.UTimeWait(0), "kernel_tw", ktw, "ustack_TcpExtTW", e.UCounter("TcpExtTW"))
	})

	t.Run("client-close/kernel-holds-TW", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "tw"})
		ustackCloser(e, false)
		kport := kernelClientOnce(t, e, 0, false)
		settle()
		ktw, _ := e.NS.TimeWaitSockets(fmt.Sprint(kport))
		if n := e.UTimeWait(kport); n != 0 || ktw != 1 {
			t.Errorf("TIME-WAIT: ustack %d kernel %d, want 0 1%s", n, ktw, finOrder(e))
		}
		if v := e.KernelDelta()["TcpExtTW"]; v != 1 {
			t.Errorf("kernel TcpExtTW = %d, want 1", v)
		}
		noRSTs(t, e)
		harness.Summary(t, 0, e.Elapsed(), "ustack_tw", e.UTimeWait(0), "kernel_tw", ktw, "kernel_TcpExtTW", e.KernelDelta()["TcpExtTW"])
	})

	// TW-PROC-14 / TW-PROC-21 / SCN-10: a new SYN from the same port with
	// a newer TSval is admitted by ustack's TIME-WAIT record and answered
	// with ISN = old snd_nxt + 65537.
	t.Run("reconnect-fixed-port/into-ustack-TW", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "twre"})
		ustackCloser(e, true)
		const port = 40123
		kernelClientOnce(t, e, port, true)
		settle()
		if n := e.UTimeWait(port); n != 1 {
			t.Fatalf("ustack TIME-WAIT records for port %d: %d, want 1", port, n)
		}
		_, fin, ok := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
			return p.Dir == harness.ToKernel && h.Flags&harness.FIN != 0 && h.Dst.Port() == port
		})
		if !ok {
			t.Fatal("ustack's FIN not seen on the TUN")
		}
		e.Staged("reconnect from port %d", port)
		kernelClientOnce(t, e, port, true)
		_, sa, ok := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
			return p.Dir == harness.ToKernel && h.Flags == harness.SYN|harness.ACK && h.Dst.Port() == port
		})
		if !ok {
			t.Fatal("no SYN-ACK for the second connection")
		}
		if want := fin.Seq + 1 + 65537; sa.Seq != want {
			t.Errorf("SYN-ACK through TIME-WAIT: ISN %d, want old snd_nxt+65537 = %d (TW-PROC-21)", sa.Seq, want)
		}
		if v := e.UCounter("TcpPassiveOpens"); v != 2 {
			t.Errorf("ustack TcpPassiveOpens = %d, want 2", v)
		}
		noRSTs(t, e)
		harness.Summary(t, 0, e.Elapsed(), "connections", 2, "isn_delta", sa.Seq-fin.Seq-1)
	})

	t.Run("reconnect-fixed-port/into-kernel-TW", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "twre"})
		kl := e.KernelListen(harness.HostAddrPort(6001))
		kernelCloser(kl, true)
		const port = 40124
		d := &stack.Dialer{Stack: e.Stack, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(harness.StackAddr, port)), ReuseAddr: true, Timeout: 5 * time.Second}
		ustackClientOnce(t, e, d, harness.HostAddrPort(6001), false)
		settle()
		if n, _ := e.NS.TimeWaitSockets(fmt.Sprint(port)); n != 1 {
			t.Fatalf("kernel TIME-WAIT for port %d: %d, want 1%s", port, n, finOrder(e))
		}
		_, fin, ok := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
			return p.Dir == harness.FromKernel && h.Flags&harness.FIN != 0 && h.Dst.Port() == port
		})
		if !ok {
			t.Fatal("kernel's FIN not seen on the TUN")
		}
		time.Sleep(20 * time.Millisecond) // a newer TSval
		e.Staged("reconnect from port %d", port)
		ustackClientOnce(t, e, d, harness.HostAddrPort(6001), false)
		_, sa, ok := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
			return p.Dir == harness.FromKernel && h.Flags == harness.SYN|harness.ACK && h.Dst.Port() == port
		})
		if !ok {
			t.Fatal("no SYN-ACK from the kernel for the second connection")
		}
		if want := fin.Seq + 1 + 65537; sa.Seq != want {
			t.Errorf("kernel SYN-ACK through TIME-WAIT: ISN %d, want %d (the kernel's own TW-PROC-21)", sa.Seq, want)
		}
		noRSTs(t, e)
		harness.Summary(t, 0, e.Elapsed(), "connections", 2, "isn_delta", sa.Seq-fin.Seq-1)
	})

	// SCN-37 / TW-REUSE: 16 ephemeral ports, the client closes first each
	// time; connect() reuses a TIME-WAIT 4-tuple only with tcp_tw_reuse=1
	// and only after tcp_tw_reuse_delay; TWRecycled counts it.
	for _, reuse := range []string{"0", "1"} {
		t.Run("tw-reuse="+reuse+"/kernel-client-tiny-port-range", func(t *testing.T) {
			e := harness.New(t, harness.Config{Tag: "twreuse", KernelSysctls: [][2]string{
				{"net.ipv4.ip_local_port_range", "40000 40015"}, {"net.ipv4.tcp_tw_reuse", reuse}}})
			ustackCloser(e, false)
			for range 16 {
				kernelClientOnce(t, e, 0, false)
			}
			settle()
			_, err := e.KernelDial(harness.StackAddrPort(twPort), 0, 2*time.Second)
			if !errors.Is(err, syscall.EADDRNOTAVAIL) {
				t.Fatalf("17th connect within the reuse delay: %v, want EADDRNOTAVAIL", err)
			}
			time.Sleep(1100 * time.Millisecond) // tcp_tw_reuse_delay 1000 ms
			c, err := e.KernelDial(harness.StackAddrPort(twPort), 0, 2*time.Second)
			if reuse == "0" {
				if !errors.Is(err, syscall.EADDRNOTAVAIL) {
					t.Fatalf("connect with tcp_tw_reuse=0: %v, want EADDRNOTAVAIL", err)
				}
			} else {
				if err != nil {
					t.Fatalf("connect through a TIME-WAIT 4-tuple with tcp_tw_reuse=1: %v", err)
				}
				c.Close()
				if v := e.KernelDelta()["TcpExtTWRecycled"]; v != 1 {
					t.Errorf("kernel TWRecycled = %d, want 1", v)
				}
			}
			harness.Summary(t, 0, e.Elapsed(), "kernel_TWRecycled", e.KernelDelta()["TcpExtTWRecycled"])
		})

		t.Run("tw-reuse="+reuse+"/ustack-client-tiny-port-range", func(t *testing.T) {
			e := harness.New(t, harness.Config{Tag: "twreuse", StackOptions: [][2]string{
				{"net.ipv4.ip_local_port_range", "40000 40015"}, {"net.ipv4.tcp_tw_reuse", reuse}}})
			kl := e.KernelListen(harness.HostAddrPort(6001))
			kernelCloser(kl, false)
			d := &stack.Dialer{Stack: e.Stack, Timeout: 5 * time.Second}
			for range 16 {
				ustackClientOnce(t, e, d, harness.HostAddrPort(6001), true)
			}
			settle()
			_, err := d.DialContext(e.Ctx(), "tcp", harness.HostAddrPort(6001))
			if !errors.Is(err, syscall.EADDRNOTAVAIL) {
				t.Fatalf("17th ustack connect within the reuse delay: %v, want EADDRNOTAVAIL", err)
			}
			time.Sleep(1100 * time.Millisecond)
			c, err := d.DialContext(e.Ctx(), "tcp", harness.HostAddrPort(6001))
			if reuse == "0" {
				if !errors.Is(err, syscall.EADDRNOTAVAIL) {
					t.Fatalf("ustack connect with tcp_tw_reuse=0: %v, want EADDRNOTAVAIL", err)
				}
			} else {
				if err != nil {
					t.Fatalf("ustack connect through TIME-WAIT with tcp_tw_reuse=1: %v", err)
				}
				c.Close()
				if v := e.UCounter("TcpExtTWRecycled"); v != 1 {
					t.Errorf("ustack TWRecycled = %d, want 1", v)
				}
			}
			harness.Summary(t, 0, e.Elapsed(), "ustack_TWRecycled", e.UCounter("TcpExtTWRecycled"))
		})
	}

	// TW-ENTER-3 / MIB-8: past tcp_max_tw_buckets a closing socket gets no
	// record; TCPTimeWaitOverflow counts it.
	t.Run("max-tw-buckets/kernel", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "twmax", KernelSysctls: [][2]string{{"net.ipv4.tcp_max_tw_buckets", "2"}}})
		ustackCloser(e, false)
		for range 5 {
			kernelClientOnce(t, e, 0, false)
		}
		settle()
		ktw, _ := e.NS.TimeWaitSockets("")
		kd := e.KernelDelta()
		if ktw != 2 || kd["TcpExtTCPTimeWaitOverflow"] != 3 {
			t.Errorf("kernel: %d TIME-WAIT, TCPTimeWaitOverflow %d; want 2 and 3", ktw, kd["TcpExtTCPTimeWaitOverflow"])
		}
		// The kernel closed first and its socket would have become a
		// FIN_WAIT2-substate record as soon as ustack ACKed the FIN; without
		// a bucket the socket is simply gone, so ustack's own FIN finds no
		// socket and is answered with a RST (TW-LOOKUP), once per overflow.
		if kd["TcpOutRsts"] != 3 || e.UCounter("TcpOutRsts") != 0 {
			t.Errorf("RSTs: kernel %d (want 3, one per overflowed socket), ustack %d (want 0)", kd["TcpOutRsts"], e.UCounter("TcpOutRsts"))
		}
		harness.Summary(t, 0, e.Elapsed(), "kernel_tw", ktw, "kernel_TCPTimeWaitOverflow", kd["TcpExtTCPTimeWaitOverflow"])
	})
	t.Run("max-tw-buckets/ustack", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "twmax", StackOptions: [][2]string{{"net.ipv4.tcp_max_tw_buckets", "2"}}})
		ustackCloser(e, true)
		for range 5 {
			kernelClientOnce(t, e, 0, true)
		}
		settle()
		utw, ov := e.Stack.Sockstat().TW, e.UCounter("TcpExtTCPTimeWaitOverflow")
		if utw != 2 || ov != 3 {
			t.Errorf("ustack: %d TIME-WAIT, TCPTimeWaitOverflow %d; want 2 and 3", utw, ov)
		}
		noRSTs(t, e)
		harness.Summary(t, 0, e.Elapsed(), "ustack_tw", utw, "ustack_TCPTimeWaitOverflow", ov)
	})

	// TW-PROC-10/16/17, SYSCTL-6: an in-window RST (seq = rcv_nxt) kills a
	// TIME-WAIT record when tcp_rfc1337 = 0 and is ignored when it is 1.
	for _, rfc := range []string{"0", "1"} {
		t.Run("rst-in-TW/rfc1337="+rfc+"/ustack-record", func(t *testing.T) {
			e := harness.New(t, harness.Config{Tag: "twrst", StackOptions: [][2]string{{"net.ipv4.tcp_rfc1337", rfc}}})
			ustackCloser(e, true)
			kport := kernelClientOnce(t, e, 0, true)
			settle()
			_, fin, ok := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
				return p.Dir == harness.FromKernel && h.Flags&harness.FIN != 0 && h.Src.Port() == kport
			})
			if !ok || e.UTimeWait(kport) != 1 {
				t.Fatalf("no ustack TIME-WAIT record to test (FIN seen %v, records %d)", ok, e.UTimeWait(kport))
			}
			rst := harness.BuildTCP(fin.Src, fin.Dst, fin.Seq+1, 0, harness.RST, 0, false, 0, 0)
			if err := e.KernelSendRaw(rst); err != nil {
				t.Fatal(err)
			}
			settle()
			want := 0
			if rfc == "1" {
				want = 1
			}
			if n := e.UTimeWait(kport); n != want {
				t.Errorf("after an in-window RST with tcp_rfc1337=%s: %d ustack records, want %d", rfc, n, want)
			}
			harness.Summary(t, 0, e.Elapsed(), "records_left", e.UTimeWait(kport))
		})
		t.Run("rst-in-TW/rfc1337="+rfc+"/kernel-record", func(t *testing.T) {
			e := harness.New(t, harness.Config{Tag: "twrst", KernelSysctls: [][2]string{{"net.ipv4.tcp_rfc1337", rfc}}})
			kl := e.KernelListen(harness.HostAddrPort(6001))
			kernelCloser(kl, true)
			d := &stack.Dialer{Stack: e.Stack, Timeout: 5 * time.Second}
			uport := ustackClientOnce(t, e, d, harness.HostAddrPort(6001), false)
			settle()
			_, fin, ok := e.Tap.Last(func(p *harness.Packet, h harness.TCPFields) bool {
				return p.Dir == harness.ToKernel && h.Flags&harness.FIN != 0 && h.Src.Port() == uport
			})
			if n, _ := e.NS.TimeWaitSockets(fmt.Sprint(uport)); !ok || n != 1 {
				t.Fatalf("no kernel TIME-WAIT socket to test (FIN seen %v, sockets %d)%s", ok, n, finOrder(e))
			}
			if err := e.Tap.Inject(harness.BuildTCP(fin.Src, fin.Dst, fin.Seq+1, 0, harness.RST, 0, false, 0, 0)); err != nil {
				t.Fatal(err)
			}
			settle()
			want := 0
			if rfc == "1" {
				want = 1
			}
			if n, _ := e.NS.TimeWaitSockets(fmt.Sprint(uport)); n != want {
				t.Errorf("after an in-window RST with tcp_rfc1337=%s: %d kernel TIME-WAIT sockets, want %d", rfc, n, want)
			}
			n, _ := e.NS.TimeWaitSockets(fmt.Sprint(uport))
			harness.Summary(t, 0, e.Elapsed(), "records_left", n)
		})
	}

	// CLOSE-7 / MIB-10: SO_LINGER 0 aborts with a RST; the peer's read
	// fails with ECONNRESET; nobody holds TIME-WAIT.
	t.Run("linger0/ustack-aborts", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "linger"})
		l := e.Listen(twPort)
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 5)
			io.ReadFull(c, buf)
			c.(*stack.TCPConn).SetLinger(0)
			c.Close()
		}()
		c, err := e.KernelDial(harness.StackAddrPort(twPort), 0, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hello"))
		_, err = c.Read(make([]byte, 1))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("kernel read after ustack's linger-0 close: %v, want ECONNRESET", err)
		}
		kd := e.KernelDelta()
		if kd["TcpEstabResets"] != 1 || e.UCounter("TcpExtTCPAbortOnData") != 1 || e.UCounter("TcpOutRsts") != 1 {
			t.Errorf("kernel TcpEstabResets=%d (want 1), ustack TCPAbortOnData=%d TcpOutRsts=%d (want 1, 1)",
				kd["TcpEstabResets"], e.UCounter("TcpExtTCPAbortOnData"), e.UCounter("TcpOutRsts"))
		}
		harness.Summary(t, 0, e.Elapsed(), "kernel_TcpEstabResets", kd["TcpEstabResets"], "ustack_TCPAbortOnData", e.UCounter("TcpExtTCPAbortOnData"))
	})
	t.Run("linger0/kernel-aborts", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "linger"})
		l := e.Listen(twPort)
		errc := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, c)
			errc <- err
		}()
		c, err := e.KernelDial(harness.StackAddrPort(twPort), 0, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		time.Sleep(20 * time.Millisecond)
		c.SetLinger(0)
		c.Close()
		err = <-errc
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("ustack read after the kernel's linger-0 close: %v, want ECONNRESET", err)
		}
		if v := e.UCounter("TcpEstabResets"); v != 1 {
			t.Errorf("ustack TcpEstabResets = %d, want 1", v)
		}
		harness.Summary(t, 0, e.Elapsed(), "ustack_TcpEstabResets", e.UCounter("TcpEstabResets"))
	})
}

// kernelCloser serves kernel-side connections from l with echoCloser's
// behaviour.
func kernelCloser(l net.Listener, closeFirst bool) { echoCloser(l, closeFirst) }

// echoCloser serves l (a ustack or a kernel listener): it echoes the first
// 5 bytes of each connection, then closes first (closeFirst) or waits for
// the peer's FIN and closes after.
func echoCloser(l net.Listener, closeFirst bool) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 5)
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				c.Write(buf)
				if !closeFirst {
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
}

// ustackClientOnce connects through d, says hello, and closes first
// (closeFirst) or after the kernel's FIN. It returns ustack's local port.
func ustackClientOnce(t *testing.T, e *harness.Env, d *stack.Dialer, addr string, closeFirst bool) uint16 {
	t.Helper()
	c, err := d.DialContext(e.Ctx(), "tcp", addr)
	if err != nil {
		t.Fatalf("ustack dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("ustack read echo: %v", err)
	}
	if !closeFirst {
		if _, err := c.Read(buf); err != io.EOF {
			t.Fatalf("ustack waited for the kernel's FIN, got %v", err)
		}
	}
	return uint16(c.LocalAddr().(*net.TCPAddr).Port)
}
