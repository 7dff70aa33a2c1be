package packetdrill

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ustack/ustack/tcp/header"
)

// brokenISN wraps a harness and plays a stack built with a wrong TIME-WAIT
// ISN offset (snd_nxt + 65536 instead of + 65537, CONST-8): every SYN-ACK
// after the first leaves with its sequence number one too low.
type brokenISN struct {
	Harness
	synacks int
}

func (b *brokenISN) Sent(dst []Sent) []Sent {
	start := len(dst)
	dst = b.Harness.Sent(dst)
	for _, s := range dst[start:] {
		ihl := int(s.Pkt[0]&0x0f) * 4
		seg := header.TCP(s.Pkt[ihl:])
		if seg.Flags()&(header.FlagSYN|header.FlagACK) != header.FlagSYN|header.FlagACK {
			continue
		}
		b.synacks++
		if b.synacks == 1 {
			continue
		}
		binary.BigEndian.PutUint32(seg[4:8], seg.Seq()-1)
		var src, dstAddr [4]byte
		copy(src[:], s.Pkt[12:16])
		copy(dstAddr[:], s.Pkt[16:20])
		seg.SetChecksum(0)
		seg.SetChecksum(header.TCPChecksum(src, dstAddr, seg))
	}
	return dst
}

// A runner that cannot catch a wrong ISN in TIME-WAIT reuse is worthless:
// with the offset broken, the SCN-10 script must fail at the SYN-ACK line
// with both packets in the message.
func TestRunnerCatchesBrokenTimeWaitISN(t *testing.T) {
	dir := corpusDir(t)
	if dir == "" {
		t.Skip("no shared/packetdrill directory above the package")
	}
	path := filepath.Join(dir, "timewait", "tw-syn-higher-seq-reopens.pkt")
	good := (&Runner{NewHarness: NewUstackHarness}).RunFile(path)
	if good.Status != Pass {
		t.Fatalf("unbroken stack: %s %s", good.Status, good.Message())
	}
	r := &Runner{NewHarness: func(cfg HarnessConfig) (Harness, error) {
		h, err := NewUstackHarness(cfg)
		if err != nil {
			return nil, err
		}
		return &brokenISN{Harness: h}, nil
	}}
	res := r.RunFile(path)
	if res.Status != Fail {
		t.Fatalf("broken ISN offset: got %s, want fail", res.Status)
	}
	msg := res.Message()
	t.Logf("runner says: %s", msg)
	if res.Line != 17 || !strings.Contains(msg, "65539") || !strings.Contains(msg, "65538") {
		t.Fatalf("message should name line 17 and both the expected (65539) and actual (65538) sequence numbers: %q", msg)
	}
}
