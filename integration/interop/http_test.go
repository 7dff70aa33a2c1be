package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/harness"
)

const httpPort = 80

// TestHTTP: an http.Server on a ustack listener against curl, wrk and Go's
// net/http client on kernel sockets; and Go's http.Server on a kernel socket
// against a net/http client dialing through ustack.
func TestHTTP(t *testing.T) {
	harness.Skip(t)

	t.Run("curl/page", func(t *testing.T) {
		harness.SkipWithout(t, "curl")
		e := harness.New(t, harness.Config{Tag: "curl"})
		e.ServeHTTP(e.Listen(httpPort))
		e.Staged("curl GET /")
		start := time.Now()
		out, err := e.NS.Output(e.Ctx(), "curl", "-sS", "--max-time", "20", "http://"+harness.StackAddrPort(httpPort)+"/index.html")
		if err != nil {
			t.Fatal(err)
		}
		if out != "hello from ustack /index.html\n" {
			t.Fatalf("curl got %q", out)
		}
		harness.Summary(t, int64(len(out)), time.Since(start), "requests", 1)
	})

	// Keep-alive: curl fetches several URLs over one connection
	// (num_connects counts the new ones); then the same with
	// "Connection: close", one connection per request.
	for _, ka := range []bool{true, false} {
		name := "curl/keepalive"
		if !ka {
			name = "curl/connection-close"
		}
		t.Run(name, func(t *testing.T) {
			harness.SkipWithout(t, "curl")
			e := harness.New(t, harness.Config{Tag: "curlka"})
			e.ServeHTTP(e.Listen(httpPort))
			const n = 20
			args := []string{"-sS", "--max-time", "30", "-w", "%{http_code} %{num_connects}\\n"}
			if !ka {
				args = append(args, "-H", "Connection: close")
			}
			for i := range n {
				args = append(args, "-o", "/dev/null", fmt.Sprintf("http://%s/r%d", harness.StackAddrPort(httpPort), i))
			}
			e.Staged("curl %d requests", n)
			start := time.Now()
			out, err := e.NS.Output(e.Ctx(), "curl", args...)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Fields(strings.TrimSpace(out))
			conns := 0
			for i := 0; i+1 < len(lines); i += 2 {
				if lines[i] != "200" {
					t.Fatalf("request %d: status %s", i/2, lines[i])
				}
				c, _ := strconv.Atoi(lines[i+1])
				conns += c
			}
			if len(lines) != 2*n {
				t.Fatalf("curl output %q", out)
			}
			if ka && conns != 1 {
				t.Errorf("keep-alive: %d connections for %d requests, want 1", conns, n)
			}
			if !ka && conns != n {
				t.Errorf("Connection: close: %d connections for %d requests, want %d", conns, n, n)
			}
			// After "Connection: close" ustack closes first, but curl closes
			// its end as soon as the response is in, so either side (or
			// both, on a simultaneous close) holds each 4-tuple in
			// TIME-WAIT; an orderly exchange never needs a RST.
			checkOrderly(t, e, conns)
			harness.Summary(t, 0, time.Since(start), "requests", n, "connections", conns, "ustack_tw", e.Stack.Sockstat().TW)
		})
	}

	t.Run("curl/download", func(t *testing.T) {
		harness.SkipWithout(t, "curl")
		n := size(100*mib, 100*mib)
		e := harness.New(t, harness.Config{Tag: "curldl", Deadline: 120 * time.Second})
		e.ServeHTTP(e.Listen(httpPort))
		h := harness.NewHashWriter()
		e.Staged("curl download %d bytes", n)
		start := time.Now()
		p := e.StartCmd(e.NS, func(c *exec.Cmd) { c.Stdout = h }, "curl", "-sS", "--max-time", "100",
			fmt.Sprintf("http://%s/bytes/%d", harness.StackAddrPort(httpPort), n))
		if err := p.Wait(110 * time.Second); err != nil {
			t.Fatalf("curl: %v (got %d of %d bytes)", err, h.N(), n)
		}
		d := time.Since(start)
		checkSum(t, "download", h, 1, n)
		harness.Summary(t, n, d)
	})

	for _, ka := range []bool{true, false} {
		name := "wrk/keepalive"
		if !ka {
			name = "wrk/connection-close"
		}
		t.Run(name, func(t *testing.T) {
			harness.SkipWithout(t, "wrk")
			e := harness.New(t, harness.Config{Tag: "wrk", Deadline: 60 * time.Second})
			e.ServeHTTP(e.Listen(httpPort))
			args := []string{"-t1", "-c4", "-d3s", "--timeout", "5s"}
			if !ka {
				// Connection: close makes every request a new connection
				// closed by ustack; a tiny port range would run the
				// kernel client out of ports, the default one does not.
				args = append(args, "-H", "Connection: close")
			}
			args = append(args, "http://"+harness.StackAddrPort(httpPort)+"/")
			e.Staged("wrk")
			start := time.Now()
			ctx, cancel := context.WithTimeout(e.Ctx(), 30*time.Second)
			defer cancel()
			out, err := e.NS.Output(ctx, "wrk", args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			reqs, rps, errs := parseWrk(out)
			if reqs == 0 {
				t.Fatalf("wrk made no request:\n%s", out)
			}
			if errs != "" {
				t.Errorf("wrk reported errors: %s\n%s", errs, out)
			}
			harness.Summary(t, 0, time.Since(start), "requests", reqs, "req/s", rps, "ustack_tw", e.Stack.Sockstat().TW)
		})
	}

	// Go's net/http client in the namespace: 1,000 requests over
	// keep-alive connections, then 1,000 with keep-alives off.
	for _, ka := range []bool{true, false} {
		name := "go-client/keepalive"
		if !ka {
			name = "go-client/no-keepalive"
		}
		t.Run(name, func(t *testing.T) {
			e := harness.New(t, harness.Config{Tag: "goclient", Deadline: 90 * time.Second})
			e.ServeHTTP(e.Listen(httpPort))
			n := 1000
			if raceEnabled {
				n = 200
			}
			tr := &http.Transport{
				DisableKeepAlives:   !ka,
				MaxIdleConnsPerHost: 4,
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					return harness.KernelDialIn(e.NS, addr, 0, 5*time.Second)
				},
			}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			before := e.KernelDelta()["TcpActiveOpens"]
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstErr error
			done := 0
			next := make(chan int)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						err := get(cl, fmt.Sprintf("http://%s/q%d", harness.StackAddrPort(httpPort), i), fmt.Sprintf("hello from ustack /q%d\n", i))
						mu.Lock()
						if err != nil && firstErr == nil {
							firstErr = fmt.Errorf("request %d: %w", i, err)
						}
						if err == nil {
							done++
						}
						mu.Unlock()
					}
				}()
			}
			for i := range n {
				e.Staged("request %d of %d", i, n)
				mu.Lock()
				stop := firstErr != nil
				mu.Unlock()
				if stop {
					break
				}
				next <- i
			}
			close(next)
			wg.Wait()
			if firstErr != nil {
				t.Fatal(firstErr)
			}
			if !ka {
				checkOrderly(t, e, n)
			}
			opens := e.KernelDelta()["TcpActiveOpens"] - before
			if ka && opens > 8 {
				t.Errorf("keep-alive: %d connections for %d requests", opens, n)
			}
			if !ka && int(opens) != n {
				t.Errorf("no keep-alive: %d connections for %d requests", opens, n)
			}
			harness.Summary(t, 0, time.Since(start), "requests", done, "connections", opens,
				"req/s", fmt.Sprintf("%.0f", float64(done)/time.Since(start).Seconds()))
		})
	}

	// Go's http.Server on a kernel socket, a net/http client dialing
	// through ustack.
	t.Run("go-server/ustack-client", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "goserver"})
		l := e.KernelListen(harness.HostAddrPort(8080))
		srv := &http.Server{Handler: harness.HTTPHandler()}
		go srv.Serve(l)
		e.OnTeardown(func() { srv.Close() })
		for _, ka := range []bool{true, false} {
			tr := &http.Transport{DisableKeepAlives: !ka, DialContext: e.Stack.DialContext}
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			n := 200
			start := time.Now()
			for i := range n {
				e.Staged("keepalive=%v request %d", ka, i)
				if err := get(cl, fmt.Sprintf("http://%s/k%d", harness.HostAddrPort(8080), i), fmt.Sprintf("hello from ustack /k%d\n", i)); err != nil {
					t.Fatalf("keepalive=%v request %d: %v", ka, i, err)
				}
			}
			h := harness.NewHashWriter()
			big := size(16*mib, 16*mib)
			resp, err := cl.Get(fmt.Sprintf("http://%s/bytes/%d", harness.HostAddrPort(8080), big))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(h, resp.Body)
			resp.Body.Close()
			checkSum(t, "download", h, 1, big)
			tr.CloseIdleConnections()
			harness.Summary(t, big, time.Since(start), "keepalive", ka, "requests", n+1,
				"ustack_active_opens", e.UCounter("TcpActiveOpens"))
		}
	})
}

func get(cl *http.Client, url, want string) error {
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(b) != want {
		return fmt.Errorf("status %d body %q", resp.StatusCode, b)
	}
	return nil
}

var (
	wrkReqs   = regexp.MustCompile(`(\d+) requests in`)
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkErrors = regexp.MustCompile(`(Socket errors:.*|Non-2xx or 3xx responses:.*)`)
)

func parseWrk(out string) (reqs int, rps, errs string) {
	if m := wrkReqs.FindStringSubmatch(out); m != nil {
		reqs, _ = strconv.Atoi(m[1])
	}
	if m := wrkRPS.FindStringSubmatch(out); m != nil {
		rps = m[1]
	}
	errs = strings.Join(wrkErrors.FindAllString(out, -1), "; ")
	return
}

func checkSum(t *testing.T, what string, h *harness.HashWriter, seed uint64, n int64) {
	t.Helper()
	if h.N() != n {
		t.Fatalf("%s: got %d bytes, want %d", what, h.N(), n)
	}
	if got, want := h.Sum(), harness.PatternSum(seed, n); got != want {
		t.Fatalf("%s: sha256 %s, want %s", what, got, want)
	}
}

// waitFor polls cond (bounded by d) and fails with msg() if it never holds.
func waitFor(t *testing.T, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkOrderly checks that n connections closed in an orderly way: no RST
// either way, and every 4-tuple held in TIME-WAIT by at least one side.
func checkOrderly(t *testing.T, e *harness.Env, n int) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // the last FIN/ACK exchange
	utw := e.Stack.Sockstat().TW
	ktw, err := e.NS.TimeWaitSockets("")
	if err != nil {
		t.Fatal(err)
	}
	kd := e.KernelDelta()
	if r := e.UCounter("TcpOutRsts"); r != 0 || kd["TcpOutRsts"] != 0 || kd["TcpEstabResets"] != 0 {
		t.Errorf("RSTs in orderly closes: ustack TcpOutRsts=%d, kernel TcpOutRsts=%d TcpEstabResets=%d\n%s",
			r, kd["TcpOutRsts"], kd["TcpEstabResets"], e.Tap.Dump(30, func(h harness.TCPFields) bool { return h.Flags&harness.RST != 0 }))
	}
	if v := e.Tap.FINOrderViolations(); len(v) > 0 {
		t.Errorf("ustack put %d segments on the wire behind its own FIN, e.g. %s", len(v), v[0])
	}
	if utw+ktw < n {
		t.Errorf("TIME-WAIT: ustack %d + kernel %d < %d connections", utw, ktw, n)
	}
}
