package cc

import (
	"encoding/binary"
	"testing"
)

// FuzzAlgorithms drives both algorithms with arbitrary sender states and
// hook sequences: whatever the engine feeds them, they must not panic,
// hang, or grow cwnd past the clamp.
func FuzzAlgorithms(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 0, 4, 1})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 1 {
			return
		}
		alg, _ := New(Names()[int(b[0])%len(Names())])
		s := Sender{Cwnd: 10, SSThresh: InfiniteSSThresh, CwndClamp: ^uint32(0)}
		alg.Init(&s, 0)
		now := int64(0)
		u32 := func() uint32 {
			if len(b) < 4 {
				return 0
			}
			v := binary.LittleEndian.Uint32(b)
			b = b[4:]
			return v
		}
		b = b[1:]
		for len(b) > 0 {
			op := b[0]
			b = b[1:]
			now += int64(op) * 997_000
			switch op % 8 {
			case 0:
				s.Cwnd = u32()
			case 1:
				s.SSThresh = alg.SSThresh(&s)
			case 2:
				before := s.Cwnd
				s.CwndLimited = op&0x10 != 0
				alg.CongAvoid(&s, u32(), u32(), now)
				if s.CwndClamp != 0 && s.Cwnd > max(before, s.CwndClamp) {
					t.Fatalf("cwnd %d grew past clamp %d", s.Cwnd, s.CwndClamp)
				}
			case 3:
				s.SndUna += u32() % 100000
				alg.PktsAcked(&s, 1, int64(int32(u32())), now)
			case 4:
				alg.SetState(&s, CAState(op>>4%5), now)
			case 5:
				s.LSndTime = now - int64(u32())*1000
				alg.CwndEvent(&s, CwndEvent(op>>4%6), now)
			case 6:
				s.Cwnd = alg.UndoCwnd(&s)
			case 7:
				s.CwndClamp = u32()
				s.SndNxt += u32()
			}
		}
	})
}
