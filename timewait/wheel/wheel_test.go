package wheel

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

type item struct {
	Entry[item]
	id  int
	due int64 // reference expiry; -1 when not scheduled
	eff int64 // reference expiry tick: due's tick, or the clock's if behind it
}

const ms = int64(1e6)

func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(Entry[item]{}); s != 24 {
		t.Fatalf("Entry is %d bytes, want 24", s)
	}
}

func TestNewRejectsBadLayout(t *testing.T) {
	type bad struct {
		x int
		Entry[bad]
	}
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted a type without Entry as first field")
		}
	}()
	New[bad](ms, 0)
}

func TestFiresExactlyInItsTick(t *testing.T) {
	w := New[item](ms, 0)
	var a item
	w.Schedule(&a.Entry, 60_000*ms+1) // due in tick 60001
	if got := w.Advance(60_000*ms, nil); len(got) != 0 {
		t.Fatalf("fired early at 60s: %v", got)
	}
	if got := w.Advance(60_001*ms-1, nil); len(got) != 0 {
		t.Fatalf("fired early just before the tick")
	}
	got := w.Advance(60_001*ms, nil)
	if len(got) != 1 || got[0].Owner() != &a || a.Scheduled() {
		t.Fatalf("did not fire at its tick: %v", got)
	}
	if a.When() != 60_000*ms+1 {
		t.Fatalf("When = %d", a.When())
	}
}

func TestPastAndNowFireOnNextAdvance(t *testing.T) {
	w := New[item](ms, 5*ms)
	var a, b item
	w.Schedule(&a.Entry, 0)
	w.Schedule(&b.Entry, 5*ms)
	if got := w.Advance(5*ms, nil); len(got) != 2 {
		t.Fatalf("got %d, want 2", len(got))
	}
	w.Schedule(&a.Entry, 1*ms) // behind the clock
	if n, ok := w.Next(); !ok || n != 6*ms {
		t.Fatalf("Next = %d %v", n, ok)
	}
	if got := w.Advance(5*ms, nil); len(got) != 0 {
		t.Fatal("entry behind the clock fired without the clock moving to its tick")
	}
	if got := w.Advance(6*ms, nil); len(got) != 1 {
		t.Fatal("entry behind the clock did not fire at the next tick")
	}
}

func TestCancelAndReschedule(t *testing.T) {
	w := New[item](ms, 0)
	var a, b item
	w.Schedule(&a.Entry, 10*ms)
	w.Schedule(&b.Entry, 10*ms)
	if !w.Cancel(&a.Entry) || w.Cancel(&a.Entry) {
		t.Fatal("Cancel results wrong")
	}
	if a.Scheduled() || !b.Scheduled() || w.Len() != 1 {
		t.Fatal("state after cancel")
	}
	w.Schedule(&b.Entry, 100_000*ms) // move it far out
	w.Schedule(&b.Entry, 20*ms)      // and back in
	if got := w.Advance(19*ms, nil); len(got) != 0 {
		t.Fatal("early")
	}
	if got := w.Advance(20*ms, nil); len(got) != 1 || got[0].Owner() != &b {
		t.Fatal("rescheduled entry did not fire")
	}
	if w.Len() != 0 {
		t.Fatal("Len after expiry")
	}
	if _, ok := w.Next(); ok {
		t.Fatal("Next on empty wheel")
	}
}

func TestLargeJump(t *testing.T) {
	w := New[item](ms, 0)
	items := make([]item, 1000)
	for i := range items {
		w.Schedule(&items[i].Entry, int64(i)*3_600_000*ms) // one per hour
	}
	got := w.Advance(1<<62, nil) // ~146 years in one step
	if len(got) != len(items) || w.Len() != 0 {
		t.Fatalf("got %d after a huge jump", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].When() < got[i-1].When() {
			t.Fatal("out of order")
		}
	}
	var far item
	w.Schedule(&far.Entry, 1<<63-1)
	if got := w.Advance(1<<63-1-ms, nil); len(got) != 0 {
		t.Fatal("max time fired early")
	}
	if got := w.Advance(1<<63-1, nil); len(got) != 1 {
		t.Fatal("max time did not fire")
	}
}

// TestRandomAgainstReference drives the wheel and a sorted reference with
// random schedules, cancels, reschedules and clock jumps of every size.
func TestRandomAgainstReference(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		tick := []int64{1, 7, ms, 1000 * ms}[seed%4]
		now := r.Int64N(1 << 40)
		w := New[item](tick, now)
		items := make([]item, 300)
		for i := range items {
			items[i].id, items[i].due = i, -1
		}
		var out []*Entry[item]
		curTick := now / tick // the wheel's first unprocessed tick
		for step := 0; step < 3000; step++ {
			it := &items[r.IntN(len(items))]
			switch op := r.IntN(10); {
			case op < 5:
				span := int64(1) << r.IntN(45)
				when := now - span/8 + r.Int64N(span)
				w.Schedule(&it.Entry, when)
				it.due = when
				it.eff = max(ceilDiv(max(when, 0), tick), curTick)
			case op < 6:
				if w.Cancel(&it.Entry) != (it.due >= 0) {
					t.Fatalf("seed %d: Cancel result mismatch", seed)
				}
				it.due = -1
			default:
				now += r.Int64N(int64(1) << r.IntN(44))
				if n, ok := w.Next(); ok && n > now {
					// Next is a lower bound: nothing may be due before it.
					for i := range items {
						if d := items[i].due; d >= 0 && items[i].eff*tick < n {
							t.Fatalf("seed %d: Next %d after due %d", seed, n, items[i].due)
						}
					}
				}
				out = w.Advance(now, out[:0])
				curTick = max(curTick, now/tick+1)
				var want []int
				for i := range items {
					if items[i].due >= 0 && items[i].eff*tick <= now {
						want = append(want, i)
						items[i].due = -1
					}
				}
				var gotIDs []int
				for _, e := range out {
					gotIDs = append(gotIDs, e.Owner().id)
				}
				slices.Sort(gotIDs)
				if !slices.Equal(gotIDs, want) {
					t.Fatalf("seed %d step %d now %d: got %v want %v", seed, step, now, gotIDs, want)
				}
			}
			n := 0
			for i := range items {
				if items[i].due >= 0 {
					n++
					if !items[i].Scheduled() {
						t.Fatalf("seed %d: item %d lost", seed, i)
					}
				}
			}
			if n != w.Len() {
				t.Fatalf("seed %d: Len %d want %d", seed, w.Len(), n)
			}
		}
	}
}

func TestNoAllocs(t *testing.T) {
	w := New[item](ms, 0)
	items := make([]item, 64)
	out := make([]*Entry[item], 0, 64)
	now := int64(0)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range items {
			w.Schedule(&items[i].Entry, now+int64(i)*1000*ms)
		}
		w.Cancel(&items[3].Entry)
		now += 100_000 * ms
		out = w.Advance(now, out[:0])
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per run", allocs)
	}
}

// BenchmarkMillion schedules 1M entries over 60 s (TIME-WAIT-like), then
// expires them all; ns/op is per entry.
func BenchmarkMillion(b *testing.B) {
	const n = 1_000_000
	items := make([]item, n)
	r := rand.New(rand.NewPCG(1, 2))
	whens := make([]int64, n)
	for i := range whens {
		whens[i] = 60_000*ms + r.Int64N(60_000*ms)
	}
	out := make([]*Entry[item], 0, n)
	b.ResetTimer()
	for range b.N {
		w := New[item](ms, 0)
		for i := range items {
			w.Schedule(&items[i].Entry, whens[i])
		}
		total := 0
		for now := int64(0); now <= 121_000*ms; now += 10 * ms {
			out = w.Advance(now, out[:0])
			total += len(out)
		}
		if total != n {
			b.Fatalf("expired %d", total)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}
