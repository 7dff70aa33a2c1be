package tun

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
)

func mkbufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

func TestPipeDirectionAndCopy(t *testing.T) {
	a, b := NewPipe(PipeConfig{MTU: 100})
	pkt := []byte{0, 0, 0x45, 1, 2, 3}
	if n, err := a.Write([][]byte{pkt}, 2); n != 1 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	// The writer may reuse its buffer at once.
	pkt[3] = 99
	bufs, sizes := mkbufs(4, 100)
	if n, err := a.TryRead(bufs, sizes, 0); n != 0 || err != nil {
		t.Fatalf("a got its own packet: %d, %v", n, err)
	}
	n, err := b.TryRead(bufs, sizes, 4)
	if n != 1 || err != nil {
		t.Fatalf("b.TryRead = %d, %v", n, err)
	}
	if got := bufs[0][4 : 4+sizes[0]]; !bytes.Equal(got, []byte{0x45, 1, 2, 3}) {
		t.Fatalf("got %x", got)
	}
	if n, _ := b.TryRead(bufs, sizes, 0); n != 0 {
		t.Fatalf("drained pipe returned %d packets", n)
	}
}

func TestPipeBatchOrder(t *testing.T) {
	a, b := NewPipe(PipeConfig{MTU: 64})
	for i := range 10 {
		a.Write([][]byte{{byte(i)}}, 0)
	}
	bufs, sizes := mkbufs(4, 64)
	var got []byte
	for {
		n, err := b.TryRead(bufs, sizes, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if n > 4 {
			t.Fatalf("n=%d > len(bufs)", n)
		}
		for i := range n {
			got = append(got, bufs[i][0])
		}
	}
	if !bytes.Equal(got, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("order %v", got)
	}
}

func TestPipeQueueFullDropsAndCounts(t *testing.T) {
	a, b := NewPipe(PipeConfig{MTU: 64, QueueLen: 3})
	for range 5 {
		if n, err := a.Write([][]byte{{1}}, 0); n != 1 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := b.Stats().Dropped; got != 2 {
		t.Fatalf("dropped %d, want 2", got)
	}
	if got := a.Stats().Sent; got != 3 {
		t.Fatalf("sent %d, want 3", got)
	}
	if got := b.Pending(); got != 3 {
		t.Fatalf("pending %d, want 3", got)
	}
}

func TestPipeWriteErrors(t *testing.T) {
	a, _ := NewPipe(PipeConfig{MTU: 4})
	n, err := a.Write([][]byte{{1}, {1, 2, 3, 4, 5}, {1}}, 0)
	if n != 1 || !errors.Is(err, syscall.EMSGSIZE) {
		t.Fatalf("oversize: %d, %v", n, err)
	}
	n, err = a.Write([][]byte{{}}, 0)
	if n != 0 || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("empty: %d, %v", n, err)
	}
}

func TestPipeTruncatesShortBuffer(t *testing.T) {
	a, b := NewPipe(PipeConfig{MTU: 64})
	a.Write([][]byte{{1, 2, 3, 4}}, 0)
	bufs, sizes := mkbufs(1, 3)
	if n, _ := b.TryRead(bufs, sizes, 1); n != 1 || sizes[0] != 2 {
		t.Fatalf("n=%d size=%d", n, sizes[0])
	}
	if b.Stats().Truncated != 1 {
		t.Fatal("truncation not counted")
	}
}

func TestPipeCloseUnblocksRead(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	var wg sync.WaitGroup
	var err error
	started := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		bufs, sizes := mkbufs(1, 1500)
		close(started)
		_, err = b.Read(bufs, sizes, 0)
	}()
	<-started
	b.Close()
	wg.Wait()
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := b.Write([][]byte{{1}}, 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := b.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	// The peer still works; what it sends toward the closed end is dropped.
	if n, err := a.Write([][]byte{{1}}, 0); n != 1 || err != nil {
		t.Fatalf("peer Write: %d, %v", n, err)
	}
	if b.Stats().Dropped != 1 {
		t.Fatal("drop toward closed end not counted")
	}
}

func TestPipeBlockingReadWakes(t *testing.T) {
	a, b := NewPipe(PipeConfig{QueueLen: 16})
	const total = 2000
	var wg sync.WaitGroup
	for range 2 { // two concurrent readers must not lose wake-ups
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs, sizes := mkbufs(3, 1500)
			for {
				if _, err := b.Read(bufs, sizes, 0); err != nil {
					return
				}
			}
		}()
	}
	for range total {
		a.Write([][]byte{{1}}, 0)
		if b.Pending() > 8 {
			runtimeGosched() // let the readers run; drops are counted anyway
		}
	}
	// Every packet is either read or counted as dropped; wait (bounded) for
	// the readers to take what is queued.
	for i := 0; b.Pending() > 0 && i < 1e7; i++ {
		runtimeGosched()
	}
	b.Close()
	wg.Wait()
	st := b.Stats()
	if st.Received+st.Dropped != total || b.Pending() != 0 {
		t.Fatalf("received %d + dropped %d != %d (pending %d)", st.Received, st.Dropped, total, b.Pending())
	}
}

func TestPipeAllocs(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	w := [][]byte{make([]byte, 1400), make([]byte, 60)}
	bufs, sizes := mkbufs(8, 1600)
	allocs := testing.AllocsPerRun(1000, func() {
		a.Write(w, 0)
		b.Read(bufs, sizes, 100)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per Write+Read", allocs)
	}
}

func BenchmarkPipeWriteRead(b *testing.B) {
	x, y := NewPipe(PipeConfig{})
	w := [][]byte{make([]byte, 1400), make([]byte, 60)}
	bufs, sizes := mkbufs(8, 1600)
	b.ReportAllocs()
	b.SetBytes(1460)
	for b.Loop() {
		x.Write(w, 0)
		y.Read(bufs, sizes, 0)
	}
}
