package tcp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp/header"
)

func FuzzParseSegment(f *testing.F) {
	f.Add([]byte{0, 80, 0x9c, 0x40, 0, 0, 0x13, 0x88, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{0, 80, 0x9c, 0x40, 0, 0, 0x13, 0x88, 0, 0, 0, 0, 0x70, 0x02, 0xff, 0xff, 0, 0, 0, 0, 2, 4, 5, 0xb4, 4, 2, 1, 1})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Segment
		if err := ParseSegment(b, &s); err != nil {
			return
		}
		if len(s.Payload) > len(b) {
			t.Fatal("payload beyond the segment")
		}
	})
}

// FuzzConnInput drives an established connection (with data in flight and
// out-of-order data queued) with arbitrary segments: it must never panic
// and its sequence invariants must hold.
func FuzzConnInput(f *testing.F) {
	f.Add(uint32(0), uint32(0), uint8(fA), uint16(1000), uint16(10), uint8(0), []byte{1, 2, 3})
	f.Add(uint32(1448), uint32(2000), uint8(fA|fF), uint16(0), uint16(0), uint8(2), []byte{})
	f.Add(uint32(0xfffff000), uint32(5000), uint8(fR), uint16(1), uint16(3000), uint8(4), []byte{9})
	f.Add(uint32(3000), uint32(1), uint8(fS|fA), uint16(7), uint16(1), uint8(1), []byte{7, 7})
	f.Fuzz(func(t *testing.T, dseq, dack uint32, flags uint8, win, tsDelta uint16, nsack uint8, data []byte) {
		h := newHarness(t)
		h.passive(linuxSYN(100))
		c := h.c
		c.Write(payload(20000, 0), h.now, h.e)
		h.send(mkSeg(rcv0+3000, snd0, fA, 1000, payload(500, 1), tsOpt(101, 1)))
		o := &header.Options{HasTS: tsDelta%3 != 0, TSVal: 100 + uint32(tsDelta) - 500, TSEcr: 1}
		for i := range min(int(nsack), 4) {
			s := snd0 + dack + uint32(i)*1448
			o.SACK[i] = header.SACKBlock{Start: s, End: s + uint32(binary.LittleEndian.Uint16(append(data, 0, 0)))}
			o.NumSACK++
		}
		seg := mkSeg(rcv0+dseq, snd0+dack, flags, win, data, o)
		c.Input(seg, h.now, h.e)
		h.now += Time(time.Duration(tsDelta) * time.Millisecond)
		c.OnTimer(h.now, h.e)
		c.Read(make([]byte, 100000), h.now, h.e)
		if c.State() != StateClose {
			if after(c.sndUna, c.sndNxt) || after(c.sndNxt, c.writeSeq) {
				t.Fatalf("snd_una %d snd_nxt %d write_seq %d", c.sndUna, c.sndNxt, c.writeSeq)
			}
			if c.sbuf.n != int(c.dataEnd()-c.sndUna) && c.sndUna != c.writeSeq {
				t.Fatalf("send ring %d bytes, sequence space %d", c.sbuf.n, c.dataEnd()-c.sndUna)
			}
			fin := uint32(0)
			if c.finRcvd {
				fin = 1
			}
			if before(c.rcvNxt, c.copiedSeq) || c.rbuf.n != int(c.rcvNxt-c.copiedSeq-fin) {
				t.Fatalf("receive ring %d, rcv_nxt-copied %d", c.rbuf.n, c.rcvNxt-c.copiedSeq)
			}
		}
	})
}
