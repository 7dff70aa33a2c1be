package timewait

import "testing"

func TestPool(t *testing.T) {
	var p Pool
	d := NewDeathRow(Linux618, t0, nil)
	hs := make(map[uint32]bool)
	for i := range 3000 {
		r, h := p.Alloc()
		if hs[h] || r.Scheduled() {
			t.Fatal("handle reused while live, or dirty record")
		}
		hs[h] = true
		r.Init(testTuple, SubstateTimeWait, uint32(i), 0, 0, 0, 0, 0, 0, 0, 0, t0)
		d.Schedule(r, 0, t0)
		if p.At(h) != r {
			t.Fatal("At")
		}
	}
	for _, r := range d.Expire(t0+TimeWaitLen, nil) {
		h := uint32(r.RcvNxt) // the test stored i == handle order
		if p.At(h) != r {
			t.Fatal("handle order")
		}
		p.Free(h)
	}
	if p.Len() != 0 {
		t.Fatal("Len")
	}
	r, h := p.Alloc()
	if h >= 3000 || r.RcvNxt != 0 {
		t.Fatal("free slot not reused or not zeroed")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Free of a scheduled record did not panic")
		}
	}()
	d.Schedule(r, 0, t0)
	p.Free(h)
}
