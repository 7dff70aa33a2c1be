package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SharedScriptsDir finds ../shared/packetdrill beside the repository by
// walking up from the working directory. It returns "" when absent.
func sharedScriptsDir(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "packetdrill")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func TestParseAllSharedScripts(t *testing.T) {
	dir := sharedScriptsDir(t)
	if dir == "" {
		t.Skip("no shared/packetdrill directory above the working directory; skipping the corpus parse")
	}
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pkt") {
			return err
		}
		n++
		s, err := ParseFile(path)
		if err != nil {
			t.Errorf("%v", err)
			return nil
		}
		if len(s.Events) == 0 {
			t.Errorf("%s: no events", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 60 {
		t.Errorf("parsed only %d scripts under %s, want the whole corpus (65)", n, dir)
	}
	t.Logf("parsed %d scripts under %s", n, dir)
}

func mustParse(t *testing.T, src string) *Script {
	t.Helper()
	s, err := Parse("test.pkt", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func TestParseTimes(t *testing.T) {
	s := mustParse(t, `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+.1 close(3) = 0
+0.57 close(3) = 0
1.2~1.3 > . 1:1(0) ack 1
+.3~+.310 > . 1:1(0) ack 1
* > R 1:1(0)
+.1...0.200 connect(3, ..., ...) = 0
+0...0.000 read(4, ..., 1000) = 1000
`)
	want := []Time{
		{Kind: TimeAbsolute},
		{Kind: TimeRelative, Start: 100000},
		{Kind: TimeRelative, Start: 570000},
		{Kind: TimeAbsoluteRange, Start: 1200000, End: 1300000},
		{Kind: TimeRelativeRange, Start: 300000, End: 310000},
		{Kind: TimeAny},
		{Kind: TimeRelative, Start: 100000},
		{Kind: TimeRelative},
	}
	if len(s.Events) != len(want) {
		t.Fatalf("got %d events, want %d", len(s.Events), len(want))
	}
	for i, w := range want {
		if got := s.Events[i].Time; got != w {
			t.Errorf("event %d: time %+v, want %+v", i, got, w)
		}
	}
	if sc := s.Events[6].Syscall; !sc.Blocking || sc.End != 200000 || sc.Name != "connect" {
		t.Errorf("blocking connect: %+v", sc)
	}
	if sc := s.Events[7].Syscall; !sc.Blocking || sc.End != 0 {
		t.Errorf("blocking read: %+v", sc)
	}
}

func TestParsePackets(t *testing.T) {
	s := mustParse(t, `
0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+0 < . 1:1001(1000) ack 1 win 257 <sack 4001:5001 6001:7001,nop,nop>
+0 > F. 1:1(0) ack 1 <nop,nop,TS val 1200 ecr 200>
+0 > S 0:0(0) <...>
+0 < FP. 1001:2001(1000) ack 1 win 257
+0 > R 2:2(0)
+0 < - 1:1(0) win 1 urg 3
+0 < 1234>80 SEW 0:0(0) win 100 <eol>
`)
	ev := s.Events
	p0 := ev[0].Packet
	if p0.Direction != Inbound || p0.Flags != FlagSYN || !p0.HasWin || p0.Win != 32792 || p0.HasAck {
		t.Errorf("packet 0: %+v", p0)
	}
	if len(p0.Options) != 6 || p0.Options[0].String() != "mss 1000" || p0.Options[5].WScale != 7 {
		t.Errorf("packet 0 options: %+v", p0.Options)
	}
	p1 := ev[1].Packet
	if p1.Direction != Outbound || p1.Flags != FlagSYN|FlagACK || !p1.HasAck || p1.Ack != 1 || p1.HasWin {
		t.Errorf("packet 1: %+v", p1)
	}
	p2 := ev[2].Packet
	if p2.Seq != 1 || p2.End != 1001 || p2.Len != 1000 || len(p2.Options[0].SACK) != 2 || p2.Options[0].SACK[1] != (SACKBlock{6001, 7001}) {
		t.Errorf("packet 2: %+v", p2)
	}
	p3 := ev[3].Packet
	if p3.Flags != FlagFIN|FlagACK || p3.Options[2].String() != "TS val 1200 ecr 200" {
		t.Errorf("packet 3: %+v", p3)
	}
	if p := ev[4].Packet; !p.OptionsAny || !p.HasOptions {
		t.Errorf("packet 4: %+v", p)
	}
	if p := ev[5].Packet; p.Flags != FlagFIN|FlagPSH|FlagACK {
		t.Errorf("packet 5 flags %#x", p.Flags)
	}
	if p := ev[6].Packet; p.Flags != FlagRST || p.HasOptions || p.Options != nil {
		t.Errorf("packet 6: %+v", p)
	}
	if p := ev[7].Packet; p.Flags != 0 || !p.HasUrg || p.Urg != 3 {
		t.Errorf("packet 7: %+v", p)
	}
	if p := ev[8].Packet; !p.HasPorts || p.SrcPort != 1234 || p.DstPort != 80 || p.Flags != FlagSYN|FlagECE|FlagCWR {
		t.Errorf("packet 8: %+v", p)
	}
	if got := p1.String(); got != "> S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseSyscalls(t *testing.T) {
	s := mustParse(t, `
--tolerance_usecs=10000
--ip_version=ipv4
--tcp_ts_tick_usecs=1000
--local_ip=192.168.0.1

`+"`../common/defaults.sh\nsysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"`"+`

0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)
+0 poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, 0) = 1
+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLOUT|EPOLLIN|EPOLLET, fd=4}) = 0
+0 recvmsg(3, {msg_name(...)=...,
		    msg_iov(1)=[{..., 1000}],
		    msg_flags=0,
		    msg_control=[{cmsg_level=SOL_TCP,
				  cmsg_type=TCP_CM_INQ,
				  cmsg_data=9000}]}, 0) = 1000
+0 write(4, ..., 1000) = -1 EPIPE (Broken pipe)
+0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [0xffffffff], [4]) = 0
+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
+0 `+"`tc qdisc replace dev tun0 root pfifo limit 0`"+`
+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.168.0.1")}, 16) = 0
`+"`/tmp/cleanup.sh`"+`
`)
	if len(s.Options) != 4 || s.Options[0].Name != "tolerance_usecs" || s.Options[0].Value != "10000" ||
		s.Options[1].Value != "ipv4" || s.Options[3].Value != "192.168.0.1" {
		t.Errorf("options: %+v", s.Options)
	}
	if s.InitCommand == nil || !strings.Contains(s.InitCommand.Text, "tcp_rmem") {
		t.Errorf("init command: %+v", s.InitCommand)
	}
	if s.CleanupCommand == nil || s.CleanupCommand.Text != "/tmp/cleanup.sh" {
		t.Errorf("cleanup command: %+v", s.CleanupCommand)
	}
	ev := s.Events
	lin := ev[0].Syscall.Args[3].(*Struct)
	if v := lin.FieldByName("l_onoff").(*Int); v.Value != 1 {
		t.Errorf("l_onoff = %v", v)
	}
	or := ev[1].Syscall.Args[2].(*Or)
	if len(or.Terms) != 2 || or.Terms[1].(*Word).Name != "O_NONBLOCK" {
		t.Errorf("or: %v", or)
	}
	c := ev[2].Syscall
	if c.Ret.(*Int).Value != -1 || c.Errno != "EINPROGRESS" || c.Note != "Operation now in progress" {
		t.Errorf("connect: %+v", c)
	}
	if f := ev[3].Syscall; f.Ret.(*Int).Value != 2 || f.Errno != "" || f.Note != "flags O_RDWR" {
		t.Errorf("fcntl: %+v", f)
	}
	if got := ev[4].Syscall.Args[0].String(); got != "[{fd=3, events=POLLIN, revents=POLLIN}]" {
		t.Errorf("poll arg: %s", got)
	}
	msg := ev[6].Syscall.Args[1].(*Struct)
	iov := msg.Elems[1].(*Field)
	if iov.Name != "msg_iov" || !iov.HasIndex || iov.Index.(*Int).Value != 1 {
		t.Errorf("msg_iov: %v", iov)
	}
	if ev[6].Line != 16 {
		t.Errorf("recvmsg line = %d, want 16", ev[6].Line)
	}
	if v := ev[8].Syscall.Args[3].(*Array).Elems[0].(*Int); v.Value != 0xffffffff {
		t.Errorf("hex value %v", v)
	}
	if ev[9].Code == nil || ev[9].Code.Text != "assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd" {
		t.Errorf("code: %+v", ev[9].Code)
	}
	if ev[10].Command == nil || !strings.HasPrefix(ev[10].Command.Text, "tc qdisc") {
		t.Errorf("command: %+v", ev[10])
	}
	sa := ev[11].Syscall.Args[1].(*Struct)
	if got := sa.FieldByName("sin_port").String(); got != "htons(8080)" {
		t.Errorf("sin_port %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bad flag", "0 < Q 0:0(0) win 1", "test.pkt:1: bad TCP flag"},
		{"inconsistent len", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < . 1:10(5) ack 1 win 1", "test.pkt:2: inconsistent TCP sequence numbers"},
		{"missing paren", "0 socket(..., SOCK_STREAM = 3", "test.pkt:1: expected ',' or ')'"},
		{"star inbound", "* < . 1:1(0) ack 1 win 1", "test.pkt:1: time '*'"},
		{"unterminated code", "0 %{ print(1)\n", "test.pkt:1: unterminated %{"},
		{"unknown option", "0 > S 0:0(0) <mss 1000,bogus>", "unknown TCP option \"bogus\""},
		{"no events", "// nothing\n", "script has no events"},
		{"backwards", "0 socket() = 3\n+0 > . 1:1(0)\n1~0.5 > . 1:1(0)", "test.pkt:3: time range is backwards"},
		{"udp", "0 < udp (100)", "unsupported packet type"},
		{"syscall without result", "0 close(3)\n+0 close(4) = 0", "test.pkt:2: expected '=' before the expected result of close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.pkt", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSecondsExact(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "12": 12e6, ".1": 1e5, "0.57": 57e4, "1.0000005": 1000001, "+": -1} {
		got, err := parseSeconds(in)
		if want < 0 {
			continue
		}
		if err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
