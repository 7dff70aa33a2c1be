package tun

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// DefaultPipeQueueLen is the number of packets a Pipe direction holds before
// it drops, like a NIC ring or a qdisc limit.
const DefaultPipeQueueLen = 1024

// PipeConfig configures NewPipe.
type PipeConfig struct {
	MTU      int    // largest packet; 0 means 1500
	QueueLen int    // packets buffered per direction; 0 means DefaultPipeQueueLen
	NameA    string // labels returned by Name; default "pipe0a"/"pipe0b"
	NameB    string
}

// PipeStats counts what one end of a Pipe did with packets written to it by
// its peer (receive side) and by itself (send side).
type PipeStats struct {
	Sent      uint64 // packets this end queued toward its peer
	Received  uint64 // packets this end's Read/TryRead returned
	Dropped   uint64 // packets written toward this end while its queue was full or it was closed
	Truncated uint64 // packets cut short because the reader's buffer was smaller
}

// Pipe returns an in-memory linked pair of devices: packets written on a are
// read on b and vice versa. See NewPipe.
func Pipe(mtu int) (a, b Device) {
	pa, pb := NewPipe(PipeConfig{MTU: mtu})
	return pa, pb
}

// NewPipe returns the two ends of an in-memory link. Each direction is a
// bounded FIFO of preallocated packet slots: Write copies into a slot (the
// caller may reuse its buffer at once) and drops, counting, when the peer's
// queue is full, as a real device would; nothing allocates per packet.
//
// Closing one end makes that end's Read and Write return os.ErrClosed; the
// peer keeps working, and what it writes toward the closed end is dropped and
// counted, like transmitting on a link whose other side went down.
func NewPipe(cfg PipeConfig) (a, b *PipeEnd) {
	if cfg.MTU <= 0 {
		cfg.MTU = 1500
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultPipeQueueLen
	}
	if cfg.NameA == "" {
		cfg.NameA = "pipe0a"
	}
	if cfg.NameB == "" {
		cfg.NameB = "pipe0b"
	}
	a = &PipeEnd{name: cfg.NameA, mtu: cfg.MTU}
	b = &PipeEnd{name: cfg.NameB, mtu: cfg.MTU}
	a.rx.init(cfg.QueueLen, cfg.MTU)
	b.rx.init(cfg.QueueLen, cfg.MTU)
	a.peer, b.peer = b, a
	return a, b
}

// PipeEnd is one end of a Pipe. It implements Device and TryReader.
type PipeEnd struct {
	name string
	mtu  int
	peer *PipeEnd
	rx   pktRing // packets written by peer, waiting for our Read

	sent      atomic.Uint64
	received  atomic.Uint64
	dropped   atomic.Uint64
	truncated atomic.Uint64
}

// pktRing is a bounded FIFO of packet slots with a wake-up channel for one
// or more blocked readers.
type pktRing struct {
	mu     sync.Mutex // guards slots, lens, head, count, closed
	slots  [][]byte   // each cap mtu, allocated once
	lens   []int
	head   int
	count  int
	closed bool

	ready chan struct{} // 1-buffered: "the ring may be non-empty"
	done  chan struct{} // closed by Close
}

func (r *pktRing) init(n, mtu int) {
	backing := make([]byte, n*mtu)
	r.slots = make([][]byte, n)
	for i := range r.slots {
		r.slots[i] = backing[i*mtu : (i+1)*mtu : (i+1)*mtu]
	}
	r.lens = make([]int, n)
	r.ready = make(chan struct{}, 1)
	r.done = make(chan struct{})
}

func (r *pktRing) signal() {
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

// push copies pkt in; false means full or closed.
func (r *pktRing) push(pkt []byte) bool {
	r.mu.Lock()
	if r.closed || r.count == len(r.slots) {
		r.mu.Unlock()
		return false
	}
	i := (r.head + r.count) % len(r.slots)
	r.lens[i] = copy(r.slots[i], pkt)
	r.count++
	r.mu.Unlock()
	r.signal()
	return true
}

// pop moves up to len(bufs) packets out; truncated counts packets that did
// not fit their buffer.
func (r *pktRing) pop(bufs [][]byte, sizes []int, offset int) (n, truncated int, err error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, 0, os.ErrClosed
	}
	for n < len(bufs) && r.count > 0 {
		l := r.lens[r.head]
		c := copy(bufs[n][offset:], r.slots[r.head][:l])
		if c < l {
			truncated++
		}
		sizes[n] = c
		n++
		r.head = (r.head + 1) % len(r.slots)
		r.count--
	}
	more := r.count > 0
	r.mu.Unlock()
	if more {
		// Another reader may be parked; pass the wake-up on.
		r.signal()
	}
	return n, truncated, nil
}

func (r *pktRing) close() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.closed = true
	close(r.done)
	return true
}

// Read blocks until the peer has written at least one packet, then returns
// as many queued packets as fit in bufs. A packet longer than
// len(bufs[i])-offset is truncated (as a TUN read into a short buffer is)
// and counted in Stats().Truncated.
func (p *PipeEnd) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for {
		n, err := p.TryRead(bufs, sizes, offset)
		if n > 0 || err != nil || len(bufs) == 0 {
			return n, err
		}
		select {
		case <-p.rx.ready:
		case <-p.rx.done:
		}
	}
}

// TryRead is Read without blocking: (0, nil) means the queue is empty.
func (p *PipeEnd) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, tr, err := p.rx.pop(bufs, sizes, offset)
	if n > 0 {
		p.received.Add(uint64(n))
	}
	if tr > 0 {
		p.truncated.Add(uint64(tr))
	}
	return n, err
}

// Pending reports how many packets wait to be read on this end.
func (p *PipeEnd) Pending() int {
	p.rx.mu.Lock()
	defer p.rx.mu.Unlock()
	return p.rx.count
}

// Write queues copies of the packets toward the peer. A packet the peer has
// no room for is dropped and counted (in the peer's Stats().Dropped) but still
// counts as written, as with a real device; a packet larger than the MTU or
// empty is an error and stops the batch.
func (p *PipeEnd) Write(bufs [][]byte, offset int) (int, error) {
	if p.isClosed() {
		return 0, os.ErrClosed
	}
	for i, b := range bufs {
		pkt := b[offset:]
		if len(pkt) == 0 {
			return i, fmt.Errorf("tun: %s: empty packet: %w", p.name, errEmpty)
		}
		if len(pkt) > p.mtu {
			return i, fmt.Errorf("tun: %s: packet of %d bytes exceeds MTU %d: %w", p.name, len(pkt), p.mtu, ErrTooBig)
		}
		if p.peer.rx.push(pkt) {
			p.sent.Add(1)
		} else {
			p.peer.dropped.Add(1)
		}
	}
	return len(bufs), nil
}

func (p *PipeEnd) isClosed() bool {
	select {
	case <-p.rx.done:
		return true
	default:
		return false
	}
}

// BatchSize is a hint; any number of buffers works.
func (p *PipeEnd) BatchSize() int { return 64 }

// MTU returns the pipe's MTU.
func (p *PipeEnd) MTU() int { return p.mtu }

// Name returns the end's label.
func (p *PipeEnd) Name() string { return p.name }

// Close closes this end: pending and future Reads and Writes on it return
// os.ErrClosed and queued packets are discarded. Closing twice returns
// os.ErrClosed.
func (p *PipeEnd) Close() error {
	if !p.rx.close() {
		return os.ErrClosed
	}
	return nil
}

// Peer returns the other end of the pipe.
func (p *PipeEnd) Peer() *PipeEnd { return p.peer }

// Stats returns this end's counters.
func (p *PipeEnd) Stats() PipeStats {
	return PipeStats{
		Sent:      p.sent.Load(),
		Received:  p.received.Load(),
		Dropped:   p.dropped.Load(),
		Truncated: p.truncated.Load(),
	}
}

var (
	_ Device    = (*PipeEnd)(nil)
	_ TryReader = (*PipeEnd)(nil)
)
