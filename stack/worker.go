package stack

import (
	"encoding/binary"
	"errors"
	"os"

	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp"
)

// pktBuf is one preallocated receive buffer, passed from the reader to a
// worker and back through the free list.
type pktBuf struct {
	data []byte
	n    int
}

// reader owns the device's receive side: it reads batches into buffers
// taken from free, and dispatches each packet to the worker its flow hash
// selects.
type reader struct {
	free chan *pktBuf
	bufs [][]byte
	size []int
	hold []*pktBuf
}

// worker processes the packets of the flows hashed to it, in order, with
// one batch for its output.
type worker struct {
	s     *Stack
	in    chan *pktBuf
	batch *batch
}

// workerBudget caps the packets a worker processes before it flushes its
// output, so one busy flow cannot delay the others' replies for long.
const workerBudget = 64

func (s *Stack) startWorkers(n int) {
	batchN := 64
	if s.dev != nil && s.dev.BatchSize() > 0 {
		batchN = s.dev.BatchSize()
	}
	nbuf := batchN + n*workerQueue
	s.rd.free = make(chan *pktBuf, nbuf)
	for range nbuf {
		s.rd.free <- &pktBuf{data: make([]byte, s.mtu)}
	}
	s.rd.bufs = make([][]byte, batchN)
	s.rd.size = make([]int, batchN)
	s.rd.hold = make([]*pktBuf, batchN)
	s.workers = make([]*worker, n)
	for i := range s.workers {
		w := &worker{s: s, in: make(chan *pktBuf, workerQueue), batch: newBatch(s)}
		s.workers[i] = w
		s.wg.Add(1)
		go w.loop()
	}
	s.wg.Add(1)
	go s.readLoop()
}

const workerQueue = 256

// stopWorkers is called after the device is closed: the reader's Read
// fails and it exits; workers exit when the stack's closed channel is.
func (s *Stack) stopWorkers() {}

func (s *Stack) readLoop() {
	defer s.wg.Done()
	r := &s.rd
	for {
		// Refill the read vector from the free list.
		for i := range r.hold {
			if r.hold[i] == nil {
				select {
				case p := <-r.free:
					r.hold[i] = p
				case <-s.closed:
					return
				}
			}
			r.bufs[i] = r.hold[i].data
		}
		n, err := s.dev.Read(r.bufs, r.size, 0)
		for i := 0; i < n; i++ {
			p := r.hold[i]
			r.hold[i] = nil
			p.n = r.size[i]
			w := s.workers[s.steer(p.data[:p.n])%uint64(len(s.workers))]
			select {
			case w.in <- p:
			case <-s.closed:
				return
			}
		}
		if err != nil {
			// A closed device ends the reader; other errors (a truncated
			// packet, a transient device error) lose at most this read.
			if s.isClosed() || errors.Is(err, os.ErrClosed) {
				return
			}
		}
	}
}

// steer hashes a raw packet to a worker: TCP segments by their 4-tuple
// (so a flow stays on one worker), anything else by its addresses.
func (s *Stack) steer(p []byte) uint64 {
	if len(p) < ipv4.MinSize || p[0]>>4 != 4 {
		return 0
	}
	ihl := int(p[0]&0x0f) * 4
	h := ipv4.IPv4(p)
	var k tcp.Tuple
	k.LocalAddr, k.RemoteAddr = h.Dst(), h.Src()
	if p[9] == ipv4.ProtoTCP && !h.IsFragment() && len(p) >= ihl+4 && ihl >= ipv4.MinSize {
		k.RemotePort = binary.BigEndian.Uint16(p[ihl:])
		k.LocalPort = binary.BigEndian.Uint16(p[ihl+2:])
	}
	return s.flowHash(&k)
}

func (w *worker) loop() {
	s := w.s
	defer s.wg.Done()
	for {
		var p *pktBuf
		select {
		case p = <-w.in:
		case <-s.closed:
			return
		}
		for i := 0; ; i++ {
			s.deliverIP(p.data[:p.n], w.batch, false)
			s.rd.free <- p
			if i+1 >= workerBudget {
				break
			}
			select {
			case p = <-w.in:
				continue
			default:
			}
			break
		}
		w.batch.flush()
	}
}
