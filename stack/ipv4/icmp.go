package ipv4

import (
	"encoding/binary"

	"github.com/ustack/ustack/tcp/header"
)

// ICMP types and codes the stack handles.
const (
	ICMPEchoReply       = 0
	ICMPDestUnreach     = 3
	ICMPEcho            = 8
	ICMPTimeExceeded    = 11
	ICMPCodePortUnreach = 3
)

// ICMPHeaderSize is the size of the ICMP header (type, code, checksum and
// the 4 bytes of id/seq or unused).
const ICMPHeaderSize = 8

// ICMP is a view over an ICMP message (header and data). The accessors need
// len(m) >= ICMPHeaderSize; ID and Seq are meaningful for echo messages.
type ICMP []byte

func (m ICMP) Type() uint8      { return m[0] }
func (m ICMP) Code() uint8      { return m[1] }
func (m ICMP) Checksum() uint16 { return binary.BigEndian.Uint16(m[2:]) }
func (m ICMP) ID() uint16       { return binary.BigEndian.Uint16(m[4:]) }
func (m ICMP) Seq() uint16      { return binary.BigEndian.Uint16(m[6:]) }
func (m ICMP) Payload() []byte  { return m[ICMPHeaderSize:] }

// Valid reports whether m holds a header and its checksum over the whole
// message is right (icmp_rcv: short -> IcmpInErrors, bad sum ->
// IcmpInCsumErrors and IcmpInErrors).
func (m ICMP) Valid() bool {
	return len(m) >= ICMPHeaderSize && header.Checksum(m, 0) == 0xffff
}

// ICMPFields are the echo header fields for Encode.
type ICMPFields struct {
	Type, Code uint8
	ID, Seq    uint16
}

// Encode writes the header and the checksum over all of m, so the data must
// be in m[ICMPHeaderSize:] before the call.
func (m ICMP) Encode(f *ICMPFields) {
	_ = m[ICMPHeaderSize-1]
	m[0], m[1], m[2], m[3] = f.Type, f.Code, 0, 0
	binary.BigEndian.PutUint16(m[4:], f.ID)
	binary.BigEndian.PutUint16(m[6:], f.Seq)
	binary.BigEndian.PutUint16(m[2:], ^header.Checksum(m, 0))
}
