// Package wheel is a hierarchical timing wheel with intrusive entries.
//
// The wheel has 11 levels of 64 slots. Level 0 slots are one tick wide,
// level l slots are 64^l ticks wide, so 66 bits of tick numbers are covered
// and every int64 time fits without an overflow list. An entry is filed at
// the level of the highest 6-bit group in which its expiry tick differs from
// the wheel's current tick; when the current tick reaches the start of a
// higher-level slot, that slot is cascaded (its entries are re-filed at lower
// levels). Each entry therefore moves at most 10 times in its life and
// expires in the exact tick it was scheduled for.
//
// Granularity: an entry scheduled for time w (nanoseconds) is due in tick
// ceil(w/tick). It is returned by the first Advance(now) with
// now >= ceil(w/tick)*tick: never before w, and less than one tick after w
// when Advance is called at least once per tick. This is finer than the
// kernel's non-cascading wheel (TIMER-4), which may fire up to 12.5% of the
// timeout late; callers that need the kernel's rounding can add it to when.
//
// Advance costs O(levels + expired + cascaded + occupied slots passed): empty
// slots are skipped with per-level occupancy bitmaps, so a jump of hours costs
// no more than a jump of one tick. Nothing is allocated after New except the
// growth of the caller's out slice. A Wheel is not safe for concurrent use;
// the caller serializes all calls.
//
// Written by hand because it is on the hot path of every connection and
// TIME-WAIT record: the Go runtime's timers cost a goroutine wake-up and an
// allocation each, and the general-purpose wheel libraries call back under
// their own lock instead of returning expired entries without allocating.
package wheel

import (
	"fmt"
	"math/bits"
	"reflect"
	"unsafe"
)

const (
	slotBits = 6
	slots    = 1 << slotBits // slots per level
	slotMask = slots - 1
	levels   = 11 // 11*6 = 66 bits >= 63 bits of a non-negative int64 tick
)

// Entry is the wheel's intrusive link. It must be the first field of T
// (checked by New), so that the wheel gets from an entry back to its owner
// without storing a pointer: 24 bytes per entry in total. The zero value is
// an unscheduled entry.
type Entry[T any] struct {
	next, prev *Entry[T] // circular slot list through the wheel's sentinel; nil when unscheduled
	when       int64     // requested expiry, nanoseconds
}

// Scheduled reports whether e is in a wheel and has not yet been returned by
// Advance or cancelled.
func (e *Entry[T]) Scheduled() bool { return e.next != nil }

// When returns the expiry time e was last scheduled for (kept after expiry).
func (e *Entry[T]) When() int64 { return e.when }

// Owner returns the T whose first field is e.
func (e *Entry[T]) Owner() *T {
	// Valid because New checked that Entry[T] sits at offset 0 of T, and
	// entries only come from the Entry field of a live T.
	return (*T)(unsafe.Pointer(e))
}

func (e *Entry[T]) unlink() {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.next, e.prev = nil, nil
}

// Wheel is a hierarchical timing wheel for entries embedded in T.
// It must not be copied after New (its slot heads are self-referential).
type Wheel[T any] struct {
	tick int64 // nanoseconds per tick, > 0
	cur  int64 // first tick not yet processed by Advance
	n    int   // scheduled entries
	// occupied has bit s of word l set when slot (l, s) may hold entries.
	// Bits are set eagerly on insert and cleared lazily when a scan finds the
	// slot empty, so Cancel never needs to know an entry's slot.
	occupied [levels]uint64
	heads    [levels][slots]Entry[T] // sentinels of circular lists
}

// New returns a wheel with the given tick (nanoseconds, > 0) whose clock
// starts at now. It panics if T does not have Entry[T] as its first field,
// a programming error caught at construction rather than per operation.
func New[T any](tick, now int64) *Wheel[T] {
	if tick <= 0 {
		panic("wheel: tick must be positive")
	}
	rt := reflect.TypeFor[T]()
	if rt.Kind() != reflect.Struct || rt.NumField() == 0 ||
		rt.Field(0).Type != reflect.TypeFor[Entry[T]]() || rt.Field(0).Offset != 0 {
		panic(fmt.Sprintf("wheel: %v must have wheel.Entry[%v] as its first field", rt, rt))
	}
	w := &Wheel[T]{tick: tick, cur: floorDiv(max(now, 0), tick)}
	for l := range w.heads {
		for s := range w.heads[l] {
			h := &w.heads[l][s]
			h.next, h.prev = h, h
		}
	}
	return w
}

// Tick returns the wheel's granularity in nanoseconds.
func (w *Wheel[T]) Tick() int64 { return w.tick }

// Len returns the number of scheduled entries.
func (w *Wheel[T]) Len() int { return w.n }

// Schedule arms e to expire at when (nanoseconds on the caller's clock),
// moving it if it is already scheduled. A time in the past expires at the
// next Advance. e must not be scheduled in a different wheel.
func (w *Wheel[T]) Schedule(e *Entry[T], when int64) {
	if e.next != nil {
		e.unlink()
		w.n--
	}
	e.when = when
	w.insert(e, w.dueTick(when))
	w.n++
}

// Cancel disarms e. It reports whether e was scheduled.
func (w *Wheel[T]) Cancel(e *Entry[T]) bool {
	if e.next == nil {
		return false
	}
	e.unlink()
	w.n--
	return true
}

// insert files e for tick t relative to w.cur.
func (w *Wheel[T]) insert(e *Entry[T], t int64) {
	if t < w.cur {
		t = w.cur
	}
	l := 0
	if x := uint64(t ^ w.cur); x >= slots {
		l = (bits.Len64(x) - 1) / slotBits
	}
	s := int(t>>(slotBits*l)) & slotMask
	h := &w.heads[l][s]
	e.prev, e.next = h.prev, h
	h.prev.next = e
	h.prev = e
	w.occupied[l] |= 1 << s
}

// nextTick returns the first tick at or after w.cur at which Advance has
// work: the start of the earliest occupied slot. Lower levels always hold
// earlier slots than higher ones (a level-l slot lies inside the current
// level-(l+1) slot, after the current tick), so the lowest occupied level
// decides.
func (w *Wheel[T]) nextTick() (int64, bool) {
	for l := 0; l < levels; l++ {
		for w.occupied[l] != 0 {
			shift := uint(slotBits * l)
			d := uint(w.cur>>shift) & slotMask
			m := w.occupied[l] >> d << d
			if m == 0 {
				// Bits below the current digit are stale (their slots were
				// emptied by cancellation): slots behind the clock are
				// never filled.
				w.occupied[l] = 0
				break
			}
			s := uint(bits.TrailingZeros64(m))
			if h := &w.heads[l][s]; h.next == h {
				w.occupied[l] &^= 1 << s
				continue
			}
			var base int64
			if shift+slotBits < 63 {
				base = w.cur >> (shift + slotBits) << (shift + slotBits)
			}
			start := base + int64(s)<<shift
			if start < w.cur { // only level 0 can be at the current digit
				start = w.cur
			}
			return start, true
		}
	}
	return 0, false
}

// Next returns the earliest time at which an entry may expire, so the caller
// can sleep until then; false when nothing is scheduled. It is a lower bound:
// when the earliest entries sit in a coarse slot, the returned time is that
// slot's start and a later Advance may return nothing but re-file entries.
func (w *Wheel[T]) Next() (int64, bool) {
	t, ok := w.nextTick()
	if !ok {
		return 0, false
	}
	if t > (1<<63-1)/w.tick {
		return 1<<63 - 1, true
	}
	return t * w.tick, true
}

// Advance moves the wheel's clock to now and appends every entry whose time
// has come to out, in expiry-tick order (no order within a tick). Returned entries are unscheduled; the caller may
// schedule them again. Moving the clock backwards does nothing.
func (w *Wheel[T]) Advance(now int64, out []*Entry[T]) []*Entry[T] {
	if now < 0 {
		return out
	}
	last := floorDiv(now, w.tick)
	for {
		t, ok := w.nextTick()
		if !ok || t > last {
			break
		}
		w.cur = t
		// Cascade every coarser slot that starts at t, top down, so the
		// entries land at finer levels (or in level 0 for tick t itself).
		for l := levels - 1; l >= 1; l-- {
			shift := uint(slotBits * l)
			if t&(1<<shift-1) != 0 {
				continue
			}
			s := uint(t>>shift) & slotMask
			if w.occupied[l]&(1<<s) == 0 {
				continue
			}
			w.occupied[l] &^= 1 << s
			h := &w.heads[l][s]
			for h.next != h {
				e := h.next
				e.unlink()
				w.insert(e, w.dueTick(e.when))
			}
		}
		s := uint(t) & slotMask
		w.occupied[0] &^= 1 << s
		h := &w.heads[0][s]
		for h.next != h {
			e := h.next
			e.unlink()
			w.n--
			out = append(out, e)
		}
		w.cur = t + 1
	}
	if last+1 > w.cur {
		w.cur = last + 1
	}
	return out
}

// dueTick is the first tick whose start is not before when. Times in the
// last partial tick before MaxInt64 map to the last whole tick, the only
// case where an entry can fire (by less than one tick) before its time.
func (w *Wheel[T]) dueTick(when int64) int64 {
	when = max(when, 0)
	if last := (1<<63 - 1) / w.tick; when > last*w.tick {
		return last
	}
	return ceilDiv(when, w.tick)
}

func floorDiv(a, b int64) int64 { return a / b } // a >= 0

func ceilDiv(a, b int64) int64 { // a >= 0
	q := a / b
	if q*b != a {
		q++
	}
	return q
}
