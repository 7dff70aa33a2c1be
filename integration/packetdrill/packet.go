package packetdrill

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ustack/ustack/integration/packetdrill/script"
	"github.com/ustack/ustack/tcp/header"
)

// wirePacket is a decoded IPv4/TCP packet, with its options in wire order
// so they can be compared with a script's option list kind by kind.
type wirePacket struct {
	At               int64 // microseconds
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	AE               bool
	Win              uint16
	Urg              uint16
	Options          []script.TCPOption
	OptBytes         int
	PayloadLen       int
	TOS              uint8
}

var errNotTCP = errors.New("not an IPv4 TCP packet")

// decodePacket parses an outbound datagram and checks its checksums.
func decodePacket(b []byte) (*wirePacket, error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return nil, errNotTCP
	}
	ihl := int(b[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl || total > len(b) {
		return nil, fmt.Errorf("bad IPv4 header (ihl %d, total length %d, %d bytes)", ihl, total, len(b))
	}
	if header.Checksum(b[:ihl], 0) != 0xffff {
		return nil, errors.New("bad outbound IP checksum")
	}
	if b[9] != 6 {
		return nil, errNotTCP
	}
	var src, dst [4]byte
	copy(src[:], b[12:16])
	copy(dst[:], b[16:20])
	seg := b[ihl:total]
	if len(seg) < 20 {
		return nil, errors.New("truncated TCP header")
	}
	doff := int(seg[12]>>4) * 4
	if doff < 20 || doff > len(seg) {
		return nil, fmt.Errorf("bad TCP data offset %d", doff)
	}
	if !header.VerifyTCPChecksum(src, dst, seg) {
		return nil, errors.New("bad outbound TCP checksum")
	}
	p := &wirePacket{
		Src: netip.AddrFrom4(src), Dst: netip.AddrFrom4(dst),
		SrcPort: binary.BigEndian.Uint16(seg[0:]), DstPort: binary.BigEndian.Uint16(seg[2:]),
		Seq: binary.BigEndian.Uint32(seg[4:]), Ack: binary.BigEndian.Uint32(seg[8:]),
		Flags: seg[13], AE: seg[12]&1 != 0,
		Win: binary.BigEndian.Uint16(seg[14:]), Urg: binary.BigEndian.Uint16(seg[18:]),
		OptBytes: doff - 20, PayloadLen: len(seg) - doff, TOS: b[1],
	}
	opts, err := decodeOptions(seg[20:doff])
	if err != nil {
		return nil, err
	}
	p.Options = opts
	return p, nil
}

func decodeOptions(b []byte) ([]script.TCPOption, error) {
	var out []script.TCPOption
	for i := 0; i < len(b); {
		kind := b[i]
		if kind == 0 {
			out = append(out, script.TCPOption{Kind: script.OptEOL})
			i++
			continue
		}
		if kind == 1 {
			out = append(out, script.TCPOption{Kind: script.OptNOP})
			i++
			continue
		}
		if i+1 >= len(b) || int(b[i+1]) < 2 || i+int(b[i+1]) > len(b) {
			return nil, fmt.Errorf("bad TCP option length at offset %d", i)
		}
		l := int(b[i+1])
		d := b[i+2 : i+l]
		bad := func() error { return fmt.Errorf("bad length %d for TCP option kind %d", l, kind) }
		switch kind {
		case 2:
			if l != 4 {
				return nil, bad()
			}
			out = append(out, script.TCPOption{Kind: script.OptMSS, MSS: binary.BigEndian.Uint16(d)})
		case 3:
			if l != 3 {
				return nil, bad()
			}
			out = append(out, script.TCPOption{Kind: script.OptWScale, WScale: d[0]})
		case 4:
			if l != 2 {
				return nil, bad()
			}
			out = append(out, script.TCPOption{Kind: script.OptSACKPerm})
		case 5:
			if (l-2)%8 != 0 || l == 2 {
				return nil, bad()
			}
			o := script.TCPOption{Kind: script.OptSACK}
			for j := 0; j+8 <= len(d); j += 8 {
				o.SACK = append(o.SACK, script.SACKBlock{Left: binary.BigEndian.Uint32(d[j:]), Right: binary.BigEndian.Uint32(d[j+4:])})
			}
			out = append(out, o)
		case 8:
			if l != 10 {
				return nil, bad()
			}
			out = append(out, script.TCPOption{Kind: script.OptTimestamp, TSVal: binary.BigEndian.Uint32(d), TSEcr: binary.BigEndian.Uint32(d[4:])})
		case 19:
			out = append(out, script.TCPOption{Kind: script.OptMD5, Blob: fmt.Sprintf("%x", d)})
		case 34:
			out = append(out, script.TCPOption{Kind: script.OptFastOpen, Blob: fmt.Sprintf("%x", d)})
		default:
			out = append(out, script.TCPOption{Kind: 255, Blob: fmt.Sprintf("kind %d len %d", kind, l)})
		}
		i += l
	}
	return out, nil
}

// encodeOptions writes a script's option list in its order (inbound
// packets carry exactly what the script says).
func encodeOptions(opts []script.TCPOption) ([]byte, error) {
	var b []byte
	for _, o := range opts {
		switch o.Kind {
		case script.OptNOP:
			b = append(b, 1)
		case script.OptEOL:
			b = append(b, 0)
		case script.OptMSS:
			b = append(b, 2, 4, byte(o.MSS>>8), byte(o.MSS))
		case script.OptWScale:
			b = append(b, 3, 3, o.WScale)
		case script.OptSACKPerm:
			b = append(b, 4, 2)
		case script.OptSACK:
			b = append(b, 5, byte(2+8*len(o.SACK)))
			for _, s := range o.SACK {
				b = binary.BigEndian.AppendUint32(b, s.Left)
				b = binary.BigEndian.AppendUint32(b, s.Right)
			}
		case script.OptTimestamp:
			b = append(b, 8, 10)
			b = binary.BigEndian.AppendUint32(b, o.TSVal)
			b = binary.BigEndian.AppendUint32(b, o.TSEcr)
		default:
			return nil, unsupportedf("TCP option %q in an inbound packet", o.String())
		}
	}
	if len(b) > 40 {
		return nil, fmt.Errorf("TCP options of %d bytes exceed 40", len(b))
	}
	for len(b)%4 != 0 {
		b = append(b, 0) // EOL padding, as packetdrill does
	}
	return b, nil
}

// encodePacket builds an inbound IPv4/TCP datagram with zero payload bytes.
func encodePacket(p *wirePacket, opts []byte, ipID uint16) []byte {
	tcpLen := 20 + len(opts) + p.PayloadLen
	b := make([]byte, 20+tcpLen)
	b[0] = 0x45
	b[1] = p.TOS
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], ipID)
	b[6] = 0x40 // DF
	b[8] = 64
	b[9] = 6
	src, dst := p.Src.As4(), p.Dst.As4()
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	binary.BigEndian.PutUint16(b[10:], ^header.Checksum(b[:20], 0))
	seg := b[20:]
	binary.BigEndian.PutUint16(seg[0:], p.SrcPort)
	binary.BigEndian.PutUint16(seg[2:], p.DstPort)
	binary.BigEndian.PutUint32(seg[4:], p.Seq)
	binary.BigEndian.PutUint32(seg[8:], p.Ack)
	seg[12] = byte((20+len(opts))/4) << 4
	if p.AE {
		seg[12] |= 1
	}
	seg[13] = p.Flags
	binary.BigEndian.PutUint16(seg[14:], p.Win)
	binary.BigEndian.PutUint16(seg[18:], p.Urg)
	copy(seg[20:], opts)
	binary.BigEndian.PutUint16(seg[16:], header.TCPChecksum(src, dst, seg))
	return b
}

// flagString renders flags the way scripts write them.
func flagString(f uint8, ae bool) string {
	var s strings.Builder
	for _, c := range []struct {
		bit uint8
		ch  byte
	}{{script.FlagFIN, 'F'}, {script.FlagSYN, 'S'}, {script.FlagRST, 'R'}, {script.FlagPSH, 'P'}, {script.FlagURG, 'U'}, {script.FlagECE, 'E'}, {script.FlagCWR, 'W'}} {
		if f&c.bit != 0 {
			s.WriteByte(c.ch)
		}
	}
	if ae {
		s.WriteByte('A')
	}
	if f&script.FlagACK != 0 {
		s.WriteByte('.')
	}
	if s.Len() == 0 {
		return "-"
	}
	return s.String()
}

// formatScript renders a packet (already mapped to script-relative
// numbers) in script syntax.
func formatScript(dir byte, p *wirePacket) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%c %s %d:%d(%d)", dir, flagString(p.Flags, p.AE), p.Seq, p.Seq+uint32(p.PayloadLen), p.PayloadLen)
	if p.Flags&script.FlagACK != 0 {
		fmt.Fprintf(&b, " ack %d", p.Ack)
	}
	fmt.Fprintf(&b, " win %d", p.Win)
	if p.Flags&script.FlagURG != 0 {
		fmt.Fprintf(&b, " urg %d", p.Urg)
	}
	if len(p.Options) > 0 {
		b.WriteString(" <")
		for i, o := range p.Options {
			if i > 0 {
				b.WriteByte(',')
			}
			if o.Kind == 255 {
				b.WriteString(o.Blob)
			} else {
				b.WriteString(o.String())
			}
		}
		b.WriteByte('>')
	}
	return b.String()
}
