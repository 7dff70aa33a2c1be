package tcp

// ring is a byte ring buffer of a logical capacity (the socket buffer
// size) whose storage is allocated on demand: nothing until the first
// byte, then powers of two up to the capacity, as the bytes held need it.
// A short request/response connection thus touches a few KiB instead of
// two full socket buffers (Linux's sk_buffs are allocated on demand too),
// while a bulk connection reaches its final storage after a handful of
// doublings and never allocates again. The send ring holds [snd_una,
// write_seq); the receive ring starts at copied_seq and also stores
// out-of-order bytes at their offset, so nothing is copied twice.
type ring struct {
	buf  []byte // storage; len(buf) <= size
	size int    // logical capacity
	head int    // index in buf of the byte at offset 0
	n    int    // bytes held contiguously from head
}

// minRingAlloc is the first storage allocation of a ring.
const minRingAlloc = 1024

func newRing(size int) ring { return ring{size: size} }

func (r *ring) cap() int  { return r.size }
func (r *ring) free() int { return max(r.size-r.n, 0) }

// grow raises the logical capacity to size (never shrinks); storage
// follows only when bytes need it.
func (r *ring) grow(size int) {
	if size > r.size {
		r.size = size
	}
}

// resize sets the logical capacity, possibly below the bytes held (they
// stay; nothing more fits until they drain below it). Storage larger than
// a reduced capacity stays; new bytes only go to offsets below it.
func (r *ring) resize(size int) { r.size = size }

// reserve makes offsets [0, end) addressable, end <= size. The content of
// the whole storage (also bytes beyond n, which hold out-of-order data)
// keeps its offsets.
func (r *ring) reserve(end int) {
	if end <= len(r.buf) {
		return
	}
	nl := max(len(r.buf), minRingAlloc)
	for nl < end {
		nl <<= 1
	}
	nl = min(nl, r.size)
	nb := make([]byte, nl)
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
	if off >= r.size {
		return 0
	}
	if len(p) > r.size-off {
		p = p[:r.size-off]
	}
	if len(p) == 0 {
		return 0
	}
	r.reserve(off + len(p))
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
	if k == 0 {
		return
	}
	r.n -= k
	r.head += k
	if r.head >= len(r.buf) {
		r.head -= len(r.buf)
	}
}

// seedRings gives both rings their first storage from one allocation the
// first time either needs some, so a request/response connection costs
// the Conn and one chunk. A ring that is then outgrown leaves its half to
// the other ring's chunk until that one grows too.
func (c *Conn) seedRings() {
	if c.sbuf.buf != nil || c.rbuf.buf != nil || c.sbuf.size < minRingAlloc || c.rbuf.size < minRingAlloc {
		return
	}
	chunk := make([]byte, 2*minRingAlloc)
	c.sbuf.buf = chunk[:minRingAlloc:minRingAlloc]
	c.rbuf.buf = chunk[minRingAlloc:]
}
