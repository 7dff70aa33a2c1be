package header

import (
	"math/rand/v2"
	"testing"
)

// refChecksum is RFC 1071 done the slow, obvious way.
func refChecksum(b []byte, initial uint32) uint16 {
	s := uint64(initial)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

func TestChecksumRFC1071Example(t *testing.T) {
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0); got != 0xddf2 {
		t.Fatalf("got %#x want 0xddf2", got)
	}
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 101)
	for n := 0; n <= 100; n++ {
		for range 50 {
			for i := range buf {
				buf[i] = byte(r.Uint32())
			}
			if r.IntN(4) == 0 { // exercise carries
				for i := range buf[:n] {
					buf[i] = 0xff
				}
			}
			init := r.Uint32()
			if r.IntN(3) == 0 {
				init = 0
			}
			// Offsets 0 and 1 check unaligned starts.
			for off := range 2 {
				b := buf[off : off+n]
				if got, want := Checksum(b, init), refChecksum(b, init); got != want {
					t.Fatalf("len %d off %d init %#x: got %#x want %#x", n, off, init, got, want)
				}
			}
		}
	}
}

func TestChecksumCombine(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 64)
	for range 200 {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		k := 2 * r.IntN(33)
		if got, want := ChecksumCombine(Checksum(b[:k], 0), Checksum(b[k:], 0)), Checksum(b, 0); got != want {
			t.Fatalf("split %d: %#x want %#x", k, got, want)
		}
	}
}

// A SYN as Linux would send it, checked against the reference sum over an
// explicit pseudo-header.
func TestTCPChecksum(t *testing.T) {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	seg := make(TCP, 40)
	seg.Encode(&Fields{SrcPort: 40000, DstPort: 80, Seq: 12345, DataOffset: 40, Flags: FlagSYN, Window: 64240})
	PutSYNOptions(seg[20:], &Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 1000, HasWScale: true, WScale: 7})
	c := TCPChecksum(src, dst, seg)
	var pseudo []byte
	pseudo = append(pseudo, src[:]...)
	pseudo = append(pseudo, dst[:]...)
	pseudo = append(pseudo, 0, ProtoTCP, 0, byte(len(seg)))
	pseudo = append(pseudo, seg...)
	if want := ^refChecksum(pseudo, 0); c != want {
		t.Fatalf("got %#x want %#x", c, want)
	}
	seg.SetChecksum(c)
	if !VerifyTCPChecksum(src, dst, seg) {
		t.Fatal("verify failed")
	}
	if VerifyTCPChecksum(src, [4]byte{10, 0, 0, 3}, seg) {
		t.Fatal("verify passed with wrong address")
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(1500)
	for b.Loop() {
		Checksum(buf, 0)
	}
}
