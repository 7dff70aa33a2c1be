package ipv4

import (
	"bytes"
	"testing"
)

// The classic worked example (192.168.0.1 -> 192.168.0.199, UDP): checksum 0xb861.
var example = []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
	0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}

func TestEncodeKnownChecksum(t *testing.T) {
	h := make(IPv4, 20)
	h.Encode(&Fields{TotalLength: 0x73, Flags: FlagDF, TTL: 64, Protocol: ProtoUDP,
		Src: [4]byte{192, 168, 0, 1}, Dst: [4]byte{192, 168, 0, 199}})
	if !bytes.Equal(h, example) {
		t.Fatalf("got % x\nwant % x", []byte(h), example)
	}
	if h.HeaderChecksum() != 0xb861 {
		t.Fatalf("HeaderChecksum %#x", h.HeaderChecksum())
	}
}

func TestAccessors(t *testing.T) {
	pkt := make(IPv4, 64)
	copy(pkt[24:], "data")
	pkt[20], pkt[21], pkt[22], pkt[23] = 1, 1, 1, 0 // NOP NOP NOP EOL
	pkt.Encode(&Fields{IHL: 24, TOS: 0x10, TotalLength: 28, ID: 0xbeef, Flags: FlagMF, FragOffset: 1480,
		TTL: 3, Protocol: ProtoTCP, Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}})
	if err := pkt.Validate(); err != nil {
		t.Fatal(err)
	}
	if pkt.Version() != 4 || pkt.IHL() != 24 || pkt.TOS() != 0x10 || pkt.TotalLength() != 28 || pkt.ID() != 0xbeef ||
		pkt.Flags() != FlagMF || !pkt.MoreFragments() || pkt.DontFragment() || pkt.FragOffset() != 1480 ||
		!pkt.IsFragment() || pkt.TTL() != 3 || pkt.Protocol() != ProtoTCP ||
		pkt.Src() != [4]byte{10, 0, 0, 1} || pkt.Dst() != [4]byte{10, 0, 0, 2} {
		t.Fatalf("accessors: % x", []byte(pkt[:24]))
	}
	if !bytes.Equal(pkt.Options(), []byte{1, 1, 1, 0}) {
		t.Errorf("options % x", pkt.Options())
	}
	// Link padding after the total length is not payload.
	if string(pkt.Payload()) != "data" {
		t.Errorf("payload %q", pkt.Payload())
	}
	pkt.SetTTL(2)
	if pkt.Validate() != ErrChecksum {
		t.Error("TTL change without checksum update still valid")
	}
	pkt.SetChecksum(pkt.HeaderChecksum())
	if pkt.Validate() != nil {
		t.Error("checksum recomputation")
	}
}

func TestNotFragment(t *testing.T) {
	h := make(IPv4, 20)
	h.Encode(&Fields{TotalLength: 20, Flags: FlagDF, TTL: 64})
	if h.IsFragment() || h.MoreFragments() || h.FragOffset() != 0 || !h.DontFragment() {
		t.Fatal("DF-only packet reported as fragment")
	}
}

// Each case follows one branch of ip_rcv_core.
func TestValidateMirrorsIPRcvCore(t *testing.T) {
	good := func(n int, tweak func(IPv4), f Fields) IPv4 {
		h := make(IPv4, n)
		if f.TotalLength == 0 {
			f.TotalLength = uint16(n)
		}
		f.TTL = 64
		f.Protocol = ProtoTCP
		h.Encode(&f)
		if tweak != nil {
			tweak(h)
			h.SetChecksum(h.HeaderChecksum())
		}
		return h
	}
	for _, tc := range []struct {
		name string
		h    IPv4
		want error
	}{
		{"ok", good(40, nil, Fields{}), nil},
		{"ok with link padding", good(60, nil, Fields{TotalLength: 40}), nil},
		{"ok header only", good(20, nil, Fields{}), nil},
		{"shorter than iphdr", good(40, nil, Fields{})[:19], ErrHeader},
		{"empty", nil, ErrHeader},
		{"version 6", good(40, func(h IPv4) { h[0] = 0x65 }, Fields{}), ErrHeader},
		{"ihl 4", good(40, func(h IPv4) { h[0] = 0x44 }, Fields{}), ErrHeader},
		{"ihl past end", good(40, func(h IPv4) { h[0] = 0x4f }, Fields{}), ErrHeader},
		{"bad checksum", func() IPv4 { h := good(40, nil, Fields{}); h[10] ^= 1; return h }(), ErrChecksum},
		{"total length past end", good(40, nil, Fields{TotalLength: 41}), ErrTruncated},
		{"total length < ihl", good(40, nil, Fields{TotalLength: 19}), ErrHeader},
		// Linux checks the checksum before the length: a bad sum on a
		// truncated packet counts as a checksum error.
		{"checksum before length", func() IPv4 { h := good(40, nil, Fields{TotalLength: 80}); h[10] ^= 1; return h }(), ErrChecksum},
	} {
		if got := tc.h.Validate(); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func TestICMPEcho(t *testing.T) {
	m := make(ICMP, 8+5)
	copy(m.Payload(), "hello")
	m.Encode(&ICMPFields{Type: ICMPEcho, ID: 0x1234, Seq: 7})
	if !m.Valid() || m.Type() != ICMPEcho || m.Code() != 0 || m.ID() != 0x1234 || m.Seq() != 7 || string(m.Payload()) != "hello" {
		t.Fatalf("echo: % x", []byte(m))
	}
	// Turning a request into a reply in place, as icmp_echo does.
	m.Encode(&ICMPFields{Type: ICMPEchoReply, ID: m.ID(), Seq: m.Seq()})
	if !m.Valid() || m.Type() != ICMPEchoReply {
		t.Fatal("reply invalid")
	}
	m[len(m)-1] ^= 0xff
	if m.Valid() {
		t.Fatal("corrupted message valid")
	}
	if ICMP(make([]byte, 7)).Valid() {
		t.Fatal("short message valid")
	}
}

func TestNoAllocs(t *testing.T) {
	h := make(IPv4, 1500)
	f := Fields{TotalLength: 1500, TTL: 64, Protocol: ProtoTCP}
	m := ICMP(make([]byte, 64))
	if n := testing.AllocsPerRun(100, func() {
		h.Encode(&f)
		_ = h.Validate()
		_ = h.Payload()
		m.Encode(&ICMPFields{Type: ICMPEcho})
		_ = m.Valid()
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func FuzzIPv4Validate(f *testing.F) {
	f.Add(example)
	f.Add([]byte{})
	f.Add([]byte{0x4f, 0, 0, 20})
	pkt := make(IPv4, 48)
	pkt.Encode(&Fields{IHL: 24, TotalLength: 40, Flags: FlagMF, FragOffset: 8, TTL: 1, Protocol: ProtoICMP})
	f.Add([]byte(pkt))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := IPv4(b)
		err := h.Validate()
		if m := ICMP(b); len(m) >= ICMPHeaderSize {
			_ = m.Valid()
			_, _, _, _ = m.Type(), m.Code(), m.ID(), m.Seq()
		}
		if err != nil {
			if err != ErrHeader && err != ErrChecksum && err != ErrTruncated {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		p := h.Payload()
		if len(p) != int(h.TotalLength())-h.IHL() {
			t.Fatal("payload length")
		}
		// Re-encode from the accessors: the header must come out identical.
		out := make(IPv4, len(h))
		copy(out, h)
		clear(out[:MinSize])
		out.Encode(&Fields{IHL: uint8(h.IHL()), TOS: h.TOS(), TotalLength: h.TotalLength(), ID: h.ID(),
			Flags: h.Flags(), FragOffset: uint16(h.FragOffset()), TTL: h.TTL(), Protocol: h.Protocol(),
			Src: h.Src(), Dst: h.Dst()})
		if out.Validate() != nil {
			t.Fatal("re-encoded header invalid")
		}
		// The checksum may differ only as 0x0000 vs 0xffff (two zeros).
		a, b2 := []byte(out[:h.IHL()]), []byte(h[:h.IHL()])
		if !bytes.Equal(a[:10], b2[:10]) || !bytes.Equal(a[12:], b2[12:]) {
			t.Fatalf("round trip\n% x\n% x", a, b2)
		}
	})
}
