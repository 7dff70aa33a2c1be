package tun

import (
	"math/rand/v2"
	"time"
)

// FaultDirStats counts what the fault injector did to one direction.
type FaultDirStats struct {
	Packets    uint64 // packets offered to the injector
	Dropped    uint64 // dropped by the Loss rate
	Duplicated uint64 // packets sent twice
	Reordered  uint64 // packets held back behind their successor
	Delayed    uint64 // packet copies that waited in the delay queue
	Overflow   uint64 // copies dropped because Limit packets were already held
	Delivered  uint64 // copies handed on (to Read's caller or the device)
}

// FaultStats holds the injector's counters for both directions.
type FaultStats struct {
	In, Out FaultDirStats
}

// faultQueue is one direction of a Faulty device: the random decisions, a
// fixed pool of packet slots and a min-heap of slots ordered by release
// time. Everything is allocated up front (slot buffers grow once to the
// largest packet they carry), so steady-state traffic does not allocate.
//
// All fields are guarded by the owning Faulty's per-direction mutex.
type faultQueue struct {
	f    Faults
	rng  *rand.Rand
	hold time.Duration

	bufs [][]byte
	when []time.Duration // release time, as an offset from the Faulty's origin
	seq  []uint64        // FIFO among equal release times
	free []int32
	heap []int32

	nextSeq   uint64
	held      int32 // slot held back for reordering, or -1
	heldWhen  time.Duration
	heldUntil time.Duration

	st FaultDirStats
}

func (q *faultQueue) init(f Faults, seed, stream uint64, limit int, hold time.Duration) {
	q.f = f
	q.rng = rand.New(rand.NewPCG(seed, stream))
	q.hold = hold
	q.bufs = make([][]byte, limit)
	q.when = make([]time.Duration, limit)
	q.seq = make([]uint64, limit)
	q.free = make([]int32, limit)
	for i := range q.free {
		q.free[i] = int32(limit - 1 - i)
	}
	q.heap = make([]int32, 0, limit)
	q.held = -1
}

// admit applies the faults to one packet arriving at now. It draws the same
// number of random values for every packet, so changing one rate does not
// shift the decisions made for the others.
func (q *faultQueue) admit(pkt []byte, now time.Duration) {
	q.st.Packets++
	uLoss, uDup, uReorder, uJitter := q.rng.Float64(), q.rng.Float64(), q.rng.Float64(), q.rng.Uint64()
	if uLoss < q.f.Loss {
		q.st.Dropped++
		return
	}
	delay := q.f.Delay
	if j := q.f.Jitter; j > 0 {
		delay += time.Duration(uJitter%uint64(2*j+1)) - j
		if delay < 0 {
			delay = 0
		}
	}
	copies := 1
	if uDup < q.f.Duplicate {
		copies = 2
		q.st.Duplicated++
	}
	for c := range copies {
		if len(q.free) == 0 {
			q.st.Overflow++
			continue
		}
		s := q.free[len(q.free)-1]
		q.free = q.free[:len(q.free)-1]
		q.bufs[s] = append(q.bufs[s][:0], pkt...)
		if delay > 0 {
			q.st.Delayed++
		}
		when := now + delay
		if c == 0 && q.held < 0 && uReorder < q.f.Reorder {
			q.held, q.heldWhen, q.heldUntil = s, when, when+q.hold
			q.st.Reordered++
			continue
		}
		q.push(s, when)
		if c == 0 && q.held >= 0 {
			// This packet overtook the held one; release it right behind.
			q.push(q.held, max(q.heldWhen, when))
			q.held = -1
		}
	}
}

// next returns the earliest time something becomes due, if anything waits.
func (q *faultQueue) next() (time.Duration, bool) {
	t, ok := time.Duration(0), false
	if len(q.heap) > 0 {
		t, ok = q.when[q.heap[0]], true
	}
	if q.held >= 0 && (!ok || q.heldUntil < t) {
		t, ok = q.heldUntil, true
	}
	return t, ok
}

// pop removes and returns the first slot due at now, or -1. The caller
// hands the slot back with release once its bytes are consumed.
func (q *faultQueue) pop(now time.Duration) int32 {
	if q.held >= 0 && q.heldUntil <= now {
		q.push(q.held, q.heldWhen)
		q.held = -1
	}
	if len(q.heap) == 0 || q.when[q.heap[0]] > now {
		return -1
	}
	s := q.heap[0]
	last := len(q.heap) - 1
	q.heap[0] = q.heap[last]
	q.heap = q.heap[:last]
	q.down(0)
	q.st.Delivered++
	return s
}

func (q *faultQueue) release(s int32) { q.free = append(q.free, s) }

// pending is the number of packets held (delayed or reordered).
func (q *faultQueue) pending() int {
	n := len(q.heap)
	if q.held >= 0 {
		n++
	}
	return n
}

func (q *faultQueue) push(s int32, when time.Duration) {
	q.when[s] = when
	q.seq[s] = q.nextSeq
	q.nextSeq++
	q.heap = append(q.heap, s)
	q.up(len(q.heap) - 1)
}

func (q *faultQueue) less(i, j int) bool {
	a, b := q.heap[i], q.heap[j]
	if q.when[a] != q.when[b] {
		return q.when[a] < q.when[b]
	}
	return q.seq[a] < q.seq[b]
}

func (q *faultQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.heap[i], q.heap[p] = q.heap[p], q.heap[i]
		i = p
	}
}

func (q *faultQueue) down(i int) {
	n := len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.heap[i], q.heap[m] = q.heap[m], q.heap[i]
		i = m
	}
}
