package header

import (
	"bytes"
	"errors"
	"testing"
)

// Byte layouts as Linux's tcp_options_write emits them (tcpdump renderings
// in the names).
func TestPutSYNOptionsLinuxLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want []byte
	}{
		{"mss,sackOK,TS,nop,wscale", Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 0x01020304, TSEcr: 0, HasWScale: true, WScale: 7},
			[]byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7}},
		{"mss,nop,nop,TS,nop,wscale", Options{HasMSS: true, MSS: 1460, HasTS: true, TSVal: 5, TSEcr: 6, HasWScale: true, WScale: 14},
			[]byte{2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6, 1, 3, 3, 14}},
		{"mss,nop,nop,sackOK,nop,wscale", Options{HasMSS: true, MSS: 536, SACKPermitted: true, HasWScale: true, WScale: 0},
			[]byte{2, 4, 0x02, 0x18, 1, 1, 4, 2, 1, 3, 3, 0}},
		{"mss,nop,nop,sackOK", Options{HasMSS: true, MSS: 1460, SACKPermitted: true},
			[]byte{2, 4, 0x05, 0xb4, 1, 1, 4, 2}},
		{"mss", Options{HasMSS: true, MSS: 1460}, []byte{2, 4, 0x05, 0xb4}},
		{"none", Options{}, []byte{}},
		{"SACK blocks not sent on SYN", Options{HasMSS: true, MSS: 1, NumSACK: 1}, []byte{2, 4, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := SYNOptionsLen(&tc.o); n != len(tc.want) || n%4 != 0 {
				t.Fatalf("SYNOptionsLen=%d want %d", n, len(tc.want))
			}
			b := make([]byte, 40)
			n := PutSYNOptions(b, &tc.o)
			if !bytes.Equal(b[:n], tc.want) {
				t.Fatalf("got % x\nwant % x", b[:n], tc.want)
			}
		})
	}
}

func TestPutOptionsLinuxLayout(t *testing.T) {
	blk := [MaxSACKBlocks]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
	for _, tc := range []struct {
		name string
		o    Options
		want []byte
	}{
		{"nop,nop,TS", Options{HasTS: true, TSVal: 1, TSEcr: 2, HasMSS: true, MSS: 1, HasWScale: true, SACKPermitted: true},
			[]byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
		{"nop,nop,TS,nop,nop,sack 1", Options{HasTS: true, TSVal: 1, TSEcr: 2, NumSACK: 1, SACK: blk},
			[]byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
		{"TS leaves room for 3 blocks", Options{HasTS: true, NumSACK: 4, SACK: blk},
			[]byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 5, 26,
				0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6}},
		{"4 blocks without TS", Options{NumSACK: 4, SACK: blk},
			[]byte{1, 1, 5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
				0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8}},
		{"none", Options{}, []byte{}},
		{"negative NumSACK", Options{NumSACK: -1}, []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := OptionsLen(&tc.o); n != len(tc.want) || n%4 != 0 || n > MaxOptionsSize {
				t.Fatalf("OptionsLen=%d want %d", n, len(tc.want))
			}
			b := make([]byte, 40)
			n := PutOptions(b, &tc.o)
			if !bytes.Equal(b[:n], tc.want) {
				t.Fatalf("got % x\nwant % x", b[:n], tc.want)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	ts := []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		b    []byte
		want Options
		err  error
	}{
		{"empty", nil, Options{}, nil},
		{"any order", cat([]byte{1, 3, 3, 2}, ts, []byte{4, 2, 2, 4, 0x05, 0xb4}),
			Options{HasWScale: true, WScale: 2, HasTS: true, TSVal: 1, TSEcr: 2, SACKPermitted: true, HasMSS: true, MSS: 1460}, nil},
		{"EOL ends parsing", cat([]byte{2, 4, 1, 0, 0}, ts), Options{HasMSS: true, MSS: 256}, nil},
		{"EOL then garbage", []byte{0, 9, 9}, Options{}, nil},
		{"unknown skipped", cat([]byte{30, 4, 0xff, 0xff, 254, 2}, ts), Options{HasTS: true, TSVal: 1, TSEcr: 2}, nil},
		{"wscale clamped to 14", []byte{3, 3, 200}, Options{HasWScale: true, WScale: MaxWScale}, nil},
		{"mss 0 ignored", []byte{2, 4, 0, 0}, Options{}, nil},
		{"later option wins", []byte{2, 4, 0, 1, 2, 4, 0, 2}, Options{HasMSS: true, MSS: 2}, nil},
		{"sack 2 blocks", []byte{5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4},
			Options{NumSACK: 2, SACK: [4]SACKBlock{{1, 2}, {3, 4}}}, nil},
		{"sack 5 blocks keeps 4", cat([]byte{5, 42}, make([]byte, 40)), Options{NumSACK: 4}, nil},

		// Silly or partial lengths: Linux stops parsing, keeps what it had.
		{"len 0", cat(ts, []byte{2, 0, 5, 0xb4}), Options{HasTS: true, TSVal: 1, TSEcr: 2}, ErrOptionTruncated},
		{"len 1", []byte{30, 1, 2, 4, 5, 0xb4}, Options{}, ErrOptionTruncated},
		{"len past end", cat([]byte{2, 4, 0, 9}, []byte{8, 10, 0, 0, 0, 1}), Options{HasMSS: true, MSS: 9}, ErrOptionTruncated},
		{"kind without length", []byte{1, 1, 2}, Options{}, ErrOptionTruncated},
		{"unknown len past end", []byte{99, 4, 0}, Options{}, ErrOptionTruncated},

		// Wrong fixed lengths: Linux ignores the option and parses on.
		{"mss len 3", cat([]byte{2, 3, 5, 1}, ts), Options{HasTS: true, TSVal: 1, TSEcr: 2}, ErrOptionLength},
		{"mss len 5", []byte{2, 5, 5, 0xb4, 0, 3, 3, 1}, Options{HasWScale: true, WScale: 1}, ErrOptionLength},
		{"ws len 4", []byte{3, 4, 7, 0, 4, 2}, Options{SACKPermitted: true}, ErrOptionLength},
		{"ws len 2", []byte{3, 2}, Options{}, ErrOptionLength},
		{"sackperm len 3", []byte{4, 3, 0}, Options{}, ErrOptionLength},
		{"ts len 8", []byte{8, 8, 0, 0, 0, 1, 0, 0}, Options{}, ErrOptionLength},
		{"sack len 2", []byte{5, 2}, Options{}, ErrOptionLength},
		{"sack len 11", cat([]byte{5, 11}, make([]byte, 9)), Options{}, ErrOptionLength},
		{"first error reported", []byte{2, 3, 0, 3, 9}, Options{}, ErrOptionLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{HasMSS: true, MSS: 77, NumSACK: 3} // must be reset
			err := ParseOptions(tc.b, &o)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err=%v want %v", err, tc.err)
			}
			if o != tc.want {
				t.Fatalf("got %+v\nwant %+v", o, tc.want)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	o := Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 1, HasWScale: true, WScale: 7,
		NumSACK: 3, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}}}
	b := make([]byte, 40)
	seg := make(TCP, 1500)
	var p Options
	src, dst := [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8}
	n := testing.AllocsPerRun(100, func() {
		k := PutSYNOptions(b, &o)
		_ = ParseOptions(b[:k], &p)
		k = PutOptions(b, &o)
		_ = ParseOptions(b[:k], &p)
		_ = ParseOptions([]byte{2, 3, 0}, &p)
		seg.Encode(&Fields{DataOffset: 20})
		seg.SetChecksum(TCPChecksum(src, dst, seg))
		_ = VerifyTCPChecksum(src, dst, seg)
	})
	if n != 0 {
		t.Fatalf("%v allocs per run", n)
	}
}

func FuzzParseOptions(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7})
	f.Add([]byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{2, 0})
	f.Add([]byte{5, 255, 1})
	f.Add([]byte{3, 3, 255, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Options
		err := ParseOptions(b, &o)
		if err != nil && !errors.Is(err, ErrOptionTruncated) && !errors.Is(err, ErrOptionLength) {
			t.Fatalf("unexpected error %v", err)
		}
		if o.NumSACK < 0 || o.NumSACK > MaxSACKBlocks || o.WScale > MaxWScale || (o.HasMSS && o.MSS == 0) {
			t.Fatalf("out of range: %+v", o)
		}
		for _, syn := range []bool{true, false} {
			out := make([]byte, MaxOptionsSize)
			var n int
			if syn {
				if SYNOptionsLen(&o) > MaxOptionsSize {
					t.Fatal("SYN options too long")
				}
				n = PutSYNOptions(out, &o)
			} else {
				if OptionsLen(&o) > MaxOptionsSize {
					t.Fatal("options too long")
				}
				n = PutOptions(out, &o)
			}
			var o2 Options
			if err := ParseOptions(out[:n], &o2); err != nil {
				t.Fatalf("parse of our own options % x: %v", out[:n], err)
			}
			checkSame(t, &o, &o2, syn)
		}
	})
}
