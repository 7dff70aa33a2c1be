package harness

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The harness decodes and builds packets itself rather than through the
// stack's own wire packages: a bug there must not hide in the tool that is
// supposed to catch it.

// TCP flag bits.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// TCPFields is the decoded IPv4 + TCP header of a packet.
type TCPFields struct {
	Src, Dst         netip.AddrPort
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	PayloadLen       int
	HasTS            bool
	TSVal, TSEcr     uint32
	HeaderLen, IPLen int
}

func (h TCPFields) String() string {
	fl := ""
	for i, c := range "FSRPA" {
		if h.Flags&(1<<i) != 0 {
			fl += string(c)
		}
	}
	s := fmt.Sprintf("%v > %v [%s] seq %d ack %d win %d len %d", h.Src, h.Dst, fl, h.Seq, h.Ack, h.Window, h.PayloadLen)
	if h.HasTS {
		s += fmt.Sprintf(" TS val %d ecr %d", h.TSVal, h.TSEcr)
	}
	return s
}

// ParseTCP decodes an IPv4/TCP packet (possibly truncated after the TCP
// header).
func ParseTCP(b []byte) (h TCPFields, ok bool) {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != 6 {
		return h, false
	}
	ihl := int(b[0]&0xf) * 4
	if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 || len(b) < ihl+20 {
		return h, false
	}
	tot := int(binary.BigEndian.Uint16(b[2:]))
	t := b[ihl:]
	doff := int(t[12]>>4) * 4
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	h = TCPFields{
		Src:       netip.AddrPortFrom(src, binary.BigEndian.Uint16(t[0:])),
		Dst:       netip.AddrPortFrom(dst, binary.BigEndian.Uint16(t[2:])),
		Seq:       binary.BigEndian.Uint32(t[4:]),
		Ack:       binary.BigEndian.Uint32(t[8:]),
		Flags:     t[13],
		Window:    binary.BigEndian.Uint16(t[14:]),
		HeaderLen: doff,
		IPLen:     tot,
	}
	h.PayloadLen = tot - ihl - doff
	if doff > 20 && len(t) >= doff {
		opts := t[20:doff]
		for len(opts) > 0 {
			k := opts[0]
			if k == 0 {
				break
			}
			if k == 1 {
				opts = opts[1:]
				continue
			}
			if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
				break
			}
			if k == 8 && opts[1] == 10 {
				h.HasTS = true
				h.TSVal = binary.BigEndian.Uint32(opts[2:])
				h.TSEcr = binary.BigEndian.Uint32(opts[6:])
			}
			opts = opts[opts[1]:]
		}
	}
	return h, true
}

// BuildTCP builds an IPv4 packet carrying a TCP segment without payload,
// with a timestamp option when ts is true, and correct checksums.
func BuildTCP(src, dst netip.AddrPort, seq, ack uint32, flags uint8, win uint16, ts bool, tsval, tsecr uint32) []byte {
	thl := 20
	if ts {
		thl = 32
	}
	b := make([]byte, 20+thl)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
	b[8] = 64
	b[9] = 6
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:], s4[:])
	copy(b[16:], d4[:])
	binary.BigEndian.PutUint16(b[10:], ^fold(sum(b[:20], 0)))
	t := b[20:]
	binary.BigEndian.PutUint16(t[0:], src.Port())
	binary.BigEndian.PutUint16(t[2:], dst.Port())
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = byte(thl/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], win)
	if ts {
		t[20], t[21], t[22], t[23] = 1, 1, 8, 10
		binary.BigEndian.PutUint32(t[24:], tsval)
		binary.BigEndian.PutUint32(t[28:], tsecr)
	}
	ph := sum(s4[:], 0)
	ph = sum(d4[:], ph)
	ph += 6 + uint32(len(t))
	binary.BigEndian.PutUint16(t[16:], ^fold(sum(t, ph)))
	return b
}

func sum(b []byte, acc uint32) uint32 {
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
