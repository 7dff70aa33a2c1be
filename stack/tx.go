package stack

import (
	"sync"
	"sync/atomic"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
)

// txQueue is a transmit queue: a FIFO in front of the device, written by
// one goroutine at a time (the role of a qdisc and its
// __QDISC_STATE_RUNNING bit).
//
// Why it exists: the engine runs under a connection's lock, but the device
// write happens after every lock is released, on whichever goroutine ran
// the engine (a worker, an API call, the timer goroutine). If each of them
// wrote its own packets, an ACK built by a worker before a FIN built by
// Close could reach the wire after it, and the peer would see a
// connection's segments out of order. So a batch hands its finished
// packets to this queue while it still holds the connection's lock
// (commit): the queue's order is then each connection's build order. After
// the locks are released the batch kicks the queue; the goroutine that
// wins the busy flag writes everything queued, in order, and the others
// return at once, their packets written by the winner.
//
// A stack with workers has one queue per worker, and a packet goes to the
// queue its 4-tuple's flow hash selects, the same hash that steers the
// flow's input to a worker: every packet of a connection (and of the
// TIME-WAIT record or reset that follows it on the same tuple) shares one
// queue, so their order holds, while different flows' packets are
// written in parallel, as concurrent TUN writes allow. Usually a worker
// ends up writing its own flows' queue. Packets of different flows may
// leave in another order than they were built. A Manual stack has a
// single queue: its output order is its build order, deterministic.
//
// Buffers move, they are not copied: a batch gives its packet buffers to
// the queue and takes spare ones from the queue's free list in the same
// critical section, and the writer returns written buffers to that list,
// so the steady state allocates nothing.
type txQueue struct {
	mu   sync.Mutex // guards q and free; never held across a device write
	q    [][]byte   // finished IP packets, oldest first
	free [][]byte   // empty packet buffers (full length) for batches

	// busy is held by the goroutine writing to the device. Only its holder
	// touches out.
	busy atomic.Bool
	out  [][]byte // the packets being written, swapped with q

	maxFree int // free list bound, set by initTx

	_ [64]byte // queues sit side by side in a slice: no false sharing
}

// initTx creates the transmit queues: one per worker (at most 64, the
// width of batch.kick), one in Manual mode.
func (s *Stack) initTx(o *Options) {
	n := 1
	if !o.Manual {
		n = min(max(o.workers(), 1), 64)
	}
	s.tx = make([]txQueue, n)
	// Keep at most txFreeBytes of idle buffers per queue (1500-byte MTU:
	// ~2700 buffers, more than a burst of the largest windows needs).
	maxFree := max(txFreeBytes/(ipv4.MinSize+s.mtu), 64)
	for i := range s.tx {
		s.tx[i].maxFree = maxFree
	}
}

const (
	// maxTxQueue bounds the packets waiting for the device, like a qdisc
	// limit; beyond it packets are dropped (IpOutDiscards) and the engine's
	// retransmission recovers. TCP's own windows keep it far below this.
	maxTxQueue = 8192
	// txFreeBytes bounds the idle buffers a queue keeps for reuse.
	txFreeBytes = 4 << 20
	// txChunk is the most packets handed to one device Write, so buffers
	// come back to the free list, and a synchronous device can move them
	// on, while a long queue is still being written.
	txChunk = 128
)

// push appends pkts to the queue, in order, and moves up to len(pkts)
// spare buffers from the free list to *spare. It is called with the lock
// of the connection the packets belong to held (see batch.commit), which
// is what makes the queue's order each connection's build order. Packets
// over the queue limit are dropped and their buffers go back to *spare.
func (t *txQueue) push(pkts [][]byte, spare *[][]byte, m *metrics.Counters) {
	t.mu.Lock()
	room := maxTxQueue - len(t.q)
	if room < len(pkts) {
		drop := pkts[max(room, 0):]
		for _, p := range drop {
			*spare = append(*spare, p[:cap(p)])
		}
		m.Add(metrics.IpOutDiscards, uint64(len(drop)))
		pkts = pkts[:max(room, 0)]
	}
	t.q = append(t.q, pkts...)
	n := min(len(pkts), len(t.free))
	if n > 0 {
		k := len(t.free) - n
		*spare = append(*spare, t.free[k:]...)
		clear(t.free[k:])
		t.free = t.free[:k]
	}
	t.mu.Unlock()
}

// kickTx writes queue i to the device unless another goroutine is doing
// so; in that case the packets pushed before this call are written by
// that goroutine, in order, before it lets go of the queue. No connection
// or table lock may be held.
func (s *Stack) kickTx(i int) {
	t := &s.tx[i]
	for t.busy.CompareAndSwap(false, true) {
		t.drain(s)
		t.busy.Store(false)
		// A push that came after the last look at the queue but before
		// busy was cleared found the flag set and left its packets to
		// us: look again (no lost wake-up).
		t.mu.Lock()
		empty := len(t.q) == 0
		t.mu.Unlock()
		if empty {
			return
		}
	}
}

// drain writes queued packets until the queue is empty. busy is held.
func (t *txQueue) drain(s *Stack) {
	for {
		t.mu.Lock()
		if len(t.q) == 0 {
			t.mu.Unlock()
			return
		}
		// Take the whole queue by swapping the two slices: pushes go on
		// into the other one while we write.
		t.q, t.out = t.out[:0], t.q
		t.mu.Unlock()
		for pkts := t.out; len(pkts) > 0; {
			n := min(len(pkts), txChunk)
			s.output(pkts[:n])
			t.mu.Lock()
			for i, p := range pkts[:n] {
				if len(t.free) < t.maxFree {
					t.free = append(t.free, p[:cap(p)])
				}
				pkts[i] = nil
			}
			t.mu.Unlock()
			pkts = pkts[n:]
		}
	}
}

// txIdle reports whether no packet is waiting for or being written to the
// device (tests: a synchronous link is quiet only when both are).
func (s *Stack) txIdle() bool {
	for i := range s.tx {
		t := &s.tx[i]
		if t.busy.Load() {
			return false
		}
		t.mu.Lock()
		empty := len(t.q) == 0
		t.mu.Unlock()
		if !empty || t.busy.Load() {
			return false
		}
	}
	return true
}
