package packetdrill

import (
	"testing"

	"github.com/ustack/ustack/integration/packetdrill/script"
)

// FuzzDecodePacket feeds arbitrary bytes to the outbound packet decoder,
// which must reject them without panicking.
func FuzzDecodePacket(f *testing.F) {
	p := &wirePacket{Src: LocalAddr(), Dst: RemoteAddr(), SrcPort: 8080, DstPort: 50123, Seq: 1, Ack: 2,
		Flags: script.FlagACK | script.FlagPSH, Win: 100, PayloadLen: 10}
	opts, _ := encodeOptions([]script.TCPOption{{Kind: script.OptNOP}, {Kind: script.OptNOP},
		{Kind: script.OptTimestamp, TSVal: 1, TSEcr: 2}, {Kind: script.OptSACK, SACK: []script.SACKBlock{{Left: 1, Right: 2}}}})
	f.Add(encodePacket(p, opts, 1))
	f.Add(encodePacket(p, nil, 2))
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		if wp, err := decodePacket(b); err == nil {
			_ = formatScript('>', wp)
		}
		_, _ = decodeOptions(b)
	})
}

// FuzzShellWords checks the command splitter and $((...)) evaluator.
func FuzzShellWords(f *testing.F) {
	f.Add(`sysctl -q net.ipv4.tcp_rmem="4096 540000 $((15*1024*1024))" > /dev/null 2>&1`)
	f.Add(`echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect`)
	f.Add(`$((1/0))`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _ = shellWords(s)
		_, _ = expandArith(s)
	})
}
