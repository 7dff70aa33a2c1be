package timewait

// Pool hands out Records from fixed-size chunks and names them by a 32-bit
// handle, so a table can map a 4-tuple to a 4-byte value instead of an
// 8-byte pointer: with map[Tuple]uint32 a record costs about 118 bytes
// including table and timer, against about 136 with map[Tuple]*Record (see
// BenchmarkMillionRecords). Records never move, so pointers from At stay
// valid until Free. Chunks are kept for reuse (the pool's size follows the
// peak number of records, bounded by tcp_max_tw_buckets). Not safe for
// concurrent use.
type Pool struct {
	chunks [][]Record
	free   []uint32
	n      int // handles ever issued
}

const (
	poolChunkShift = 10 // 1024 records (80 KiB) per chunk
	poolChunk      = 1 << poolChunkShift
)

// Alloc returns a zeroed record and its handle.
func (p *Pool) Alloc() (*Record, uint32) {
	var h uint32
	if k := len(p.free); k > 0 {
		h = p.free[k-1]
		p.free = p.free[:k-1]
	} else {
		if p.n == len(p.chunks)*poolChunk {
			p.chunks = append(p.chunks, make([]Record, poolChunk))
		}
		h = uint32(p.n)
		p.n++
	}
	r := p.At(h)
	*r = Record{}
	return r, h
}

// At returns the record of handle h.
func (p *Pool) At(h uint32) *Record { return &p.chunks[h>>poolChunkShift][h&(poolChunk-1)] }

// Free returns h to the pool. The record must no longer be scheduled.
func (p *Pool) Free(h uint32) {
	r := p.At(h)
	if r.Scheduled() {
		panic("timewait: Free of a scheduled record")
	}
	p.free = append(p.free, h)
}

// Len returns the number of records in use.
func (p *Pool) Len() int { return p.n - len(p.free) }
