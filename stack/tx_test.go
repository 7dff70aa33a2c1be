package stack

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
)

// recDev records the packets written to it and checks that writes never
// overlap (the transmit queue has one writer at a time).
type recDev struct {
	mu      sync.Mutex
	pkts    [][]byte
	writing atomic.Int32
	overlap atomic.Bool
	closed  chan struct{}
	// onWrite, if set, runs inside Write after the packets are recorded,
	// like a device that delivers synchronously.
	onWrite func(pkts [][]byte)
}

func newRecDev() *recDev { return &recDev{closed: make(chan struct{})} }

func (d *recDev) Read([][]byte, []int, int) (int, error) { <-d.closed; return 0, os.ErrClosed }
func (d *recDev) BatchSize() int                         { return 64 }
func (d *recDev) MTU() int                               { return 1500 }
func (d *recDev) Name() string                           { return "rec" }
func (d *recDev) Close() error                           { close(d.closed); return nil }

func (d *recDev) Write(bufs [][]byte, off int) (int, error) {
	if d.writing.Add(1) != 1 {
		d.overlap.Store(true)
	}
	d.mu.Lock()
	for _, b := range bufs {
		d.pkts = append(d.pkts, append([]byte(nil), b[off:]...))
	}
	d.mu.Unlock()
	d.writing.Add(-1)
	if d.onWrite != nil {
		d.onWrite(bufs)
	}
	return len(bufs), nil
}

func newTxStack(t testing.TB, dev *recDev) *Stack {
	t.Helper()
	o := DefaultOptions()
	o.Addrs = []netip.Addr{addrA}
	o.Clock = NewVirtualClock()
	o.Manual = true
	s, err := New(dev, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// txProto is an unassigned IP protocol number: the test packets carry a
// (flow, sequence) tag and nothing else.
const txProto = 253

var txDst = [4]byte{10, 0, 0, 9}

// emitTagged builds one packet tagged (flow, seq) in b; the flow number
// is its flow hash, so with n queues flow f goes to queue f%n.
func emitTagged(s *Stack, b *batch, flow, seq uint32) {
	p := b.Buffer(8)
	binary.BigEndian.PutUint32(p, flow)
	binary.BigEndian.PutUint32(p[4:], seq)
	b.finishFlow(s.addrs[0], txDst, txProto, 8, true, uint64(flow))
}

// withQueues gives a fresh Manual stack n transmit queues, as a stack with
// n workers has.
func withQueues(s *Stack, n int) {
	s.tx = make([]txQueue, n)
	for i := range s.tx {
		s.tx[i].maxFree = 1024
	}
}

func tagOf(pkt []byte) (flow, seq uint32) {
	p := ipv4.IPv4(pkt).Payload()
	return binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
}

// TestTxQueue_OrderUnderLock is the transmit queue's contract: packets
// built and committed under one lock (a connection's) reach the device in
// the order they were built, whichever goroutines built and flushed them,
// and with one queue the device never sees two writers at once. With
// several queues a batch's commit splits its packets between them.
func TestTxQueue_OrderUnderLock(t *testing.T) {
	for _, queues := range []int{1, 3} {
		t.Run(fmt.Sprintf("queues=%d", queues), func(t *testing.T) { testTxOrderUnderLock(t, queues) })
	}
}

func testTxOrderUnderLock(t *testing.T, queues int) {
	dev := newRecDev()
	s := newTxStack(t, dev)
	withQueues(s, queues)
	const flows, goroutines, per = 5, 8, 300
	type flow struct {
		mu   sync.Mutex
		next uint32
	}
	fs := make([]flow, flows)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				f := &fs[(g+i)%flows]
				b := s.getBatch()
				f.mu.Lock()
				for range 1 + i%3 {
					emitTagged(s, b, uint32((g+i)%flows), f.next)
					f.next++
				}
				if i%5 == 0 {
					// A reply of another flow built without its lock,
					// like a RST: tagged out of band, not checked.
					emitTagged(s, b, flows, 0)
				}
				b.commit() // what afterEngine does before the unlock
				f.mu.Unlock()
				s.putBatch(b)
			}
		}()
	}
	wg.Wait()
	if queues == 1 && dev.overlap.Load() {
		t.Error("two goroutines wrote to the device at once")
	}
	if !s.txIdle() {
		t.Error("transmit queue not empty after every flush returned")
	}
	next := make([]uint32, flows)
	for _, p := range dev.pkts {
		f, seq := tagOf(p)
		if f == flows {
			continue
		}
		if seq != next[f] {
			t.Fatalf("flow %d: packet %d on the wire where %d was due", f, seq, next[f])
		}
		next[f]++
	}
	total := uint32(0)
	for f := range fs {
		total += fs[f].next
		if next[f] != fs[f].next {
			t.Errorf("flow %d: %d packets on the wire, %d built", f, next[f], fs[f].next)
		}
	}
	t.Logf("%d packets", total)
}

// TestTxQueue_ReentrantDevice: a device that delivers synchronously makes
// the stack build more packets while its writer is inside Write. They are
// queued behind the ones being written and written by the same goroutine
// when Write returns; nothing deadlocks and nothing is lost.
func TestTxQueue_ReentrantDevice(t *testing.T) {
	dev := newRecDev()
	s := newTxStack(t, dev)
	depth := 0
	dev.onWrite = func(pkts [][]byte) {
		if depth >= 5 {
			return
		}
		depth++
		b := s.getBatch()
		emitTagged(s, b, 0, uint32(depth))
		s.putBatch(b) // the queue is busy (we are its writer): just queued
	}
	b := s.getBatch()
	emitTagged(s, b, 0, 0)
	s.putBatch(b)
	if len(dev.pkts) != 6 {
		t.Fatalf("%d packets written, want 6", len(dev.pkts))
	}
	for i, p := range dev.pkts {
		if _, seq := tagOf(p); seq != uint32(i) {
			t.Errorf("packet %d has tag %d", i, seq)
		}
	}
	if !s.txIdle() {
		t.Error("transmit queue not idle")
	}
}

// TestTxQueue_Limit: beyond maxTxQueue waiting packets the queue drops,
// like a full qdisc, and counts IpOutDiscards; the buffers stay with the
// batch.
func TestTxQueue_Limit(t *testing.T) {
	dev := newRecDev()
	s := newTxStack(t, dev)
	b := s.getBatch()
	for i := range maxTxQueue + 10 {
		emitTagged(s, b, 0, uint32(i))
	}
	before := s.m.Get(metrics.IpOutDiscards)
	b.commit()
	if got := s.m.Get(metrics.IpOutDiscards) - before; got != 10 {
		t.Errorf("IpOutDiscards +%d, want +10", got)
	}
	s.putBatch(b)
	if len(dev.pkts) != maxTxQueue {
		t.Errorf("%d packets written, want %d", len(dev.pkts), maxTxQueue)
	}
	if _, seq := tagOf(dev.pkts[len(dev.pkts)-1]); seq != maxTxQueue-1 {
		t.Errorf("last packet written is %d, want the oldest %d kept", seq, maxTxQueue-1)
	}
}

// TestTxQueue_NoAllocs: once warm, building, committing and writing
// packets moves buffers around and allocates nothing.
func TestTxQueue_NoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := newTxStack(t, newRecDev())
	s.dev = nil // nothing to record: only the queue's own work is measured
	withQueues(s, 2)
	b := newBatch(s)
	run := func() {
		for i := range 40 {
			emitTagged(s, b, uint32(i%3), uint32(i)) // commits split across queues
			if i%7 == 0 {
				b.commit()
			}
		}
		b.flush()
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}
