package stack

import (
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
)

// recordSet is one table shard's TIME-WAIT records: an open-addressing hash
// set keyed by the tuple each record already carries, so a slot is only a
// pointer and a 32-bit hash (12 bytes) instead of a copy of the 12-byte key
// beside the value as in a Go map. With the load kept between 3/8 and 3/4
// (down to 1/8 before a shrink) a record costs its 80 bytes plus 16 to 32
// bytes of table (BenchmarkMillionTimeWait, TestTimeWaitMemoryPerRecord).
//
// Linear probing with backward-shift deletion: no tombstones, so a table
// that sees a million records come and go never degrades, and the stored
// hash lets both deletion and resizing move slots without touching the
// records. A resize copies the shard's slots under its lock; with
// tableShards shards a million records make about 4,000 per shard, so the
// pause is tens of microseconds for the flows of one shard.
//
// Not safe for concurrent use: the shard lock guards it.
type recordSet struct {
	hashes []uint32 // 0: empty; else the tuple hash with the top bit set
	recs   []*timewait.Record
	n      int
	seed   uint64
}

const (
	recordSetMin = 8       // slots; a power of two
	occupiedBit  = 1 << 31 // set in every stored hash
)

// tupleHash is the set's own seeded hash of a tuple. It is independent of
// flowHash, whose low bits pick the shard and would otherwise be the same
// in every slot index of a shard; the random seed per shard keeps peers
// from choosing tuples that collide.
func tupleHash(seed uint64, k *timewait.Tuple) uint32 {
	a := uint64(k.LocalAddr[0])<<56 | uint64(k.LocalAddr[1])<<48 | uint64(k.LocalAddr[2])<<40 | uint64(k.LocalAddr[3])<<32 |
		uint64(k.RemoteAddr[0])<<24 | uint64(k.RemoteAddr[1])<<16 | uint64(k.RemoteAddr[2])<<8 | uint64(k.RemoteAddr[3])
	b := uint64(k.LocalPort)<<16 | uint64(k.RemotePort)
	h := mix64(seed ^ a)
	h = mix64(h ^ b ^ 0x9e3779b97f4a7c15)
	return uint32(h>>32) | occupiedBit
}

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (s *recordSet) len() int { return s.n }

// find returns the record of k, nil if none.
func (s *recordSet) find(k *tcp.Tuple) *timewait.Record {
	if s.n == 0 {
		return nil
	}
	key := (*timewait.Tuple)(k)
	h := tupleHash(s.seed, key)
	mask := uint32(len(s.hashes) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.hashes[i] {
		case 0:
			return nil
		case h:
			if r := s.recs[i]; r.Tuple == *key {
				return r
			}
		}
	}
}

// insert adds r under its tuple; the caller made sure no record of that
// tuple is present.
func (s *recordSet) insert(r *timewait.Record) {
	if (s.n+1)*4 > len(s.hashes)*3 {
		s.resize(max(len(s.hashes)*2, recordSetMin))
	}
	s.place(tupleHash(s.seed, &r.Tuple), r)
	s.n++
}

func (s *recordSet) place(h uint32, r *timewait.Record) {
	mask := uint32(len(s.hashes) - 1)
	i := h & mask
	for s.hashes[i] != 0 {
		i = (i + 1) & mask
	}
	s.hashes[i], s.recs[i] = h, r
}

// remove deletes r (found by its own tuple) and reports whether it was
// there.
func (s *recordSet) remove(r *timewait.Record) bool {
	if s.n == 0 {
		return false
	}
	h := tupleHash(s.seed, &r.Tuple)
	mask := uint32(len(s.hashes) - 1)
	i := h & mask
	for {
		switch s.hashes[i] {
		case 0:
			return false
		case h:
			if s.recs[i] == r {
				s.deleteAt(i)
				return true
			}
		}
		i = (i + 1) & mask
	}
}

// deleteAt empties slot i and shifts the rest of its probe run back, so
// every remaining entry stays reachable from its home slot.
func (s *recordSet) deleteAt(i uint32) {
	mask := uint32(len(s.hashes) - 1)
	j := i
	for {
		j = (j + 1) & mask
		h := s.hashes[j]
		if h == 0 {
			break
		}
		// The entry at j may fill the hole at i unless its home slot lies
		// cyclically in (i, j].
		home := h & mask
		if (j-home)&mask >= (j-i)&mask {
			s.hashes[i], s.recs[i] = h, s.recs[j]
			i = j
		}
	}
	s.hashes[i], s.recs[i] = 0, nil
	s.n--
	if len(s.hashes) > recordSetMin && s.n*8 < len(s.hashes) {
		s.resize(len(s.hashes) / 2)
	}
}

func (s *recordSet) resize(size int) {
	oldH, oldR := s.hashes, s.recs
	s.hashes = make([]uint32, size)
	s.recs = make([]*timewait.Record, size)
	for i, h := range oldH {
		if h != 0 {
			s.place(h, oldR[i])
		}
	}
}

// each calls f for every record.
func (s *recordSet) each(f func(r *timewait.Record)) {
	for i, h := range s.hashes {
		if h != 0 {
			f(s.recs[i])
		}
	}
}
