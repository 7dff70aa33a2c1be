package header

import (
	"encoding/binary"
	"math/bits"
)

// Checksum returns the ones'-complement sum of b added to initial (an
// unfolded partial sum, e.g. from PseudoHeaderChecksum), folded to 16 bits
// and not inverted. An odd trailing byte is padded with zero.
//
// It sums 8 bytes at a time into a uint64 with end-around carry: since
// 2^16 ≡ 1 (mod 2^16-1), the big-endian 64-bit words fold to the same 16-bit
// ones'-complement sum as the RFC 1071 loop over 16-bit words.
func Checksum(b []byte, initial uint32) uint16 {
	sum := uint64(initial)
	var c uint64
	for len(b) >= 32 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[0:]), 0)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[8:]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[16:]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[24:]), c)
		sum += c
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b), 0)
		sum += c
		b = b[8:]
	}
	if len(b) >= 4 {
		sum, c = bits.Add64(sum, uint64(binary.BigEndian.Uint32(b)), 0)
		sum += c
		b = b[4:]
	}
	if len(b) >= 2 {
		sum, c = bits.Add64(sum, uint64(binary.BigEndian.Uint16(b)), 0)
		sum += c
		b = b[2:]
	}
	if len(b) == 1 {
		sum, c = bits.Add64(sum, uint64(b[0])<<8, 0)
		sum += c
	}
	return fold64(sum)
}

// fold64 folds a 64-bit ones'-complement sum to 16 bits.
func fold64(s uint64) uint16 {
	s = (s >> 32) + (s & 0xffffffff) // at most 33 bits
	s = (s >> 16) + (s & 0xffff)     // at most 18 bits
	s = (s >> 16) + (s & 0xffff)     // at most 17 bits
	s = (s >> 16) + (s & 0xffff)
	return uint16(s)
}

// ChecksumCombine adds two folded ones'-complement sums.
func ChecksumCombine(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s + s>>16)
}

// PseudoHeaderChecksum returns the unfolded sum of the IPv4 pseudo-header
// (source, destination, zero, protocol, transport length), to pass as the
// initial value of Checksum.
func PseudoHeaderChecksum(src, dst [4]byte, proto uint8, length uint16) uint32 {
	s := uint32(src[0])<<8 | uint32(src[1])
	s += uint32(src[2])<<8 | uint32(src[3])
	s += uint32(dst[0])<<8 | uint32(dst[1])
	s += uint32(dst[2])<<8 | uint32(dst[3])
	s += uint32(proto)
	s += uint32(length)
	return s
}

// TCPChecksum returns the value to store in the checksum field of seg (the
// whole segment, header and payload) sent from src to dst. The field itself
// must be zero while computing.
func TCPChecksum(src, dst [4]byte, seg []byte) uint16 {
	return ^Checksum(seg, PseudoHeaderChecksum(src, dst, ProtoTCP, uint16(len(seg))))
}

// VerifyTCPChecksum reports whether seg, checksum field included, sums to
// 0xffff with its pseudo-header. A segment longer than 65535 bytes cannot be
// described by the pseudo-header and fails.
func VerifyTCPChecksum(src, dst [4]byte, seg []byte) bool {
	if len(seg) > 0xffff {
		return false
	}
	return Checksum(seg, PseudoHeaderChecksum(src, dst, ProtoTCP, uint16(len(seg)))) == 0xffff
}
