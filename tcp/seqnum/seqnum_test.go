package seqnum

import "testing"

func TestWrapComparisons(t *testing.T) {
	cases := []struct {
		a, b   Value
		lt, gt bool
	}{
		{1, 2, true, false},
		{2, 1, false, true},
		{0xffffffff, 0, true, false},
		{0, 0xffffffff, false, true},
		{5, 5, false, false},
		{0, 0x7fffffff, true, false},
	}
	for _, c := range cases {
		if got := c.a.LessThan(c.b); got != c.lt {
			t.Errorf("%d<%d = %v", c.a, c.b, got)
		}
		if got := c.a.GreaterThan(c.b); got != c.gt {
			t.Errorf("%d>%d = %v", c.a, c.b, got)
		}
	}
	if !Value(0xfffffff0).InWindow(0xffffffe0, 0x20) || Value(0x10).InWindow(0xffffffe0, 0x20) {
		t.Fatal("InWindow across wrap")
	}
	if Max(0xfffffff0, 3) != 3 || Min(0xfffffff0, 3) != 0xfffffff0 {
		t.Fatal("Max/Min across wrap")
	}
}
