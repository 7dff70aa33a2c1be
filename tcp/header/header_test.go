package header

import (
	"bytes"
	"testing"
)

func TestEncodeAndView(t *testing.T) {
	f := Fields{SrcPort: 1234, DstPort: 80, Seq: 0xdeadbeef, Ack: 0x01020304,
		DataOffset: 32, Flags: FlagSYN | FlagACK | FlagECE, Window: 65535, Urgent: 7}
	b := make(TCP, 40)
	for i := range b {
		b[i] = 0xff
	}
	b.Encode(&f)
	if !b.Valid() {
		t.Fatal("encoded header not valid")
	}
	if b.SrcPort() != 1234 || b.DstPort() != 80 || b.Seq() != 0xdeadbeef || b.Ack() != 0x01020304 ||
		b.DataOffset() != 32 || b.Flags() != FlagSYN|FlagACK|FlagECE || b.Window() != 65535 ||
		b.Urgent() != 7 || b.Checksum() != 0 {
		t.Fatalf("round trip mismatch: % x", b[:20])
	}
	if b[12]&0x0f != 0 {
		t.Errorf("reserved bits not cleared: %#x", b[12])
	}
	if len(b.Options()) != 12 || len(b.Payload()) != 8 {
		t.Errorf("options %d payload %d", len(b.Options()), len(b.Payload()))
	}
	b.SetChecksum(0xabcd)
	if b.Checksum() != 0xabcd {
		t.Error("SetChecksum")
	}
}

func TestValid(t *testing.T) {
	hdr := func(n int, doff byte) TCP {
		b := make(TCP, n)
		if n > 12 {
			b[12] = doff << 4
		}
		return b
	}
	for _, tc := range []struct {
		name string
		b    TCP
		ok   bool
	}{
		{"empty", nil, false},
		{"short", hdr(19, 5), false},
		{"min", hdr(20, 5), true},
		{"doff<5", hdr(20, 4), false},
		{"doff=0", hdr(40, 0), false},
		{"doff past end", hdr(23, 6), false},
		{"doff=15", hdr(60, 15), true},
	} {
		if got := tc.b.Valid(); got != tc.ok {
			t.Errorf("%s: Valid=%v want %v", tc.name, got, tc.ok)
		}
	}
}

// A full segment as a Linux peer would build it: SYN-ACK with options.
func TestBuildSYNACK(t *testing.T) {
	o := Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 100, TSEcr: 200, HasWScale: true, WScale: 7}
	n := SYNOptionsLen(&o)
	seg := make(TCP, TCPMinSize+n+3)
	seg.Encode(&Fields{SrcPort: 80, DstPort: 5555, Seq: 1, Ack: 2, DataOffset: uint8(TCPMinSize + n), Flags: FlagSYN | FlagACK, Window: 65160})
	if w := PutSYNOptions(seg[TCPMinSize:], &o); w != n {
		t.Fatalf("wrote %d want %d", w, n)
	}
	copy(seg.Payload(), "abc")
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	seg.SetChecksum(TCPChecksum(src, dst, seg))
	if !VerifyTCPChecksum(src, dst, seg) {
		t.Fatal("checksum does not verify")
	}
	var got Options
	if err := ParseOptions(seg.Options(), &got); err != nil || got != o {
		t.Fatalf("parse: %v %+v", err, got)
	}
	if !bytes.Equal(seg.Payload(), []byte("abc")) {
		t.Error("payload")
	}
	seg[len(seg)-1] ^= 1
	if VerifyTCPChecksum(src, dst, seg) {
		t.Error("corrupted segment verifies")
	}
}

func FuzzTCPView(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 20))
	seed := make(TCP, 32)
	seed.Encode(&Fields{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, DataOffset: 32, Flags: FlagACK, Window: 5})
	PutOptions(seed[20:], &Options{HasTS: true, TSVal: 1, TSEcr: 2})
	f.Add([]byte(seed))
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0xf0, 0x12, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v := TCP(b)
		src, dst := [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}
		_ = VerifyTCPChecksum(src, dst, b)
		if !v.Valid() {
			return
		}
		var o Options
		_ = ParseOptions(v.Options(), &o)
		_ = FormatOptions(v.Options())
		_ = v.Payload()
		// Re-encode the fixed header and the parsed options; parsing them
		// again must give the same values.
		fl := Fields{SrcPort: v.SrcPort(), DstPort: v.DstPort(), Seq: v.Seq(), Ack: v.Ack(),
			Flags: v.Flags(), Window: v.Window(), Urgent: v.Urgent()}
		out := make(TCP, TCPMaxSize+len(v.Payload()))
		var n int
		if v.Flags()&FlagSYN != 0 {
			n = PutSYNOptions(out[TCPMinSize:], &o)
		} else {
			n = PutOptions(out[TCPMinSize:], &o)
		}
		fl.DataOffset = uint8(TCPMinSize + n)
		out = out[:TCPMinSize+n+copy(out[TCPMinSize+n:], v.Payload())]
		out.Encode(&fl)
		out.SetChecksum(TCPChecksum(src, dst, out))
		if !out.Valid() || !VerifyTCPChecksum(src, dst, out) {
			t.Fatal("re-encoded segment invalid")
		}
		if out.SrcPort() != fl.SrcPort || out.DstPort() != fl.DstPort || out.Seq() != fl.Seq ||
			out.Ack() != fl.Ack || out.Flags() != fl.Flags || out.Window() != fl.Window || out.Urgent() != fl.Urgent {
			t.Fatal("fixed header round trip")
		}
		if !bytes.Equal(out.Payload(), v.Payload()) {
			t.Fatal("payload round trip")
		}
		var o2 Options
		if err := ParseOptions(out.Options(), &o2); err != nil {
			t.Fatalf("parse of our own options: %v", err)
		}
		checkSame(t, &o, &o2, v.Flags()&FlagSYN != 0)
	})
}

// checkSame compares what the Put function for the segment kind carries.
func checkSame(t *testing.T, in, out *Options, syn bool) {
	t.Helper()
	if in.HasTS != out.HasTS || (in.HasTS && (in.TSVal != out.TSVal || in.TSEcr != out.TSEcr)) {
		t.Fatalf("TS: %+v vs %+v", in, out)
	}
	if syn {
		if in.HasMSS != out.HasMSS || in.MSS != out.MSS || in.HasWScale != out.HasWScale ||
			in.WScale != out.WScale || in.SACKPermitted != out.SACKPermitted || out.NumSACK != 0 {
			t.Fatalf("SYN options: %+v vs %+v", in, out)
		}
		return
	}
	want := sackBlocksToSend(in)
	if out.NumSACK != want || out.HasMSS || out.HasWScale || out.SACKPermitted {
		t.Fatalf("options: %+v vs %+v", in, out)
	}
	for i := range want {
		if in.SACK[i] != out.SACK[i] {
			t.Fatalf("SACK block %d: %+v vs %+v", i, in.SACK[i], out.SACK[i])
		}
	}
}
