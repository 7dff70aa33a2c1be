package header

import "testing"

func TestFormatOptions(t *testing.T) {
	syn := make([]byte, 40)
	n := PutSYNOptions(syn, &Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 100, HasWScale: true, WScale: 7})
	est := make([]byte, 40)
	m := PutOptions(est, &Options{HasTS: true, TSVal: 5, TSEcr: 6, NumSACK: 2, SACK: [4]SACKBlock{{1000, 2000}, {3000, 4000}}})
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{syn[:n], "mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7"},
		{est[:m], "nop,nop,TS val 5 ecr 6,nop,nop,sack 2 {1000:2000}{3000:4000}"},
		{nil, ""},
		{[]byte{1, 0, 9}, "nop,eol"},
		{[]byte{30, 4, 0, 0, 2, 3, 1, 1}, "opt-30:4,opt-2:3,nop"},
		{[]byte{2, 4, 5}, "bad opt"},
		{[]byte{1, 7}, "nop,bad opt"},
	} {
		if got := FormatOptions(tc.b); got != tc.want {
			t.Errorf("% x: got %q want %q", tc.b, got, tc.want)
		}
	}
}
