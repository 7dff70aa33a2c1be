package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the lexer or parser panic or loop,
// and that what parses renders back without panicking.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
		"--tolerance_usecs=10000\n`../common/defaults.sh`\n0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n",
		"+.1...0.200 connect(3, ..., ...) = 0\n+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>\n",
		"0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n",
		"+.3~+.310 > . 1:1001(1000) ack 1\n* > R 1:1(0)\n",
		"0 %{ assert tcpi_snd_cwnd == 10 }%\n",
		"0 write(4, ..., 1000) = -1 EPIPE (Broken pipe)\n",
		"0 recvmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 1000}], msg_flags=0}, 0) = 1000\n",
		"0 poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, 0) = 1\n",
		"0 < 1234>80 SEWA. 0:0(0) win 100 urg 5 <eol,md5 abc,FO,sack 1:2 3:4>\n",
		"/* c */ 0 `x` // y\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// A few real scripts when the corpus is around.
	if dir := sharedScriptsDir(f); dir != "" {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".pkt") && strings.Contains(path, "close") {
				if b, err := os.ReadFile(path); err == nil {
					f.Add(b)
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("fuzz.pkt", src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, ev := range s.Events {
			switch {
			case ev.Packet != nil:
				_ = ev.Packet.String()
			case ev.Syscall != nil:
				_ = ev.Syscall.String()
			}
			_ = ev.Time.String()
		}
	})
}
