package packetdrill

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/packetdrill/script"
)

func runFake(t *testing.T, src string) Result {
	t.Helper()
	s, err := script.Parse("fake.pkt", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	r := &Runner{NewHarness: newFakeHarness, Verbose: true}
	return r.Run(s)
}

const passiveOpen = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
`

func wantStatus(t *testing.T, res Result, want Status, msgPart string) {
	t.Helper()
	if res.Status != want || !strings.Contains(res.Message(), msgPart) {
		t.Fatalf("got %s %q, want %s containing %q\nnotes:\n%s", res.Status, res.Message(), want, msgPart, strings.Join(res.Notes, "\n"))
	}
}

func TestPassiveOpenDataClose(t *testing.T) {
	res := runFake(t, passiveOpen+`
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
+.1 < P. 1:501(500) ack 1001 win 257
+0 > . 1001:1001(0) ack 501
+0 read(4, ..., 1000) = 500
+0 close(4) = 0
+0 > F. 1001:1001(0) ack 501
+.1 < F. 501:501(0) ack 1002 win 257
+0 > . 1002:1002(0) ack 502
`)
	wantStatus(t, res, Pass, "")
}

// A script written for a TSO kernel expects one 2000-byte packet; a stack
// sending 1000-byte segments matches it through aggregation.
func TestAggregatesSegments(t *testing.T) {
	res := runFake(t, passiveOpen+`
+0 write(4, ..., 2500) = 2500
+0 > P. 1:2501(2500) ack 1
`)
	wantStatus(t, res, Pass, "")
	res = runFake(t, passiveOpen+`
+0 write(4, ..., 2500) = 2500
+0 > P. 1:1501(1500) ack 1
`)
	wantStatus(t, res, Fail, "live packet payload: expected 1500 bytes vs actual 2000 bytes")
}

func TestOutboundFieldMismatch(t *testing.T) {
	res := runFake(t, passiveOpen+`
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 2
`)
	wantStatus(t, res, Fail, "fake.pkt:12: live packet field tcp_ack_seq: expected: 2 vs actual: 1")
	if !strings.Contains(res.Reason, "actual packet: 0.200000 > P. 1:101(100) ack 1 win 1000") {
		t.Errorf("reason lacks the actual packet: %s", res.Reason)
	}
	res = runFake(t, passiveOpen+`
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1 win 999
`)
	wantStatus(t, res, Fail, "tcp_window: expected: 999 vs actual: 1000")
	res = runFake(t, passiveOpen+`
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1 <nop,nop,TS val 1 ecr 1>
`)
	wantStatus(t, res, Fail, "bad outbound TCP options")
	res = runFake(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 100 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1400>
`)
	wantStatus(t, res, Fail, "bad value in outbound TCP option (kind=2): expected: mss 1400 actual: mss 1460")
}

// The retransmission comes 1 s (virtual) after the send: exact timing
// passes, a wrong expectation is a timing error, and a minute of script
// time takes no wall time.
func TestTimingOnVirtualClock(t *testing.T) {
	start := time.Now()
	res := runFake(t, passiveOpen+`
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
+1 > P. 1:101(100) ack 1
+2 > P. 1:101(100) ack 1
+4 > P. 1:101(100) ack 1
+8 > P. 1:101(100) ack 1
+16 > P. 1:101(100) ack 1
+32 > P. 1:101(100) ack 1
`)
	wantStatus(t, res, Pass, "")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a 63 s script took %v of wall time", d)
	}
	res = runFake(t, passiveOpen+`
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
+.5 > P. 1:101(100) ack 1
`)
	wantStatus(t, res, Fail, "fake.pkt:13: timing error: expected outbound packet at 0.700000 sec but happened at 1.200000 sec")
	res = runFake(t, passiveOpen+`
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
+.9~+1.1 > P. 1:101(100) ack 1
`)
	wantStatus(t, res, Pass, "")
}

func TestBlockingCalls(t *testing.T) {
	res := runFake(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0...0.200 accept(3, ..., ...) = 4
+.1 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 257
+0...0.100 read(4, ..., 1000) = 1000
+.1 < P. 1:1001(1000) ack 1 win 257
+0 > . 1:1(0) ack 1001
`)
	wantStatus(t, res, Pass, "")
	res = runFake(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0...0.100 accept(3, ..., ...) = 4
+.2 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
+0 < . 1:1(0) ack 1 win 257
`)
	wantStatus(t, res, Fail, "fake.pkt:5: timing error: expected system call return at 0.100000 sec but happened at 0.200000 sec")
	// Active open through a blocking connect.
	res = runFake(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+.1...0.200 connect(3, ..., ...) = 0
+0 > S 0:0(0) <mss 1460,nop,wscale 8>
+.1 < S. 0:0(0) ack 1 win 5792 <mss 1000>
+0 > . 1:1(0) ack 1
+0 write(3, ..., 10) = 10
+0 > P. 1:11(10) ack 1
`)
	wantStatus(t, res, Pass, "")
	// A call the script does not mark blocking, that blocks.
	res = runFake(t, passiveOpen+`
+0 read(4, ..., 10) = 10
`)
	wantStatus(t, res, Fail, "fake.pkt:11: read blocked for 10.000000 sec")
}

func TestNonBlockingConnectAndErrno(t *testing.T) {
	res := runFake(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 5
+0 fcntl(5, F_GETFL) = 0x2 (flags O_RDWR)
+0 fcntl(5, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(5, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,nop,wscale 8>
+0 read(5, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)
+.1 < S. 0:0(0) ack 1 win 5792 <mss 1000>
+0 > . 1:1(0) ack 1
+0 getsockopt(5, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 close(5) = 0
+0 > F. 1:1(0) ack 1
+0 write(5, ..., 10) = -1 EBADF (Bad file descriptor)
`)
	wantStatus(t, res, Pass, "")
	res = runFake(t, passiveOpen+`
+0 read(4, ..., 10) = -1 ECONNRESET (Connection reset by peer)
`)
	wantStatus(t, res, Fail, "fake.pkt:11: read blocked")
	res = runFake(t, passiveOpen+`
+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 read(4, ..., 10) = -1 ECONNRESET (Connection reset by peer)
`)
	wantStatus(t, res, Fail, "fake.pkt:12: runtime error in read call: Expected errno 104 (ECONNRESET) but got -1 with errno 11 (EAGAIN)")
}

func TestUnsupported(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"python field", passiveOpen + "+0 %{ assert tcpi_lost == 0, tcpi_lost }%\n", "fake.pkt:10: unsupported: python tcpi_lost (not in the stack's TCP_INFO: lost_out)"},
		{"python construct", passiveOpen + "+0 %{\nif tcpi_snd_cwnd:\n  pass\n}%\n", "fake.pkt:11: unsupported: python if statement"},
		{"fq", "`tc qdisc replace dev tun0 root fq`\n" + passiveOpen, "qdisc"},
		{"shell", "`rm -rf /tmp/x`\n" + passiveOpen, "unsupported: shell command"},
		{"syscall", passiveOpen + "+0 splice(4, ..., ...) = 0\n", "system call splice()"},
		{"option", "--mtu=9000\n" + passiveOpen, "--mtu=9000"},
		{"ipv6", "--ip_version=ipv6\n" + passiveOpen, "IPv4 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, runFake(t, tt.src), Unsupported, tt.want)
		})
	}
}

func TestFirstEventAtZeroAndBackwards(t *testing.T) {
	wantStatus(t, runFake(t, "1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"), Fail, "first event should be at time 0")
	wantStatus(t, runFake(t, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n2 close(3) = 0\n1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"),
		Fail, "time goes backward")
}

// The fd a script expects from socket()/accept() names whatever fd the
// layer returned (packetdrill maps script fds to live fds).
func TestScriptFDMapping(t *testing.T) {
	res := runFake(t, strings.Replace(strings.Replace(passiveOpen, "accept(3, ..., ...) = 4", "accept(3, ..., ...) = 7", 1), "", "", 0)+`
+0 write(7, ..., 10) = 10
+0 > P. 1:11(10) ack 1
`)
	wantStatus(t, res, Pass, "")
}

func TestSysctlsFromDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "common"), 0o755); err != nil {
		t.Fatal(err)
	}
	defaults := "#!/bin/bash\n# comment\nip tcp_metrics flush all > /dev/null 2>&1\n" +
		"sysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"\n" +
		"sysctl -q net.ipv4.tcp_notsent_lowat=4294967295 > /dev/null 2>&1\n" +
		"tc qdisc add dev tun0 root pfifo\n"
	if err := os.WriteFile(filepath.Join(dir, "common", "defaults.sh"), []byte(defaults), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "inq")
	os.MkdirAll(sub, 0o755)
	src := "`../../common/defaults.sh\n../common/set_sysctls.py /proc/sys/net/ipv4/tcp_wmem=\"4096 50000 4194304\" \\\n /proc/sys/net/ipv4/tcp_timestamps=0\necho 1 > /proc/sys/net/ipv4/tcp_sack`\n" +
		"0 `sysctl -w net/ipv4/tcp_max_tw_buckets=0`\n" + passiveOpen
	path := filepath.Join(sub, "x.pkt")
	os.WriteFile(path, []byte(src), 0o644)
	var got []Sysctl
	r := &Runner{NewHarness: func(cfg HarnessConfig) (Harness, error) {
		got = cfg.Sysctls
		return newFakeHarness(cfg)
	}}
	res := r.RunFile(path)
	wantStatus(t, res, Pass, "")
	want := []Sysctl{
		{"net.ipv4.tcp_rmem", "4096 540000 15728640"},
		{"net.ipv4.tcp_notsent_lowat", "4294967295"},
		{"net.ipv4.tcp_wmem", "4096 50000 4194304"},
		{"net.ipv4.tcp_timestamps", "0"},
		{"net.ipv4.tcp_sack", "1"},
		{"net.ipv4.tcp_max_tw_buckets", "0"},
	}
	if len(got) != len(want) {
		t.Fatalf("sysctls = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sysctl %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestMainTableAndExitCode(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.pkt"), []byte(passiveOpen), 0o644)
	os.WriteFile(filepath.Join(dir, "b.pkt"), []byte(passiveOpen+"+0 %{ import x }%\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.pkt"), []byte(passiveOpen+"+0 > R 1:1(0)\n"), 0o644)
	var out, errOut bytes.Buffer
	code := MainWith([]string{dir}, &out, &errOut, newFakeHarness)
	if code != 1 {
		t.Errorf("exit code %d, want 1 (a script failed)", code)
	}
	s := out.String()
	for _, want := range []string{"a.pkt", "pass", "b.pkt", "unsupported", "c.pkt", "fail", "c.pkt:10: timed out waiting for outbound packet",
		"1 passed, 1 failed, 1 unsupported\n", "missing (unsupported scripts needing it):\n    1  python import statement\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if code := MainWith(nil, &out, &errOut, newFakeHarness); code != 2 {
		t.Errorf("no arguments: exit code %d, want 2", code)
	}
}

func TestShellWords(t *testing.T) {
	w, redir, err := shellWords(`sysctl -q net.ipv4.tcp_rmem="4096 $((2*3+1)) 9" > /dev/null 2>&1`)
	if err != nil || redir != "" || len(w) != 3 || w[2] != "net.ipv4.tcp_rmem=4096 7 9" {
		t.Errorf("got %q %q %v", w, redir, err)
	}
	w, redir, err = shellWords(`echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect`)
	if err != nil || redir != "/sys/module/tcp_cubic/parameters/hystart_detect" || len(w) != 2 {
		t.Errorf("got %q %q %v", w, redir, err)
	}
	if v, err := evalArith("15*1024*1024-1+2/2"); err != nil || v != 15728640 {
		t.Errorf("evalArith = %d, %v", v, err)
	}
}

// Python runs after the last event, as in packetdrill: a later packet
// difference is reported, not the failed assertion or the unsupported
// construct before it.
func TestPythonBlockDoesNotHideFailures(t *testing.T) {
	for _, code := range []string{"assert tcpi_snd_cwnd == 11", "assert tcpi_lost == 0", "import sys"} {
		res := runFake(t, passiveOpen+`
+0 %{ `+code+` }%
+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 5
`)
		wantStatus(t, res, Fail, "tcp_ack_seq: expected: 5 vs actual: 1")
	}
}

// Each block sees TCP_INFO as it was at the block's time; variables
// persist from block to block; print goes to the notes.
func TestPythonBlocks(t *testing.T) {
	res := runFake(t, passiveOpen+`
+0 %{ assert tcpi_unacked == 0, tcpi_unacked; sent = 0 }%
+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1
+0 %{
sent += 10
assert tcpi_unacked == sent, tcpi_unacked  # in flight
print('cwnd=%d' % tcpi_snd_cwnd)
}%
+.1 < . 1:1(0) ack 11 win 257
+0 %{ assert tcpi_unacked == 0, 'unacked %d' % tcpi_unacked }%
+0 %{ assert tcpi_snd_cwnd == TCP_CA_Loss + 6 and tcpi_snd_mss == 1000 }%
`)
	wantStatus(t, res, Pass, "")
	if !strings.Contains(strings.Join(res.Notes, "\n"), "python print (line 14): cwnd=10") {
		t.Errorf("print output not in the notes: %q", res.Notes)
	}

	// A failed assertion names the line, the statement and the message.
	res = runFake(t, passiveOpen+`
+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1
+0 %{
assert tcpi_snd_cwnd == 10
assert tcpi_unacked == 0, 'unacked=%d' % tcpi_unacked
}%
`)
	wantStatus(t, res, Fail, "fake.pkt:15: error in Python code: assert tcpi_unacked == 0, 'unacked=%d' % tcpi_unacked: AssertionError: unacked=10")

	// Python compiles the whole program first: an unsupported construct
	// in a late block wins over an assertion failing early.
	res = runFake(t, passiveOpen+`
+0 %{ assert tcpi_snd_cwnd == 9 }%
+0 %{ x = [1] }%
`)
	wantStatus(t, res, Unsupported, "fake.pkt:12: unsupported: python list or subscript '['")

	// Before accept() the socket under test is the SYN's child, which has
	// no descriptor yet; before socket() there is none.
	res = runFake(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 %{ assert tcpi_snd_cwnd == 10 }%
`)
	wantStatus(t, res, Fail, "fake.pkt:6: runtime error in code: can't find getsockopt to get TCP info")
	res = runFake(t, "0 %{ assert 1 }%\n")
	wantStatus(t, res, Fail, "fake.pkt:1: runtime error in code: no socket to use for code")

	// Names packetdrill would define but the runner cannot.
	res = runFake(t, passiveOpen+"+0 %{ assert SK_MEMINFO_DROPS == 0 }%\n")
	wantStatus(t, res, Unsupported, "python SK_MEMINFO_DROPS (SO_MEMINFO is not provided)")
	res = runFake(t, passiveOpen+"+0 %{ assert bbr_bw > 0 }%\n")
	wantStatus(t, res, Unsupported, "python bbr_bw (TCP_CC_INFO")
	res = runFake(t, passiveOpen+"+0 %{ assert tcpi_rcv_wnd > 0 }%\n")
	wantStatus(t, res, Unsupported, "python tcpi_rcv_wnd (not a TCP_INFO field this runner knows)")
	res = runFake(t, passiveOpen+"+0 %{ assert tcpi_rtt > 0 }%\n")
	wantStatus(t, res, Unsupported, "python tcpi_rtt (not in the stack's TCP_INFO)")
	res = runFake(t, passiveOpen+"+0 %{ assert cwnd == 10 }%\n")
	wantStatus(t, res, Fail, "NameError: name 'cwnd' is not defined")
}

// idleFake is the fake stack with tcp_slow_start_after_idle=0 accepted
// only conditionally, as the ustack harness does.
type idleFake struct{ *fakeHarness }

func (idleFake) Assumptions() []Assumption {
	return []Assumption{{OK: true, Cond: CondIdleRestart, Note: "test"}}
}

func TestIdleRestartCondition(t *testing.T) {
	r := &Runner{NewHarness: func(cfg HarnessConfig) (Harness, error) {
		h, _ := newFakeHarness(cfg)
		return idleFake{h.(*fakeHarness)}, nil
	}}
	run := func(src string) Result {
		s, err := script.Parse("idle.pkt", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return r.Run(s)
	}
	// Written while data is in flight, or soon after: fine.
	res := run(passiveOpen + `
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
+.1 < . 1:1(0) ack 101 win 257
+.1 write(4, ..., 100) = 100
+0 > P. 101:201(100) ack 1
`)
	wantStatus(t, res, Pass, "")
	// Idle for 300 ms with nothing in flight, then a write: the engine's
	// idle restart could change what follows.
	res = run(passiveOpen + `
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
+.1 < . 1:1(0) ack 101 win 257
+.3 write(4, ..., 100) = 100
+0 > P. 101:201(100) ack 1
`)
	wantStatus(t, res, Unsupported, "idle.pkt:14: tcp_slow_start_after_idle=0 (no knob; the engine restarts cwnd after idle) matters here: data written after 0.400000 sec idle")
}

// PSH inside a write is a TSO artifact for scripts written for TSO kernels
// and is only compared where a write ends; scripts that turn TSO off with
// ethtool get strict PSH checks.
func TestPSHInsideWrite(t *testing.T) {
	body := `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 100 <mss 500>
+0 > S. 0:0(0) ack 1 <mss 1460>
+0 < . 1:1(0) ack 1 win 100
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 1000) = 1000
+0 > P. 1:501(500) ack 1
+0 > . 501:1001(500) ack 1
`
	res := runFake(t, body)
	wantStatus(t, res, Fail, "fake.pkt:10: bad outbound TCP flags: expected . vs actual P.") // the write's end is strict
	res = runFake(t, strings.Replace(body, "> . 501:1001", "> P. 501:1001", 1))
	wantStatus(t, res, Pass, "")
	res = runFake(t, "`ethtool -K tun0 tso off gso off`\n"+strings.Replace(body, "> . 501:1001", "> P. 501:1001", 1))
	wantStatus(t, res, Fail, "fake.pkt:10: bad outbound TCP flags: expected P. vs actual .")
}
