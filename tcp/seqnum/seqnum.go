// Package seqnum is TCP sequence-number arithmetic modulo 2^32, the kernel's
// before()/after() and the window tests built on them.
package seqnum

// Value is a sequence number (or a timestamp, which compares the same way).
type Value uint32

// Size is a length in sequence space.
type Size uint32

// LessThan is the kernel's before(v, w): (int32)(v-w) < 0.
func (v Value) LessThan(w Value) bool { return int32(v-w) < 0 }

// LessThanEq is !after(v, w).
func (v Value) LessThanEq(w Value) bool { return int32(v-w) <= 0 }

// GreaterThan is the kernel's after(v, w).
func (v Value) GreaterThan(w Value) bool { return int32(v-w) > 0 }

// GreaterThanEq is !before(v, w).
func (v Value) GreaterThanEq(w Value) bool { return int32(v-w) >= 0 }

// InRange reports a <= v < b in sequence space.
func (v Value) InRange(a, b Value) bool { return v-a < b-a }

// InWindow reports first <= v < first+size.
func (v Value) InWindow(first Value, size Size) bool { return v.InRange(first, first.Add(size)) }

// Add returns v+s.
func (v Value) Add(s Size) Value { return v + Value(s) }

// Size returns the distance from v to w (w-v).
func (v Value) Size(w Value) Size { return Size(w - v) }

// Max returns the later of v and w.
func Max(v, w Value) Value {
	if v.LessThan(w) {
		return w
	}
	return v
}

// Min returns the earlier of v and w.
func Min(v, w Value) Value {
	if v.LessThan(w) {
		return v
	}
	return w
}
