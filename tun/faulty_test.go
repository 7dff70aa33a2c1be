package tun

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// faultyOut returns a Faulty wrapping one end of a Pipe (faults on Write)
// and the other end, where the results arrive.
func faultyOut(t testing.TB, out Faults, seed uint64, clk *FakeClock) (*Faulty, *PipeEnd) {
	a, b := NewPipe(PipeConfig{MTU: 1500, QueueLen: 4096})
	f := NewFaultyDevice(a, FaultConfig{Out: out, Seed: seed, Clock: clk})
	t.Cleanup(func() { f.Close() })
	return f, b
}

func numbered(i uint32) []byte {
	p := make([]byte, 20)
	binary.BigEndian.PutUint32(p, i)
	return p
}

// drain reads everything the pipe end holds and appends the packet numbers.
func drain(t testing.TB, r TryReader, got []uint32) []uint32 {
	bufs, sizes := mkbufs(16, 1500)
	for {
		n, err := r.TryRead(bufs, sizes, 0)
		if err != nil {
			t.Fatalf("TryRead: %v", err)
		}
		if n == 0 {
			return got
		}
		for i := range n {
			got = append(got, binary.BigEndian.Uint32(bufs[i]))
		}
	}
}

// runOut sends n numbered packets 1ms apart through outbound faults and
// returns the order in which they arrive.
func runOut(t *testing.T, out Faults, seed uint64, n int) ([]uint32, FaultStats) {
	clk := NewFakeClock(t0)
	f, peer := faultyOut(t, out, seed, clk)
	var got []uint32
	for i := range n {
		if _, err := f.Write([][]byte{numbered(uint32(i))}, 0); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Millisecond)
		if _, err := f.DeliverDue(); err != nil {
			t.Fatal(err)
		}
		got = drain(t, peer, got)
	}
	clk.Advance(time.Hour)
	f.DeliverDue()
	return drain(t, peer, got), f.Stats()
}

func TestFaultyDeterministicForSeed(t *testing.T) {
	faults := Faults{Loss: 0.05, Duplicate: 0.05, Reorder: 0.1, Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}
	a, sa := runOut(t, faults, 42, 3000)
	b, sb := runOut(t, faults, 42, 3000)
	if !slices.Equal(a, b) || sa != sb {
		t.Fatalf("same seed, different outcome: %v vs %v", sa, sb)
	}
	c, _ := runOut(t, faults, 43, 3000)
	if slices.Equal(a, c) {
		t.Fatal("different seeds gave identical outcomes")
	}
}

func TestFaultyNoFaultsIsTransparent(t *testing.T) {
	got, st := runOut(t, Faults{}, 1, 100)
	for i, v := range got {
		if v != uint32(i) {
			t.Fatalf("packet %d arrived as %d", i, v)
		}
	}
	if len(got) != 100 || st != (FaultStats{}) {
		t.Fatalf("got %d packets, stats %+v", len(got), st)
	}
}

// within checks that count/total is rate within an absolute tolerance.
func within(t *testing.T, what string, count, total uint64, rate, tol float64) {
	t.Helper()
	got := float64(count) / float64(total)
	if math.Abs(got-rate) > tol {
		t.Errorf("%s: %.4f, want %.4f±%.4f (%d/%d)", what, got, rate, tol, count, total)
	}
}

func inversions(seq []uint32) (n uint64) {
	for i := 1; i < len(seq); i++ {
		if seq[i] < seq[i-1] {
			n++
		}
	}
	return n
}

func TestFaultyRatesOutbound(t *testing.T) {
	const total = 100_000
	clk := NewFakeClock(t0)
	f, peer := faultyOut(t, Faults{Loss: 0.02, Duplicate: 0.01, Reorder: 0.05}, 7, clk)
	var got []uint32
	pkt := [][]byte{numbered(0)}
	for i := range total {
		binary.BigEndian.PutUint32(pkt[0], uint32(i))
		f.Write(pkt, 0)
		if i%256 == 255 {
			got = drain(t, peer, got)
		}
	}
	clk.Advance(time.Second) // release a packet still held for reordering
	f.DeliverDue()
	got = drain(t, peer, got)
	st := f.Stats().Out
	if st.Packets != total {
		t.Fatalf("saw %d packets", st.Packets)
	}
	within(t, "loss", st.Dropped, total, 0.02, 0.002)
	within(t, "dup", st.Duplicated, total-st.Dropped, 0.01, 0.0015)
	within(t, "reorder", st.Reordered, total-st.Dropped, 0.05, 0.003)
	if want := total - st.Dropped + st.Duplicated; uint64(len(got)) != want || st.Delivered != want {
		t.Errorf("received %d, delivered %d, want %d", len(got), st.Delivered, want)
	}
	// Every reordered packet arrives right behind its successor.
	within(t, "inversions", inversions(got), total, 0.05*0.98, 0.004)
}

func TestFaultyRatesInbound(t *testing.T) {
	const total = 100_000
	clk := NewFakeClock(t0)
	a, b := NewPipe(PipeConfig{QueueLen: 512})
	f := NewFaultyDevice(a, FaultConfig{In: Faults{Loss: 0.1, Duplicate: 0.02}, Seed: 9, Clock: clk})
	defer f.Close()
	pkt := [][]byte{numbered(0)}
	var got []uint32
	for i := range total {
		binary.BigEndian.PutUint32(pkt[0], uint32(i))
		b.Write(pkt, 0)
		if i%256 == 255 {
			got = drain(t, f, got)
		}
	}
	got = drain(t, f, got)
	st := f.Stats()
	if st.Out != (FaultDirStats{}) {
		t.Errorf("outbound touched: %+v", st.Out)
	}
	within(t, "loss", st.In.Dropped, total, 0.1, 0.004)
	within(t, "dup", st.In.Duplicated, total-st.In.Dropped, 0.02, 0.002)
	if uint64(len(got)) != total-st.In.Dropped+st.In.Duplicated {
		t.Errorf("received %d", len(got))
	}
	if a.Stats().Dropped != 0 {
		t.Errorf("pipe dropped %d", a.Stats().Dropped)
	}
}

func TestFaultyDelayOnFakeClock(t *testing.T) {
	clk := NewFakeClock(t0)
	f, peer := faultyOut(t, Faults{Delay: 20 * time.Millisecond}, 1, clk)
	f.Write([][]byte{numbered(1), numbered(2)}, 0)
	if got := drain(t, peer, nil); len(got) != 0 {
		t.Fatalf("delivered before the delay: %v", got)
	}
	clk.Advance(19 * time.Millisecond)
	f.DeliverDue()
	if got := drain(t, peer, nil); len(got) != 0 {
		t.Fatalf("delivered at 19ms: %v", got)
	}
	clk.Advance(time.Millisecond)
	f.DeliverDue()
	if got := drain(t, peer, nil); !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("at 20ms got %v", got)
	}
	if st := f.Stats().Out; st.Delayed != 2 || st.Delivered != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultyJitterBounds(t *testing.T) {
	clk := NewFakeClock(t0)
	f, peer := faultyOut(t, Faults{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}, 3, clk)
	const n = 500
	for i := range n {
		f.Write([][]byte{numbered(uint32(i))}, 0)
	}
	arrived := 0
	minAt, maxAt := time.Hour, time.Duration(0)
	for at := time.Duration(0); at <= 30*time.Millisecond; at += 100 * time.Microsecond {
		clk.Set(t0.Add(at))
		f.DeliverDue()
		if k := len(drain(t, peer, nil)); k > 0 {
			arrived += k
			minAt, maxAt = min(minAt, at), max(maxAt, at)
		}
	}
	if arrived != n || minAt < 15*time.Millisecond || maxAt > 25*time.Millisecond || maxAt-minAt < 8*time.Millisecond {
		t.Fatalf("arrived %d between %v and %v", arrived, minAt, maxAt)
	}
}

func TestFaultyReorderSwapsNeighbours(t *testing.T) {
	clk := NewFakeClock(t0)
	f, peer := faultyOut(t, Faults{Reorder: 1}, 1, clk)
	for i := range 5 {
		f.Write([][]byte{numbered(uint32(i))}, 0)
	}
	// 0 is held until 1 passes, 2 until 3 passes, 4 waits for its successor.
	if got := drain(t, peer, nil); !slices.Equal(got, []uint32{1, 0, 3, 2}) {
		t.Fatalf("got %v", got)
	}
	clk.Advance(DefaultReorderHold - 1)
	f.DeliverDue()
	if got := drain(t, peer, nil); len(got) != 0 {
		t.Fatalf("held packet left early: %v", got)
	}
	clk.Advance(1)
	f.DeliverDue()
	if got := drain(t, peer, nil); !slices.Equal(got, []uint32{4}) {
		t.Fatalf("after the hold got %v", got)
	}
	if st := f.Stats().Out; st.Reordered != 3 {
		t.Fatalf("reordered %d, want 3", st.Reordered)
	}
}

func TestFaultyDuplicateAll(t *testing.T) {
	got, st := runOut(t, Faults{Duplicate: 1}, 1, 3)
	if !slices.Equal(got, []uint32{0, 0, 1, 1, 2, 2}) || st.Out.Duplicated != 3 {
		t.Fatalf("got %v, %+v", got, st.Out)
	}
}

func TestFaultyLimitOverflow(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	clk := NewFakeClock(t0)
	f := NewFaultyDevice(a, FaultConfig{Out: Faults{Delay: time.Second}, Limit: 4, Clock: clk})
	defer f.Close()
	for i := range 10 {
		f.Write([][]byte{numbered(uint32(i))}, 0)
	}
	clk.Advance(time.Second)
	f.DeliverDue()
	if got := drain(t, b, nil); !slices.Equal(got, []uint32{0, 1, 2, 3}) {
		t.Fatalf("got %v", got)
	}
	if st := f.Stats().Out; st.Overflow != 6 {
		t.Fatalf("overflow %d", st.Overflow)
	}
}

// The scheduler goroutine delivers delayed packets on its own when the
// clock moves; no DeliverDue call.
func TestFaultySchedulerDelivers(t *testing.T) {
	clk := NewFakeClock(t0)
	f, peer := faultyOut(t, Faults{Delay: 5 * time.Millisecond}, 1, clk)
	f.Write([][]byte{numbered(7)}, 0)
	clk.Advance(5 * time.Millisecond)
	bufs, sizes := mkbufs(1, 1500)
	if n, err := peer.Read(bufs, sizes, 0); n != 1 || err != nil || binary.BigEndian.Uint32(bufs[0]) != 7 {
		t.Fatalf("Read = %d, %v", n, err)
	}
}

func TestFaultyBlockingReadInbound(t *testing.T) {
	clk := NewFakeClock(t0)
	a, b := NewPipe(PipeConfig{})
	f := NewFaultyDevice(a, FaultConfig{In: Faults{Delay: 3 * time.Millisecond}, Clock: clk})
	b.Write([][]byte{numbered(5)}, 0)
	type res struct {
		n   int
		err error
		v   uint32
	}
	rc := make(chan res)
	go func() {
		bufs, sizes := mkbufs(4, 1500)
		n, err := f.Read(bufs, sizes, 0)
		rc <- res{n, err, binary.BigEndian.Uint32(bufs[0])}
		_, err = f.Read(bufs, sizes, 0)
		rc <- res{0, err, 0}
	}()
	// The pump admits the packet at t0; keep nudging the fake clock until
	// the reader gets it (each step wakes a Read waiting on the clock).
	var r res
	for i, got := 0, false; !got; i++ {
		if i > 1e7 {
			t.Fatal("inbound packet never released")
		}
		select {
		case r = <-rc:
			got = true
		default:
			if f.in.pendingLocked(&f.inMu) > 0 {
				clk.Advance(time.Millisecond)
			}
			runtimeGosched()
		}
	}
	if r.n != 1 || r.err != nil || r.v != 5 {
		t.Fatalf("Read = %+v", r)
	}
	if now := clk.Now().Sub(t0); now < 3*time.Millisecond {
		t.Fatalf("delivered at %v, before the delay", now)
	}
	f.Close()
	if r = <-rc; !errors.Is(r.err, os.ErrClosed) {
		t.Fatalf("Read after Close: %v", r.err)
	}
	if _, err := f.Write([][]byte{numbered(1)}, 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

func TestFaultyAllocs(t *testing.T) {
	clk := NewFakeClock(t0)
	a, b := NewPipe(PipeConfig{})
	f := NewFaultyDevice(a, FaultConfig{
		In:    Faults{Loss: 0.1, Reorder: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond},
		Out:   Faults{Loss: 0.1, Duplicate: 0.1, Reorder: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond},
		Clock: clk,
	})
	defer f.Close()
	w := [][]byte{make([]byte, 1400), make([]byte, 60)}
	bufs, sizes := mkbufs(8, 1500)
	// Warm the slot buffers up to their final size.
	for range 3000 {
		f.Write(w, 0)
		b.Write(w, 0)
		clk.Advance(time.Millisecond)
		f.DeliverDue()
		b.TryRead(bufs, sizes, 0)
		f.TryRead(bufs, sizes, 0)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		f.Write(w, 0)
		b.Write(w, 0)
		clk.Advance(time.Millisecond)
		f.DeliverDue()
		for n, _ := b.TryRead(bufs, sizes, 0); n > 0; n, _ = b.TryRead(bufs, sizes, 0) {
		}
		for n, _ := f.TryRead(bufs, sizes, 0); n > 0; n, _ = f.TryRead(bufs, sizes, 0) {
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per round", allocs)
	}
}
