package timewait

import (
	"runtime"
	"testing"
	"time"
)

const benchRecords = 1_000_000

func benchTuple(i int) Tuple {
	return Tuple{
		LocalAddr:  [4]byte{10, 0, 0, 1},
		RemoteAddr: [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)},
		LocalPort:  80,
		RemotePort: uint16(1024 + i%50000),
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	return st.HeapAlloc
}

// tableEntry is the value the stack's established table would hold if it
// keyed full connections and records in one map: one of the two pointers is
// set. Modelled here to price the layout.
type tableEntry struct {
	conn *struct{} // *tcp.Conn in the stack
	tw   *Record
}

// BenchmarkMillionRecords prices 1,000,000 TIME-WAIT records with their
// timers and a lookup table, for three table layouts the stack could use:
//
//	map_ptr:   map[Tuple]*Record, records allocated one by one
//	map_entry: map[Tuple]tableEntry{conn, tw} (16-byte value)
//	slab:      map[Tuple]uint32 handle into a Pool (chunked slabs)
//
// It reports heap bytes per record (table + record + timer), lookup ns, and
// the cost of expiring all records on the virtual clock, per record.
func BenchmarkMillionRecords(b *testing.B) {
	for _, layout := range []string{"map_ptr", "map_entry", "slab"} {
		b.Run(layout, func(b *testing.B) {
			var perRec, lookupNs, expireNs float64
			for range b.N {
				b.StopTimer()
				base := heapInUse()
				d := NewDeathRow(Linux618, t0, nil)
				d.SetMaxBuckets(2 * benchRecords)
				var (
					mp   map[Tuple]*Record
					me   map[Tuple]tableEntry
					mt   map[Tuple]uint32
					pool Pool
				)
				switch layout {
				case "map_ptr":
					mp = make(map[Tuple]*Record)
				case "map_entry":
					me = make(map[Tuple]tableEntry)
				case "slab":
					mt = make(map[Tuple]uint32)
				}
				for i := range benchRecords {
					tu := benchTuple(i)
					var r *Record
					switch layout {
					case "slab":
						var h uint32
						r, h = pool.Alloc()
						mt[tu] = h
					default:
						r = new(Record)
						if mp != nil {
							mp[tu] = r
						} else {
							me[tu] = tableEntry{tw: r}
						}
					}
					r.Init(tu, SubstateTimeWait, uint32(i), uint32(i), 65535, 7, 1, 1, 0, 200*1e6, 0, t0)
					d.Schedule(r, 0, t0+int64(i)*10_000) // entries spread over 10 s
				}
				perRec = float64(heapInUse()-base) / benchRecords

				b.StartTimer()
				start := time.Now()
				const lookups = 1_000_000
				hit := 0
				for i := range lookups {
					tu := benchTuple((i * 7919) % benchRecords)
					switch layout {
					case "map_ptr":
						if mp[tu] != nil {
							hit++
						}
					case "map_entry":
						if me[tu].tw != nil {
							hit++
						}
					case "slab":
						if h, ok := mt[tu]; ok && pool.At(h).LocalPort == 80 {
							hit++
						}
					}
				}
				lookupNs = float64(time.Since(start).Nanoseconds()) / lookups
				if hit != lookups {
					b.Fatalf("hits %d", hit)
				}

				start = time.Now()
				out := make([]*Record, 0, 1024)
				n := 0
				for now := t0; now <= t0+71*sec; now += 10 * ms {
					out = d.Expire(now, out[:0])
					n += len(out)
				}
				expireNs = float64(time.Since(start).Nanoseconds()) / benchRecords
				if n != benchRecords || d.Len() != 0 {
					b.Fatalf("expired %d", n)
				}
				runtime.KeepAlive(mp)
				runtime.KeepAlive(me)
				runtime.KeepAlive(mt)
				runtime.KeepAlive(&pool)
			}
			b.ReportMetric(perRec, "B/record")
			b.ReportMetric(lookupNs, "lookup-ns")
			b.ReportMetric(expireNs, "expire-ns/record")
		})
	}
}

// BenchmarkProcess: one TIME-WAIT segment decision.
func BenchmarkProcess(b *testing.B) {
	r := newRec(SubstateTimeWait, false)
	cfg := DefaultConfig()
	s := seg(A, tR-1, 0, ts(tT+1))
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now += ms
		Process(r, &s, now, &cfg, nil)
	}
}
