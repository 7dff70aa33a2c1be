package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vnetlink "github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/ustack/ustack/integration/netns"
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack"
	"github.com/ustack/ustack/tun"
)

// The benchmark's links use the RFC 2544 benchmarking range, inside
// namespaces of its own.
var (
	benchTUNHost  = netip.MustParsePrefix("198.18.0.1/24")
	benchTUNStack = netip.MustParseAddr("198.18.0.2")
	benchVethA    = netip.MustParsePrefix("198.18.1.1/24")
	benchVethB    = netip.MustParsePrefix("198.18.1.2/24")
)

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workers := fs.Int("workers", 64, "concurrent kernel-side clients")
	dur := fs.Duration("duration", 5*time.Second, "how long each target is measured")
	maxConns := fs.Int("max-conns", 2000000, "stop a run after this many connections")
	var opts multiFlag
	fs.Var(&opts, "o", "set a ustack option, sysctl=value; repeatable")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the ustack run to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ustack bench [-workers N] [-duration D] [-o sysctl=value ...]\n\n"+
			"Connection churn: N kernel-side clients in a private namespace each loop connect, send a line,\n"+
			"read the reply until the server closes (the server closes first and holds TIME-WAIT), close.\n"+
			"Measured against ustack over a TUN device, then against a kernel server over a veth pair in the\n"+
			"same run, and both figures printed. Needs root.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *workers < 1 || *workers > 1024 || *dur <= 0 || *dur > 10*time.Minute || *maxConns < 1 {
		return fail(stderr, "bench: want 1..1024 workers, a duration up to 10m and a positive -max-conns")
	}
	sopts, err := buildOptions(opts)
	if err != nil {
		return fail(stderr, "bench: %v", err)
	}
	if err := checkPrivileges(); err != nil {
		return fail(stderr, "bench: %v", err)
	}
	b, err := newBenchEnv(sopts)
	if err != nil {
		return fail(stderr, "bench: %v", err)
	}
	defer b.close()

	fmt.Fprintf(stdout, "connection churn, %d workers, %v per target, GOMAXPROCS=%d\n", *workers, *dur, runtime.GOMAXPROCS(0))
	before := b.s.Counters().Snapshot()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fail(stderr, "bench: %v", err)
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	us := b.churn(netip.AddrPortFrom(benchTUNStack, 80), *workers, *dur, *maxConns)
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	after := b.s.Counters().Snapshot()
	fmt.Fprintf(stdout, "  ustack over TUN:    %s\n", us)
	kr := b.churn(netip.AddrPortFrom(benchVethB.Addr(), 80), *workers, *dur, *maxConns)
	fmt.Fprintf(stdout, "  kernel over veth:   %s\n", kr)
	if kr.rate() > 0 {
		fmt.Fprintf(stdout, "  ustack/kernel:      %.2f\n", us.rate()/kr.rate())
	}
	d := after.Sub(&before)
	fmt.Fprintf(stdout, "  ustack counters during its run: PassiveOpens %d, TW %d, TCPTimeWaitOverflow %d, RetransSegs %d, OutRsts %d, ListenDrops %d\n",
		d.Get(metrics.TcpPassiveOpens), d.Get(metrics.TcpExtTW), d.Get(metrics.TcpExtTCPTimeWaitOverflow),
		d.Get(metrics.TcpRetransSegs), d.Get(metrics.TcpOutRsts), d.Get(metrics.TcpExtListenDrops))
	fmt.Fprintf(stdout, "  ustack %s\n", b.s.Sockstat())
	return 0
}

type benchEnv struct {
	client, peer *netns.NS
	dev          tun.Device
	s            *stack.Stack
	lns          []net.Listener
	wg           sync.WaitGroup
}

func newBenchEnv(opts stack.Options) (_ *benchEnv, err error) {
	b := &benchEnv{}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.client, err = netns.New("bench"); err != nil {
		return nil, err
	}
	if b.peer, err = netns.New("benchpeer"); err != nil {
		return nil, err
	}
	// Clients churn through ports quickly; give them the whole range.
	if err = b.client.Sysctl("net.ipv4.ip_local_port_range", "1024 65535"); err != nil {
		return nil, err
	}
	err = b.client.Do(func() error {
		var err error
		if b.dev, err = tun.CreateTUN("ustack0", 1500); err != nil {
			return err
		}
		if err := tun.Configure("ustack0", benchTUNHost, 1500); err != nil {
			return err
		}
		return addVeth(b.peer.Name)
	})
	if err != nil {
		return nil, err
	}
	if err = b.peer.Do(func() error { return configureLink("bv1", benchVethB) }); err != nil {
		return nil, err
	}
	opts.Addrs = []netip.Addr{benchTUNStack}
	if b.s, err = stack.New(b.dev, opts); err != nil {
		return nil, err
	}
	ul, err := b.s.Listen("tcp", netip.AddrPortFrom(benchTUNStack, 80).String())
	if err != nil {
		return nil, err
	}
	kl, err := b.peer.Listen("tcp", netip.AddrPortFrom(benchVethB.Addr(), 80).String())
	if err != nil {
		ul.Close()
		return nil, err
	}
	b.lns = []net.Listener{ul, kl}
	for _, l := range b.lns {
		b.wg.Add(1)
		go func() { defer b.wg.Done(); serveChurn(l) }()
	}
	return b, nil
}

// addVeth runs inside the client namespace: it creates bv0 there with its
// peer bv1 moved into the named peer namespace.
func addVeth(peerNS string) error {
	ph, err := vnetns.GetFromName(peerNS)
	if err != nil {
		return err
	}
	defer ph.Close()
	h, err := vnetlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	veth := &vnetlink.Veth{LinkAttrs: vnetlink.LinkAttrs{Name: "bv0"}, PeerName: "bv1", PeerNamespace: vnetlink.NsFd(int(ph))}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth: %w", err)
	}
	return configureLink("bv0", benchVethA)
}

func configureLink(name string, p netip.Prefix) error {
	h, err := vnetlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	a, err := vnetlink.ParseAddr(p.String())
	if err != nil {
		return err
	}
	if err := h.AddrAdd(l, a); err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

// serveChurn answers each connection's first line with "OK" and closes
// first.
func serveChurn(l net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := bufio.NewReaderSize(c, 64).ReadString('\n'); err != nil {
				return
			}
			io.WriteString(c, "OK\n")
		}()
	}
}

type churnResult struct {
	conns, errs int64
	elapsed     time.Duration
	firstErr    error
}

func (r churnResult) rate() float64 { return float64(r.conns) / r.elapsed.Seconds() }

func (r churnResult) String() string {
	s := fmt.Sprintf("%8d connections in %.2fs = %8.0f conn/s, %d errors", r.conns, r.elapsed.Seconds(), r.rate(), r.errs)
	if r.firstErr != nil {
		s += fmt.Sprintf(" (first: %v)", r.firstErr)
	}
	return s
}

// churn runs the clients until the duration or the connection budget runs
// out.
func (b *benchEnv) churn(target netip.AddrPort, workers int, dur time.Duration, maxConns int) churnResult {
	var conns, errs atomic.Int64
	var firstErr atomic.Pointer[error]
	deadline := time.Now().Add(dur)
	start := time.Now()
	// One locked thread in the client namespace creates each socket and
	// starts its non-blocking connect; the clients then run on ordinary
	// goroutines. Pinning every client to a namespace thread instead made
	// the runtime hand processors between 64 locked threads on each block
	// and wake-up, and that, not either stack, bounded the rate.
	type req struct {
		fd  int
		err error
	}
	reqs := make(chan chan req)
	done := make(chan struct{})
	go b.client.Do(func() error {
		sa := &syscall.SockaddrInet4{Port: int(target.Port()), Addr: target.Addr().As4()}
		for {
			select {
			case r := <-reqs:
				fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
				if err == nil {
					if err = syscall.Connect(fd, sa); err == syscall.EINPROGRESS {
						err = nil
					}
					if err != nil {
						syscall.Close(fd)
					}
				}
				r <- req{fd, err}
			case <-done:
				return nil
			}
		}
	})
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16)
			rc := make(chan req, 1)
			for time.Now().Before(deadline) && conns.Load()+errs.Load() < int64(maxConns) {
				reqs <- rc
				r := <-rc
				err := r.err
				if err == nil {
					err = churnFD(r.fd, buf)
				}
				if err != nil {
					e := err
					firstErr.CompareAndSwap(nil, &e)
					errs.Add(1)
					continue
				}
				conns.Add(1)
			}
		}()
	}
	wg.Wait()
	close(done)
	r := churnResult{conns: conns.Load(), errs: errs.Load(), elapsed: time.Since(start)}
	if p := firstErr.Load(); p != nil {
		r.firstErr = *p
	}
	return r
}

// churnFD runs one connection on a socket whose connect is under way:
// wait until it is connected (or failed), send a line, read the reply up to
// the server's FIN, close.
func churnFD(fd int, buf []byte) error {
	f := os.NewFile(uintptr(fd), "c")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	c := nc.(*net.TCPConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	werr := raw.Write(func(fd uintptr) bool {
		v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err != nil || v != 0 {
			if err == nil {
				err = syscall.Errno(v)
			}
			cerr = err
			return true
		}
		if _, err := syscall.Getpeername(int(fd)); err == nil {
			return true
		}
		return false
	})
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return cerr
	}
	if _, err := io.WriteString(c, "GET\n"); err != nil {
		return err
	}
	n := 0
	for {
		k, err := c.Read(buf[n:])
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if n == len(buf) {
			return errors.New("reply too long")
		}
	}
	if string(buf[:n]) != "OK\n" {
		return fmt.Errorf("reply %q", buf[:n])
	}
	return nil
}

func (b *benchEnv) close() {
	for _, l := range b.lns {
		l.Close()
	}
	b.wg.Wait()
	if b.s != nil {
		b.s.Close()
	}
	if b.dev != nil {
		b.dev.Close()
	}
	if b.client != nil {
		b.client.Close()
	}
	if b.peer != nil {
		b.peer.Close()
	}
}
