// Package header is the TCP wire format: a view over header bytes with
// accessors, the fixed-header encoder, option parsing and the Linux option
// layouts, and the Internet checksum. It imports nothing of ustack's and
// allocates nothing.
//
// Written by hand rather than with gopacket's layers (which the tests and
// the pcap tap use) because it is on the per-packet path: gopacket decodes
// into allocated structs, this view reads fields in place.
package header

import "encoding/binary"

// TCP flag bits as they sit in byte 13 of the header.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
	FlagURG = 0x20
	FlagECE = 0x40
	FlagCWR = 0x80
)

// TCPMinSize is the size of the fixed header without options.
const TCPMinSize = 20

// TCPMaxSize is the largest header a 4-bit data offset can describe.
const TCPMaxSize = 60

// MaxOptionsSize is the room left for options in the largest header.
const MaxOptionsSize = TCPMaxSize - TCPMinSize

// ProtoTCP is the IP protocol number of TCP, used in the pseudo-header.
const ProtoTCP = 6

// TCP is a view over a TCP segment (header, options, payload). The fixed-field
// accessors need len(t) >= TCPMinSize; Options and Payload additionally need
// the data offset to fit, which is what Valid checks. Receive paths call Valid
// once and then use the accessors freely.
type TCP []byte

// Valid reports whether t holds a fixed header whose data offset is at least
// 20 bytes and does not run past the end of t.
func (t TCP) Valid() bool {
	if len(t) < TCPMinSize {
		return false
	}
	off := t.DataOffset()
	return off >= TCPMinSize && off <= len(t)
}

func (t TCP) SrcPort() uint16  { return binary.BigEndian.Uint16(t[0:]) }
func (t TCP) DstPort() uint16  { return binary.BigEndian.Uint16(t[2:]) }
func (t TCP) Seq() uint32      { return binary.BigEndian.Uint32(t[4:]) }
func (t TCP) Ack() uint32      { return binary.BigEndian.Uint32(t[8:]) }
func (t TCP) Flags() uint8     { return t[13] }
func (t TCP) Window() uint16   { return binary.BigEndian.Uint16(t[14:]) }
func (t TCP) Checksum() uint16 { return binary.BigEndian.Uint16(t[16:]) }
func (t TCP) Urgent() uint16   { return binary.BigEndian.Uint16(t[18:]) }

// DataOffset returns the header length in bytes (the wire value times 4).
func (t TCP) DataOffset() int { return int(t[12]>>4) * 4 }

// Options returns the option bytes between the fixed header and the payload.
func (t TCP) Options() []byte { return t[TCPMinSize:t.DataOffset()] }

// Payload returns the bytes after the header.
func (t TCP) Payload() []byte { return t[t.DataOffset():] }

// SetChecksum stores a checksum as computed by TCPChecksum.
func (t TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(t[16:], c) }

// Fields are the fixed-header fields for Encode.
type Fields struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	DataOffset       uint8 // bytes, a multiple of 4 in [20, 60]
	Flags            uint8
	Window, Urgent   uint16
}

// Encode writes the 20-byte fixed header with a zero checksum. Options go
// into t[20:DataOffset] (PutSYNOptions / PutOptions); the checksum is set
// last with SetChecksum(TCPChecksum(...)). The reserved bits are written as
// zero, as Linux does.
func (t TCP) Encode(f *Fields) {
	_ = t[19]
	binary.BigEndian.PutUint16(t[0:], f.SrcPort)
	binary.BigEndian.PutUint16(t[2:], f.DstPort)
	binary.BigEndian.PutUint32(t[4:], f.Seq)
	binary.BigEndian.PutUint32(t[8:], f.Ack)
	t[12] = (f.DataOffset / 4) << 4
	t[13] = f.Flags
	binary.BigEndian.PutUint16(t[14:], f.Window)
	t[16], t[17] = 0, 0
	binary.BigEndian.PutUint16(t[18:], f.Urgent)
}
