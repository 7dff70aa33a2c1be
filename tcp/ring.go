package tcp

// ring is a byte ring buffer allocated once per connection (and regrown
// only when the buffer size is raised). The send ring holds [snd_una,
// write_seq); the receive ring starts at copied_seq and also stores
// out-of-order bytes at their offset, so nothing is copied twice.
type ring struct {
	buf  []byte
	head int // index of the first byte
	n    int // bytes held contiguously from head
}

func newRing(size int) ring { return ring{buf: make([]byte, size)} }

func (r *ring) cap() int  { return len(r.buf) }
func (r *ring) free() int { return len(r.buf) - r.n }

// grow reallocates to size bytes (never shrinks), keeping the content of
// the whole ring (also bytes beyond n, which hold out-of-order data).
func (r *ring) grow(size int) {
	if size <= len(r.buf) {
		return
	}
	nb := make([]byte, size)
	k := copy(nb, r.buf[r.head:])
	copy(nb[k:], r.buf[:r.head])
	r.buf, r.head = nb, 0
}

// write appends p after the held bytes; it returns how many fit.
func (r *ring) write(p []byte) int {
	k := r.writeAt(r.n, p)
	r.n += k
	return k
}

// writeAt stores p at offset off from head without changing n; it returns
// how many bytes fit inside the ring.
func (r *ring) writeAt(off int, p []byte) int {
	if off >= len(r.buf) {
		return 0
	}
	if len(p) > len(r.buf)-off {
		p = p[:len(r.buf)-off]
	}
	i := r.head + off
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	k := copy(r.buf[i:], p)
	copy(r.buf, p[k:])
	return len(p)
}

// readAt copies up to len(p) bytes starting at offset off into p.
func (r *ring) readAt(off int, p []byte) int {
	if off >= len(r.buf) {
		return 0
	}
	if len(p) > len(r.buf)-off {
		p = p[:len(r.buf)-off]
	}
	i := r.head + off
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	k := copy(p, r.buf[i:])
	copy(p[k:], r.buf)
	return len(p)
}

// discard drops k bytes from the front.
func (r *ring) discard(k int) {
	if k > r.n {
		k = r.n
	}
	r.n -= k
	r.head += k
	if r.head >= len(r.buf) {
		r.head -= len(r.buf)
	}
}
