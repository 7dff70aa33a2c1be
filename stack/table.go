package stack

import (
	"sync"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
)

// table is the established table ("ehash"): one map keyed by the exact
// 4-tuple holding full connections (SYN_SENT..LAST_ACK, including passive
// children in SYN_RECV, which Linux keeps as request sockets in the same
// hash) and TIME-WAIT records (TW-LOOKUP-1). A record replaces its
// connection in the same slot (TW-LOOKUP-3), so a lookup sees one or the
// other, never neither. The map is split in shards with their own RWMutex so
// lookups from different workers rarely meet; a lookup takes one read lock
// and allocates nothing.
type table struct {
	shards [tableShards]tableShard
}

const tableShards = 64

type tableShard struct {
	// mu guards m and the mutable fields of every timewait.Record in it
	// (records have no lock of their own).
	mu sync.RWMutex
	m  map[tcp.Tuple]entry
	_  [40]byte // keep shards on separate cache lines
}

// entry is a table slot: exactly one of c and tw is set.
type entry struct {
	c  *conn
	tw *timewait.Record
}

func (t *table) init() {
	for i := range t.shards {
		t.shards[i].m = make(map[tcp.Tuple]entry)
	}
}

// shard picks the shard by the tuple's hash. Workers use the same hash, so
// one worker's flows spread over all shards.
func (t *table) shard(h uint64) *tableShard { return &t.shards[h%tableShards] }

func (t *table) lookup(h uint64, k tcp.Tuple) entry {
	sh := t.shard(h)
	sh.mu.RLock()
	e := sh.m[k]
	sh.mu.RUnlock()
	return e
}

// insertConn adds c under k if the slot is free and reports success.
func (t *table) insertConn(h uint64, k tcp.Tuple, c *conn) bool {
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; ok {
		return false
	}
	sh.m[k] = entry{c: c}
	return true
}

// removeConn deletes k if it still holds c.
func (t *table) removeConn(h uint64, k tcp.Tuple, c *conn) bool {
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok && e.c == c {
		delete(sh.m, k)
		return true
	}
	return false
}

// replaceConnByRecord swaps c's slot for r in one step (TW-LOOKUP-3).
func (t *table) replaceConnByRecord(h uint64, k tcp.Tuple, c *conn, r *timewait.Record) bool {
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok && e.c == c {
		sh.m[k] = entry{tw: r}
		return true
	}
	return false
}

// removeRecordLocked deletes k if it still holds r; sh.mu must be held.
func (sh *tableShard) removeRecordLocked(k tcp.Tuple, r *timewait.Record) bool {
	if e, ok := sh.m[k]; ok && e.tw == r {
		delete(sh.m, k)
		return true
	}
	return false
}

// forEach calls f for every entry, shard by shard under the read lock; f
// must not take table locks.
func (t *table) forEach(f func(k tcp.Tuple, e entry)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for k, e := range sh.m {
			f(k, e)
		}
		sh.mu.RUnlock()
	}
}

// snapshot returns every entry (for Sockets and shutdown).
func (t *table) snapshot() []entry {
	var out []entry
	t.forEach(func(_ tcp.Tuple, e entry) { out = append(out, e) })
	return out
}
