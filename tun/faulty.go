package tun

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Faulty wraps a Device with a seeded fault injector: loss, duplication,
// reordering and delay with jitter, configured separately for inbound
// packets (returned by Read) and outbound packets (given to Write).
//
// Decisions come from one PCG generator per direction seeded with
// FaultConfig.Seed, so the same seed and the same packet sequence per
// direction give the same decisions, whatever the goroutine interleaving.
//
// Nothing sleeps per packet. Outbound packets due now are written to the
// wrapped device by the Write call itself; later ones wait in a min-heap that
// one scheduler goroutine per Faulty drains on the injected clock. Inbound
// packets are pulled from the wrapped device (synchronously by TryRead when
// it can, else by a pump goroutine started by the first blocking Read) and
// released by Read/TryRead once due.
//
// Tests with a FakeClock stay deterministic without sleeping: advance the
// clock, then call DeliverDue (outbound) and TryRead (inbound).
type Faulty struct {
	dev    Device
	clock  Clock
	origin time.Time
	inOn   bool // In faults configured; else Read passes through
	outOn  bool // Out faults configured; else Write passes through

	// egressMu serializes hand-off to dev.Write so that packets leave in
	// release order whether Write, DeliverDue or the scheduler sends them;
	// it guards outBatch and outSlots. It is taken before outMu.
	egressMu sync.Mutex
	outBatch [][]byte
	outSlots []int32

	outMu sync.Mutex // guards out
	out   faultQueue

	inMu  sync.Mutex // guards in and inErr
	in    faultQueue
	inErr error // the pump's terminal error, reported once in is empty

	// pullMu guards pumping, and pullBufs/pullSizes until pumping is set.
	pullMu     sync.Mutex
	pullBufs   [][]byte
	pullSizes  []int
	pumping    bool
	readMu     sync.Mutex // guards readTimer: one blocking Read waits at a time
	readTimer  Timer
	inReady    chan struct{} // 1-buffered: inbound packets were admitted
	kick       chan struct{} // 1-buffered: outbound heap changed
	done       chan struct{}
	closed     atomic.Bool
	closeOnce  sync.Once
	closeErr   error
	goroutines sync.WaitGroup
}

// NewFaulty wraps d. Zero Faults for a direction leave it untouched (no
// copy, no goroutine).
func NewFaulty(d Device, cfg FaultConfig) Device { return NewFaultyDevice(d, cfg) }

// NewFaultyDevice is NewFaulty returning the concrete type, for Stats,
// DeliverDue and TryRead.
func NewFaultyDevice(d Device, cfg FaultConfig) *Faulty {
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultFaultLimit
	}
	if cfg.ReorderHold <= 0 {
		cfg.ReorderHold = DefaultReorderHold
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	f := &Faulty{
		dev:     d,
		clock:   cfg.Clock,
		origin:  cfg.Clock.Now(),
		inOn:    cfg.In.Active(),
		outOn:   cfg.Out.Active(),
		inReady: make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	// Distinct streams keep the two directions' decisions independent.
	f.in.init(cfg.In, cfg.Seed, 0x696e626f756e64, cfg.Limit, cfg.ReorderHold)
	f.out.init(cfg.Out, cfg.Seed, 0x6f7574626f756e64, cfg.Limit, cfg.ReorderHold)
	if f.inOn {
		bs := max(d.BatchSize(), 1)
		size := d.MTU()
		if size <= 0 {
			size = 65535
		}
		f.pullBufs, f.pullSizes = make([][]byte, bs), make([]int, bs)
		for i := range f.pullBufs {
			f.pullBufs[i] = make([]byte, size)
		}
		f.readTimer = f.clock.NewTimer(time.Hour)
		f.readTimer.Stop()
	}
	if f.outOn {
		f.outBatch = make([][]byte, 0, cfg.Limit)
		f.outSlots = make([]int32, 0, cfg.Limit)
		f.goroutines.Add(1)
		go f.schedule()
	}
	return f
}

func (f *Faulty) now() time.Duration { return f.clock.Now().Sub(f.origin) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Write passes the packets through the outbound faults. Packets due now are
// written to the wrapped device before Write returns; delayed ones are
// copied, so the caller may reuse bufs at once. Dropped packets count as
// written, as on a lossy link. An error from the wrapped device is returned
// with the number of packets accepted.
func (f *Faulty) Write(bufs [][]byte, offset int) (int, error) {
	if f.closed.Load() {
		return 0, os.ErrClosed
	}
	if !f.outOn {
		return f.dev.Write(bufs, offset)
	}
	for i, b := range bufs {
		if len(b) <= offset {
			return 0, fmt.Errorf("tun: %s: packet %d is empty: %w", f.dev.Name(), i, errEmpty)
		}
	}
	f.egressMu.Lock()
	defer f.egressMu.Unlock()
	now := f.now()
	var err error
	for i := 0; i < len(bufs); {
		f.outMu.Lock()
		// Admit while slots last; a batch larger than the free pool is
		// flushed in pieces rather than overflowing.
		for ; i < len(bufs) && len(f.out.free) >= 2; i++ {
			f.out.admit(bufs[i][offset:], now)
		}
		full := i < len(bufs)
		f.outMu.Unlock()
		if _, err = f.deliverLocked(now); err != nil {
			break
		}
		if full {
			f.outMu.Lock()
			stuck := len(f.out.free) < 2
			f.outMu.Unlock()
			if stuck { // everything held is delayed: overflow like a full queue
				f.outMu.Lock()
				for ; i < len(bufs); i++ {
					f.out.admit(bufs[i][offset:], now)
				}
				f.outMu.Unlock()
			}
		}
	}
	signal(f.kick)
	return len(bufs), err
}

// deliverLocked writes every outbound packet due at now. egressMu is held.
func (f *Faulty) deliverLocked(now time.Duration) (int, error) {
	total := 0
	for {
		f.outMu.Lock()
		for len(f.outBatch) < cap(f.outBatch) {
			s := f.out.pop(now)
			if s < 0 {
				break
			}
			f.outBatch = append(f.outBatch, f.out.bufs[s])
			f.outSlots = append(f.outSlots, s)
		}
		f.outMu.Unlock()
		if len(f.outBatch) == 0 {
			return total, nil
		}
		var err error
		if f.closed.Load() {
			err = os.ErrClosed
		} else {
			_, err = f.dev.Write(f.outBatch, 0)
		}
		total += len(f.outBatch)
		f.outMu.Lock()
		for _, s := range f.outSlots {
			f.out.release(s)
		}
		f.outMu.Unlock()
		clear(f.outBatch) // drop references to slot buffers
		f.outBatch, f.outSlots = f.outBatch[:0], f.outSlots[:0]
		if err != nil {
			return total, err
		}
	}
}

// DeliverDue writes every outbound packet whose release time has come on
// the clock and returns how many it wrote. The scheduler goroutine does this
// on its own; tests with a FakeClock call it after Advance so the packets
// have reached the wrapped device when it returns.
func (f *Faulty) DeliverDue() (int, error) {
	if !f.outOn {
		return 0, nil
	}
	f.egressMu.Lock()
	defer f.egressMu.Unlock()
	return f.deliverLocked(f.now())
}

// schedule is the one goroutine that releases delayed outbound packets.
func (f *Faulty) schedule() {
	defer f.goroutines.Done()
	timer := f.clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		f.outMu.Lock()
		next, ok := f.out.next()
		f.outMu.Unlock()
		var tc <-chan time.Time
		if ok {
			timer.Reset(next - f.now())
			tc = timer.C()
		} else {
			timer.Stop()
		}
		select {
		case <-f.done:
			return
		case <-f.kick:
		case <-tc:
		}
		if _, err := f.DeliverDue(); err != nil && f.closed.Load() {
			return
		}
	}
}

// Read returns inbound packets that survived the faults and are due, waiting
// (on the clock, not by sleeping per packet) until at least one is.
func (f *Faulty) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if !f.inOn {
		return f.dev.Read(bufs, sizes, offset)
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	f.startPump()
	f.readMu.Lock()
	defer f.readMu.Unlock()
	for {
		n, next, ok, err := f.popIn(bufs, sizes, offset)
		if n > 0 || err != nil {
			return n, err
		}
		var tc <-chan time.Time
		if ok {
			f.readTimer.Reset(next - f.now())
			tc = f.readTimer.C()
		}
		select {
		case <-f.done:
			f.readTimer.Stop()
			return 0, os.ErrClosed
		case <-f.inReady:
		case <-tc:
		}
		f.readTimer.Stop()
	}
}

// TryRead returns the inbound packets due now without blocking. If the
// wrapped device is a TryReader and no blocking Read has started the pump,
// it first pulls everything the device holds, so a test can drain a Faulty
// over a Pipe synchronously.
func (f *Faulty) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	if !f.inOn {
		if tr, ok := f.dev.(TryReader); ok {
			return tr.TryRead(bufs, sizes, offset)
		}
		return 0, fmt.Errorf("tun: %s: wrapped %T cannot TryRead", f.dev.Name(), f.dev)
	}
	if f.closed.Load() {
		return 0, os.ErrClosed
	}
	if tr, ok := f.dev.(TryReader); ok {
		f.pullMu.Lock()
		if !f.pumping {
			// Pull only what the pool can hold (two slots per packet, for a
			// duplicate); the rest stays queued in the wrapped device.
			for {
				f.inMu.Lock()
				k := min(len(f.pullBufs), len(f.in.free)/2)
				f.inMu.Unlock()
				if k == 0 {
					break
				}
				n, err := tr.TryRead(f.pullBufs[:k], f.pullSizes, 0)
				f.admitIn(n, err)
				if n == 0 || err != nil {
					break
				}
			}
		}
		f.pullMu.Unlock()
	} else {
		f.startPump()
	}
	n, _, _, err := f.popIn(bufs, sizes, offset)
	return n, err
}

// admitIn runs n pulled packets through the inbound faults. The caller owns
// pullBufs (TryRead under pullMu, or the pump).
func (f *Faulty) admitIn(n int, err error) {
	f.inMu.Lock()
	now := f.now()
	for i := range n {
		f.in.admit(f.pullBufs[i][:f.pullSizes[i]], now)
	}
	if err != nil && f.inErr == nil {
		f.inErr = err
	}
	f.inMu.Unlock()
	if n > 0 || err != nil {
		signal(f.inReady)
	}
}

// popIn copies due inbound packets out and reports when the next is due.
func (f *Faulty) popIn(bufs [][]byte, sizes []int, offset int) (n int, next time.Duration, ok bool, err error) {
	if f.closed.Load() {
		return 0, 0, false, os.ErrClosed
	}
	f.inMu.Lock()
	defer f.inMu.Unlock()
	now := f.now()
	for n < len(bufs) {
		s := f.in.pop(now)
		if s < 0 {
			break
		}
		sizes[n] = copy(bufs[n][offset:], f.in.bufs[s])
		f.in.release(s)
		n++
	}
	if n == 0 && f.inErr != nil && f.in.pending() == 0 {
		return 0, 0, false, f.inErr
	}
	next, ok = f.in.next()
	return n, next, ok, nil
}

func (f *Faulty) startPump() {
	f.pullMu.Lock()
	defer f.pullMu.Unlock()
	if f.pumping || f.closed.Load() {
		return
	}
	f.pumping = true
	f.goroutines.Add(1)
	go f.pump()
}

// pump owns reads from the wrapped device and pullBufs once pumping is set
// (under pullMu), which is how TryRead knows not to pull.
func (f *Faulty) pump() {
	defer f.goroutines.Done()
	for {
		n, err := f.dev.Read(f.pullBufs, f.pullSizes, 0)
		f.admitIn(n, err)
		if err != nil {
			return
		}
	}
}

// Stats returns the injector's counters.
func (f *Faulty) Stats() FaultStats {
	f.inMu.Lock()
	in := f.in.st
	f.inMu.Unlock()
	f.outMu.Lock()
	out := f.out.st
	f.outMu.Unlock()
	return FaultStats{In: in, Out: out}
}

// Pending reports how many packets each direction holds (delayed or
// reordered, not yet due or not yet read).
func (f *Faulty) Pending() (in, out int) {
	f.inMu.Lock()
	in = f.in.pending()
	f.inMu.Unlock()
	f.outMu.Lock()
	out = f.out.pending()
	f.outMu.Unlock()
	return in, out
}

// BatchSize returns the wrapped device's.
func (f *Faulty) BatchSize() int { return f.dev.BatchSize() }

// MTU returns the wrapped device's.
func (f *Faulty) MTU() int { return f.dev.MTU() }

// Name returns the wrapped device's.
func (f *Faulty) Name() string { return f.dev.Name() }

// Unwrap returns the wrapped device.
func (f *Faulty) Unwrap() Device { return f.dev }

// Close discards held packets, closes the wrapped device (which ends the
// pump) and stops the scheduler.
func (f *Faulty) Close() error {
	err := os.ErrClosed
	f.closeOnce.Do(func() {
		f.closed.Store(true)
		close(f.done)
		f.closeErr = f.dev.Close()
		f.goroutines.Wait()
		err = f.closeErr
	})
	return err
}

var (
	_ Device    = (*Faulty)(nil)
	_ TryReader = (*Faulty)(nil)
)
