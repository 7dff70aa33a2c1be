package wheel

// List is an unordered intrusive set of entries sharing Entry's links, for
// owners that keep entries in buckets of their own (such as the Linux 3.10
// death row's cells) instead of at a time. An entry is in at most one Wheel
// or List at a time; Scheduled reports true while it is in a List. The zero
// List is empty and ready; it must not be copied after first use.
type List[T any] struct {
	head Entry[T] // sentinel; nil links until first use
	n    int
}

// Len returns the number of entries in l.
func (l *List[T]) Len() int { return l.n }

// Push adds e (which must not be scheduled anywhere) to l, recording when
// for e.When (the list itself ignores it).
func (l *List[T]) Push(e *Entry[T], when int64) {
	e.when = when
	h := &l.head
	if h.next == nil {
		h.next, h.prev = h, h
	}
	e.prev, e.next = h.prev, h
	h.prev.next = e
	h.prev = e
	l.n++
}

// Remove takes e out of l; e must be in l (not checked). It reports whether
// e was linked at all.
func (l *List[T]) Remove(e *Entry[T]) bool {
	if e.next == nil {
		return false
	}
	e.unlink()
	l.n--
	return true
}

// Drain removes every entry, appending them to out in insertion order.
func (l *List[T]) Drain(out []*Entry[T]) []*Entry[T] {
	h := &l.head
	if h.next == nil {
		return out
	}
	for h.next != h {
		e := h.next
		e.unlink()
		out = append(out, e)
	}
	l.n = 0
	return out
}
