package header

import (
	"encoding/binary"
	"errors"
)

// Option kinds and the fixed lengths Linux insists on.
const (
	OptEOL      = 0
	OptNOP      = 1
	OptMSS      = 2
	OptWScale   = 3
	OptSACKPerm = 4
	OptSACK     = 5
	OptTS       = 8

	OptMSSLen      = 4
	OptWScaleLen   = 3
	OptSACKPermLen = 2
	OptTSLen       = 10
	OptSACKBase    = 2
	OptSACKPerBlk  = 8

	// MaxWScale is TCP_MAX_WSCALE: larger shifts are clamped to it (RFC 7323 2.3).
	MaxWScale = 14
	// MaxSACKBlocks is TCP_NUM_SACKS, the most blocks kept from one option.
	MaxSACKBlocks = 4
)

// Parse errors. They report an anomaly; see ParseOptions for what was kept.
var (
	// ErrOptionTruncated: an option's length byte is missing, below 2, or
	// runs past the end of the option space. Linux stops parsing there.
	ErrOptionTruncated = errors.New("tcp: option length runs past the header or is below 2")
	// ErrOptionLength: a known option has the wrong length (MSS != 4,
	// WS != 3, SACK_PERM != 2, TS != 10, SACK not 2+8n with n >= 1).
	// Linux ignores that option and goes on with the next.
	ErrOptionLength = errors.New("tcp: option has the wrong length for its kind")
)

// SACKBlock is one SACK range [Start, End).
type SACKBlock struct{ Start, End uint32 }

// Options is the parsed form of the options of one segment, and the input to
// the Put functions.
type Options struct {
	HasMSS bool
	MSS    uint16

	HasWScale bool
	WScale    uint8

	SACKPermitted bool

	HasTS        bool
	TSVal, TSEcr uint32

	NumSACK int
	SACK    [MaxSACKBlocks]SACKBlock
}

// ParseOptions parses the option bytes of a header (TCP.Options) into o,
// which it resets first. It accepts any order, EOL, NOP and unknown kinds
// (skipped by their length), and never allocates.
//
// It keeps exactly what Linux's tcp_parse_options keeps, so o is usable even
// when err != nil:
//   - a length byte that is missing, < 2 or runs past the end stops parsing:
//     options before it are kept, the rest is ignored (ErrOptionTruncated);
//   - a known kind with the wrong length is skipped by its length and
//     ignored, parsing goes on (ErrOptionLength);
//   - an MSS of 0 is ignored (HasMSS stays false), as Linux does;
//   - a window scale above 14 is clamped to 14 (Linux logs and clamps);
//   - a SACK option keeps at most 4 blocks; a later option of a kind
//     replaces an earlier one.
//
// Linux does not drop a segment over any of these, it only parses less; the
// error is returned so the caller can count the anomaly (and drop if it
// chooses to be stricter than Linux). The first anomaly is reported.
// Whether MSS/WS/SACK_PERM count outside a SYN is the caller's business.
func ParseOptions(b []byte, o *Options) error {
	*o = Options{}
	var err error
	for i := 0; i < len(b); {
		kind := b[i]
		switch kind {
		case OptEOL:
			return err
		case OptNOP:
			i++
			continue
		}
		if len(b)-i < 2 {
			return firstErr(err, ErrOptionTruncated)
		}
		size := int(b[i+1])
		if size < 2 || size > len(b)-i {
			return firstErr(err, ErrOptionTruncated)
		}
		v := b[i+2 : i+size]
		switch kind {
		case OptMSS:
			if size != OptMSSLen {
				err = firstErr(err, ErrOptionLength)
				break
			}
			if mss := binary.BigEndian.Uint16(v); mss != 0 {
				o.HasMSS, o.MSS = true, mss
			}
		case OptWScale:
			if size != OptWScaleLen {
				err = firstErr(err, ErrOptionLength)
				break
			}
			o.HasWScale, o.WScale = true, min(v[0], MaxWScale)
		case OptSACKPerm:
			if size != OptSACKPermLen {
				err = firstErr(err, ErrOptionLength)
				break
			}
			o.SACKPermitted = true
		case OptTS:
			if size != OptTSLen {
				err = firstErr(err, ErrOptionLength)
				break
			}
			o.HasTS = true
			o.TSVal = binary.BigEndian.Uint32(v)
			o.TSEcr = binary.BigEndian.Uint32(v[4:])
		case OptSACK:
			if size < OptSACKBase+OptSACKPerBlk || (size-OptSACKBase)%OptSACKPerBlk != 0 {
				err = firstErr(err, ErrOptionLength)
				break
			}
			n := min((size-OptSACKBase)/OptSACKPerBlk, MaxSACKBlocks)
			o.NumSACK = n
			for j := range n {
				o.SACK[j].Start = binary.BigEndian.Uint32(v[8*j:])
				o.SACK[j].End = binary.BigEndian.Uint32(v[8*j+4:])
			}
		}
		i += size
	}
	return err
}

func firstErr(have, next error) error {
	if have != nil {
		return have
	}
	return next
}

// SYNOptionsLen returns the bytes PutSYNOptions writes for o (a multiple of 4).
func SYNOptionsLen(o *Options) int {
	n := 0
	if o.HasMSS {
		n += 4
	}
	if o.HasTS {
		n += 12 // SACK_PERM,TS or NOP,NOP,TS
	} else if o.SACKPermitted {
		n += 4 // NOP,NOP,SACK_PERM
	}
	if o.HasWScale {
		n += 4 // NOP,WS
	}
	return n
}

// PutSYNOptions writes o in the layout of Linux's tcp_options_write for a SYN
// or SYN-ACK and returns the bytes written (SYNOptionsLen):
//
//	MSS; then "sackOK,TS" (SACK_PERM,TS) or NOP,NOP,TS or NOP,NOP,SACK_PERM;
//	then NOP,WS.
//
// SACK blocks are not sent on a SYN. b must hold SYNOptionsLen(o) bytes.
func PutSYNOptions(b []byte, o *Options) int {
	i := 0
	if o.HasMSS {
		b[i], b[i+1] = OptMSS, OptMSSLen
		binary.BigEndian.PutUint16(b[i+2:], o.MSS)
		i += 4
	}
	if o.HasTS {
		if o.SACKPermitted {
			b[i], b[i+1] = OptSACKPerm, OptSACKPermLen
		} else {
			b[i], b[i+1] = OptNOP, OptNOP
		}
		i += 2
		i += putTS(b[i:], o)
	} else if o.SACKPermitted {
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptNOP, OptSACKPerm, OptSACKPermLen
		i += 4
	}
	if o.HasWScale {
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptWScale, OptWScaleLen, o.WScale
		i += 4
	}
	return i
}

func putTS(b []byte, o *Options) int {
	_ = b[9]
	b[0], b[1] = OptTS, OptTSLen
	binary.BigEndian.PutUint32(b[2:], o.TSVal)
	binary.BigEndian.PutUint32(b[6:], o.TSEcr)
	return OptTSLen
}

// sackBlocksToSend is how many of o's SACK blocks fit beside the timestamp
// in 40 bytes: 4 without timestamps, 3 with (as tcp_established_options).
func sackBlocksToSend(o *Options) int {
	n := min(max(o.NumSACK, 0), MaxSACKBlocks)
	if o.HasTS {
		n = min(n, 3)
	}
	return n
}

// OptionsLen returns the bytes PutOptions writes for o (a multiple of 4).
func OptionsLen(o *Options) int {
	n := 0
	if o.HasTS {
		n += 12
	}
	if s := sackBlocksToSend(o); s > 0 {
		n += 4 + OptSACKPerBlk*s
	}
	return n
}

// PutOptions writes o in Linux's layout for a segment that is not a SYN:
// NOP,NOP,TS then NOP,NOP,SACK(blocks). MSS, WS and SACK_PERM are not sent.
// Blocks beyond what fits in 40 bytes are left out. b must hold
// OptionsLen(o) bytes; it returns the bytes written.
func PutOptions(b []byte, o *Options) int {
	i := 0
	if o.HasTS {
		b[i], b[i+1] = OptNOP, OptNOP
		i += 2
		i += putTS(b[i:], o)
	}
	if s := sackBlocksToSend(o); s > 0 {
		_ = b[i+3+OptSACKPerBlk*s]
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptNOP, OptSACK, byte(OptSACKBase+OptSACKPerBlk*s)
		i += 4
		for j := range s {
			binary.BigEndian.PutUint32(b[i:], o.SACK[j].Start)
			binary.BigEndian.PutUint32(b[i+4:], o.SACK[j].End)
			i += OptSACKPerBlk
		}
	}
	return i
}
