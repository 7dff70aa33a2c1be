package stack

import "sync"

// loopback is the stack's "lo": packets addressed to one of the stack's own
// addresses (or 127.0.0.0/8) never reach the device; they are queued here
// and delivered by whichever goroutine flushes first. Draining is
// trampolined (one drainer at a time, FIFO), so a conversation with itself
// does not recurse and keeps its order.
type loopback struct {
	mu       sync.Mutex // guards the fields below
	q        [][]byte
	head     int      // q[head:] is pending
	free     [][]byte // recycled packet buffers
	draining bool
}

// maxLoopQueue bounds the queue like a device backlog; beyond it packets
// are dropped (and retransmission recovers), as netif_rx drops.
const maxLoopQueue = 4096

func isLoopbackAddr(a [4]byte) bool { return a[0] == 127 }

// push copies pkt into the queue.
func (l *loopback) push(pkt []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.q)-l.head >= maxLoopQueue {
		return false
	}
	var buf []byte
	if n := len(l.free); n > 0 {
		buf = l.free[n-1][:0]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
	}
	l.q = append(l.q, append(buf, pkt...))
	return true
}

// drain delivers queued packets until the queue is empty, unless another
// goroutine is already doing so.
func (s *Stack) drainLoopback() {
	l := &s.loop
	l.mu.Lock()
	if l.draining || l.head == len(l.q) {
		l.mu.Unlock()
		return
	}
	l.draining = true
	for l.head < len(l.q) {
		pkt := l.q[l.head]
		l.q[l.head] = nil
		l.head++
		if l.head == len(l.q) {
			l.q, l.head = l.q[:0], 0
		}
		l.mu.Unlock()
		b := s.getBatch()
		s.deliverIP(pkt, b, true)
		s.putBatch(b) // its loopback packets join the queue
		l.mu.Lock()
		if len(l.free) < 256 {
			l.free = append(l.free, pkt)
		}
	}
	l.draining = false
	l.mu.Unlock()
}

// isOwn reports whether dst is delivered through loopback.
func (s *Stack) isOwn(dst [4]byte) bool { return isLoopbackAddr(dst) || s.isLocal(dst) }
