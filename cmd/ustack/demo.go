package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ustack/ustack/integration/netns"
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack"
	"github.com/ustack/ustack/tun"
)

// The demo's addresses are TEST-NET-1 inside a namespace of its own.
var (
	demoHost  = netip.MustParsePrefix("192.0.2.1/24")
	demoStack = netip.MustParseAddr("192.0.2.2")
)

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "also print every counter and the kernel's view (ss)")
	reqs := fs.Int("requests", 200, "HTTP requests per client phase (bounded load)")
	pcap := fs.String("pcap", "", "write every packet on the TUN link to this pcap file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ustack demo [-v] [-requests N]\n\n"+
			"Creates a private network namespace with a TUN device in it, runs ustack on the TUN with an HTTP\n"+
			"server (port 80) and an echo server (port 7), drives them from the kernel side with curl and a Go\n"+
			"client, lets ustack connect out to a kernel server, prints what happened and removes everything.\n"+
			"Needs only root.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *reqs < 1 || *reqs > 100000 {
		return fail(stderr, "demo: -requests %d: want 1..100000", *reqs)
	}
	if err := checkPrivileges(); err != nil {
		return fail(stderr, "demo: %v", err)
	}
	ns, err := netns.New("demo")
	if err != nil {
		return fail(stderr, "demo: %v", err)
	}
	// Remove the namespace on every way out, including Ctrl-C.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	// A closed stdout (ustack demo | head) must not kill the process before
	// it removes its namespace: with SIGPIPE caught, writes just fail.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		if _, ok := <-sig; ok {
			ns.Close()
			os.Exit(130)
		}
	}()
	defer func() { signal.Stop(sig); close(sig); ns.Close() }()

	d := &demo{ns: ns, out: stdout, verbose: *verbose, requests: *reqs, pcap: *pcap}
	if err := d.run(); err != nil {
		return fail(stderr, "demo: %v", err)
	}
	fmt.Fprintf(stdout, "\nnamespace %s and everything in it removed.\n", ns.Name)
	return 0
}

type demo struct {
	ns       *netns.NS
	out      io.Writer
	verbose  bool
	requests int
	pcap     string
	s        *stack.Stack
}

func (d *demo) logf(format string, a ...any) { fmt.Fprintf(d.out, format+"\n", a...) }

func (d *demo) run() error {
	var dev tun.Device
	err := d.ns.Do(func() error {
		var err error
		if dev, err = tun.CreateTUN("ustack0", 1500); err != nil {
			return err
		}
		return tun.Configure("ustack0", demoHost, 1500)
	})
	if err != nil {
		if dev != nil {
			dev.Close()
		}
		return fmt.Errorf("TUN in namespace: %w", err)
	}
	if d.pcap != "" {
		pd, err := tun.CreatePcapFile(dev, d.pcap, nil)
		if err != nil {
			dev.Close()
			return err
		}
		dev = pd
	}
	opts := stack.DefaultOptions()
	opts.Addrs = []netip.Addr{demoStack}
	s, err := stack.New(dev, opts)
	if err != nil {
		dev.Close()
		return err
	}
	d.s = s
	defer func() { s.Close(); dev.Close() }()

	d.logf("ustack demo: namespace %s, TUN ustack0, kernel side %s, ustack at %s", d.ns.Name, demoHost, demoStack)
	var wg sync.WaitGroup
	defer wg.Wait()
	for port, name := range map[int]string{80: "http", 7: "echo"} {
		l, err := s.Listen("tcp", fmt.Sprintf("%s:%d", demoStack, port))
		if err != nil {
			return err
		}
		defer l.Close()
		a, _ := newApp(name)
		wg.Add(1)
		go func() { defer wg.Done(); a.serve(l) }()
	}
	d.logf("listening: http on :80, echo on :7\n")

	steps := []struct {
		name string
		f    func() error
	}{
		{"ping the stack", d.ping},
		{"curl fetches the page", d.curlPage},
		{"curl downloads 8 MiB", d.curlBytes},
		{"Go client, keep-alive requests", func() error { return d.httpClient(false) }},
		{"Go client, Connection: close (ustack closes first)", func() error { return d.httpClient(true) }},
		{"echo 4 MiB round trip", d.echo},
		{"ustack dials a kernel server", d.dialOut},
	}
	for i, st := range steps {
		d.logf("[%d/%d] %s", i+1, len(steps), st.name)
		start := time.Now()
		if err := st.f(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		d.logf("      done in %v", time.Since(start).Round(time.Millisecond))
	}
	d.report()
	return nil
}

func (d *demo) ping() error {
	if _, err := exec.LookPath("ping"); err != nil {
		d.logf("      (ping not installed: skipped)")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := d.ns.Command(ctx, "ping", "-c", "2", "-i", "0.2", "-W", "2", demoStack.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "packets transmitted") {
			d.logf("      %s", strings.TrimSpace(line))
		}
	}
	return nil
}

func (d *demo) curlPage() error {
	if _, err := exec.LookPath("curl"); err != nil {
		d.logf("      (curl not installed: skipped)")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := d.ns.Command(ctx, "curl", "-sS", "--max-time", "15", fmt.Sprintf("http://%s/", demoStack)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	d.logf("      %s", strings.TrimSpace(string(out)))
	return nil
}

func (d *demo) curlBytes() error {
	if _, err := exec.LookPath("curl"); err != nil {
		d.logf("      (curl not installed: skipped)")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := d.ns.Command(ctx, "curl", "-sS", "--max-time", "50", "-o", "/dev/null",
		"-w", "%{size_download} bytes at %{speed_download} bytes/s", fmt.Sprintf("http://%s/bytes/%d", demoStack, 8<<20)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	d.logf("      %s", strings.TrimSpace(string(out)))
	return nil
}

// httpClient runs a kernel-side Go HTTP client whose sockets are all made
// inside the namespace.
func (d *demo) httpClient(closeEach bool) error {
	cl := d.ns.HTTPClient(!closeEach, 10*time.Second)
	defer cl.CloseIdleConnections()
	var bytes int64
	start := time.Now()
	for i := 0; i < d.requests; i++ {
		resp, err := cl.Get(fmt.Sprintf("http://%s/bytes/%d", demoStack, 1000))
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		bytes += n
	}
	el := time.Since(start)
	d.logf("      %d requests, %d body bytes, %.0f req/s", d.requests, bytes, float64(d.requests)/el.Seconds())
	return nil
}

func (d *demo) echo() error {
	const size = 4 << 20
	payload := make([]byte, size)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.ns.DialContext(ctx, "tcp", fmt.Sprintf("%s:7", demoStack))
	if err != nil {
		return err
	}
	{
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(payload)
			c.(*net.TCPConn).CloseWrite()
			errc <- err
		}()
		h := sha256.New()
		n, err := io.Copy(h, c)
		if err != nil {
			return err
		}
		if err := <-errc; err != nil {
			return err
		}
		var got [32]byte
		copy(got[:], h.Sum(nil))
		if n != size || got != want {
			return fmt.Errorf("echo returned %d bytes, sha256 match %v", n, got == want)
		}
		d.logf("      %d bytes echoed, sha256 %x… matches", n, got[:8])
		return nil
	}
}

// dialOut has ustack connect to a kernel server that greets and closes
// first, so the kernel holds the TIME-WAIT this time.
func (d *demo) dialOut() error {
	l, err := d.ns.Listen("tcp", demoHost.Addr().String()+":9000")
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from the kernel, %s\n", c.RemoteAddr())
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.s.DialContext(ctx, "tcp", demoHost.Addr().String()+":9000")
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	d.logf("      %s", strings.TrimSpace(line))
	return nil
}

func (d *demo) report() {
	m := d.s.Counters()
	d.logf("\nustack counters:")
	for _, id := range []metrics.ID{metrics.TcpActiveOpens, metrics.TcpPassiveOpens, metrics.TcpInSegs, metrics.TcpOutSegs,
		metrics.TcpRetransSegs, metrics.TcpOutRsts, metrics.TcpExtTW, metrics.TcpExtDelayedACKs, metrics.IcmpInEchos} {
		d.logf("  %-24s %d", id, m.Get(id))
	}
	d.logf("  %s", d.s.Sockstat())
	socks := d.s.Sockets()
	byState := map[string]int{}
	for _, si := range socks {
		byState[si.State.String()]++
	}
	d.logf("\nustack sockets (like ss -tan), %d in all, by state: %v", len(socks), byState)
	for i, si := range socks {
		if i == 8 && !d.verbose {
			d.logf("  ... (-v lists all)")
			break
		}
		d.logf("  %s", si)
	}
	if d.verbose {
		d.logf("\nall ustack counters:")
		m.WriteNstat(d.out, false)
		if out, err := d.ns.Command(context.Background(), "ss", "-tan").CombinedOutput(); err == nil {
			d.logf("\nkernel side (ss -tan in the namespace):\n%s", out)
		}
	}
}
