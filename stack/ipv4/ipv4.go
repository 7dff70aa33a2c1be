// Package ipv4 is the IPv4 wire format: a view over header bytes with
// accessors, the receive-side validation of ip_rcv_core, an encoder, and an
// ICMP echo view. It allocates nothing.
package ipv4

import (
	"encoding/binary"
	"errors"

	"github.com/ustack/ustack/tcp/header"
)

const (
	// MinSize is the size of a header without options.
	MinSize = 20
	// MaxSize is the largest header a 4-bit IHL can describe.
	MaxSize = 60

	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17

	// Flag bits as returned by Flags (the top 3 bits of byte 6).
	FlagMF = 0x1 // more fragments
	FlagDF = 0x2 // don't fragment

	// DefaultTTL is Linux's net.ipv4.ip_default_ttl.
	DefaultTTL = 64
)

// Validation errors, one per counter ip_rcv_core bumps, so the caller can
// count exactly what Linux counts (Validate mirrors the order of its checks).
var (
	// ErrHeader: too short for a header, version != 4, IHL < 5, IHL past
	// the end, or total length < IHL. Linux: IpInHdrErrors.
	ErrHeader = errors.New("ipv4: bad header")
	// ErrChecksum: header checksum wrong. Linux: IpExtInCsumErrors and
	// IpInHdrErrors.
	ErrChecksum = errors.New("ipv4: bad header checksum")
	// ErrTruncated: total length larger than the packet. Linux:
	// IpExtInTruncatedPkts.
	ErrTruncated = errors.New("ipv4: packet shorter than total length")
)

// IPv4 is a view over an IPv4 packet. The fixed-field accessors need
// len(h) >= MinSize; Options and Payload need a packet that passed Validate.
type IPv4 []byte

func (h IPv4) Version() uint8 { return h[0] >> 4 }

// IHL returns the header length in bytes.
func (h IPv4) IHL() int            { return int(h[0]&0x0f) * 4 }
func (h IPv4) TOS() uint8          { return h[1] }
func (h IPv4) TotalLength() uint16 { return binary.BigEndian.Uint16(h[2:]) }
func (h IPv4) ID() uint16          { return binary.BigEndian.Uint16(h[4:]) }

// Flags returns the 3 flag bits (FlagDF, FlagMF).
func (h IPv4) Flags() uint8 { return h[6] >> 5 }

// MoreFragments reports the MF bit.
func (h IPv4) MoreFragments() bool { return h[6]&0x20 != 0 }

// DontFragment reports the DF bit.
func (h IPv4) DontFragment() bool { return h[6]&0x40 != 0 }

// FragOffset returns the fragment offset in bytes.
func (h IPv4) FragOffset() int { return int(binary.BigEndian.Uint16(h[6:])&0x1fff) * 8 }

// IsFragment reports whether the packet is part of a fragmented datagram
// (ip_is_fragment: MF set or a non-zero offset).
func (h IPv4) IsFragment() bool { return binary.BigEndian.Uint16(h[6:])&0x3fff != 0 }

func (h IPv4) TTL() uint8           { return h[8] }
func (h IPv4) Protocol() uint8      { return h[9] }
func (h IPv4) Checksum() uint16     { return binary.BigEndian.Uint16(h[10:]) }
func (h IPv4) Src() (a [4]byte)     { copy(a[:], h[12:16]); return }
func (h IPv4) Dst() (a [4]byte)     { copy(a[:], h[16:20]); return }
func (h IPv4) SetTTL(ttl uint8)     { h[8] = ttl }
func (h IPv4) Options() []byte      { return h[MinSize:h.IHL()] }
func (h IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(h[10:], c) }

// Payload returns the bytes between the header and the total length; link
// padding beyond the total length is dropped, as pskb_trim_rcsum does.
func (h IPv4) Payload() []byte { return h[h.IHL():h.TotalLength()] }

// Validate performs ip_rcv_core's checks in its order: a full fixed header,
// version 4 and IHL >= 5, the IHL within the packet, the header checksum,
// then total length <= packet length (ErrTruncated) and >= IHL.
func (h IPv4) Validate() error {
	if len(h) < MinSize {
		return ErrHeader
	}
	ihl := h.IHL()
	if ihl < MinSize || h.Version() != 4 {
		return ErrHeader
	}
	if len(h) < ihl {
		return ErrHeader
	}
	if header.Checksum(h[:ihl], 0) != 0xffff {
		return ErrChecksum
	}
	tot := int(h.TotalLength())
	if len(h) < tot {
		return ErrTruncated
	}
	if tot < ihl {
		return ErrHeader
	}
	return nil
}

// HeaderChecksum computes the value to store in the checksum field of the
// header h[:IHL] (the field's current value is skipped). An IHL outside
// [20, len(h)] is clamped into it so that the call never panics.
func (h IPv4) HeaderChecksum() uint16 {
	ihl := min(max(h.IHL(), MinSize), len(h))
	s := header.ChecksumCombine(header.Checksum(h[:10], 0), header.Checksum(h[12:ihl], 0))
	return ^s
}

// Fields are the header fields for Encode.
type Fields struct {
	IHL         uint8 // bytes; 0 means MinSize. Options in h[20:IHL] are the caller's.
	TOS         uint8
	TotalLength uint16
	ID          uint16
	Flags       uint8  // FlagDF | FlagMF
	FragOffset  uint16 // bytes, a multiple of 8
	TTL         uint8
	Protocol    uint8
	Src, Dst    [4]byte
}

// Encode writes the header and its checksum. With IHL > 20 the option bytes
// must already be in place, since they are covered by the checksum.
func (h IPv4) Encode(f *Fields) {
	ihl := f.IHL
	if ihl == 0 {
		ihl = MinSize
	}
	_ = h[19]
	h[0] = 4<<4 | (ihl/4)&0x0f
	h[1] = f.TOS
	binary.BigEndian.PutUint16(h[2:], f.TotalLength)
	binary.BigEndian.PutUint16(h[4:], f.ID)
	binary.BigEndian.PutUint16(h[6:], uint16(f.Flags&0x7)<<13|(f.FragOffset/8)&0x1fff)
	h[8] = f.TTL
	h[9] = f.Protocol
	copy(h[12:16], f.Src[:])
	copy(h[16:20], f.Dst[:])
	h.SetChecksum(h.HeaderChecksum())
}
