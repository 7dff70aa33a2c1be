package stack

import (
	"math/rand/v2"
	"sync"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
)

// table is the established table ("ehash"): keyed by the exact 4-tuple, it
// holds full connections (SYN_SENT..LAST_ACK, including passive children in
// SYN_RECV, which Linux keeps as request sockets in the same hash) and
// TIME-WAIT records (TW-LOOKUP-1). A record replaces its connection under
// the same shard lock (TW-LOOKUP-3), so a lookup sees one or the other,
// never neither, and never both.
//
// Each shard keeps the two kinds apart: connections in a Go map (they are
// few and each is kilobytes anyway), records in a recordSet, whose slots
// hold only a pointer and a hash because a record carries its own tuple. A
// million records then cost about 105 bytes each including table and timer
// (BenchmarkMillionTimeWait), against about 164 for one map with a
// 16-byte {conn, record} value and about 118 for a map of 4-byte handles. A lookup tries the connections first (the
// data path), then the records; it takes one read lock and allocates
// nothing.
type table struct {
	shards [tableShards]tableShard
	// orphans is the stack's orphan count (ORPHAN-1/2). It lives here
	// because the table is where a connection's life is tracked.
	orphans orphanCount
}

// tableShards is a power of two so that shards divide evenly among
// power-of-two worker counts. 256 shards keep each record set small: at a
// million records a resize moves a few thousand slots under one shard's
// lock.
const tableShards = 256

type tableShard struct {
	// mu guards conns, recs and the mutable fields of every
	// timewait.Record in recs (records have no lock of their own).
	mu    sync.RWMutex
	conns map[tcp.Tuple]*conn
	recs  recordSet
	_     [32]byte // 128 bytes: shards do not share cache lines
}

// entry is what a lookup finds: at most one of c and tw is set.
type entry struct {
	c  *conn
	tw *timewait.Record
}

func (t *table) init() {
	for i := range t.shards {
		t.shards[i].conns = make(map[tcp.Tuple]*conn)
		t.shards[i].recs.seed = rand.Uint64()
	}
}

// shard picks the shard by the tuple's flow hash. Workers pick by the same
// hash modulo their number, so with a power-of-two worker count each worker
// has shards of its own and workers never contend on a shard lock.
func (t *table) shard(h uint64) *tableShard { return &t.shards[h%tableShards] }

func (t *table) lookup(h uint64, k tcp.Tuple) entry {
	sh := t.shard(h)
	sh.mu.RLock()
	e := sh.getLocked(k)
	sh.mu.RUnlock()
	return e
}

// getLocked returns what k holds; sh.mu must be held (read or write).
func (sh *tableShard) getLocked(k tcp.Tuple) entry {
	if c := sh.conns[k]; c != nil {
		return entry{c: c}
	}
	return entry{tw: sh.recs.find(&k)}
}

// setConnLocked makes k hold c, displacing a record of k if there is one
// (connect() taking over a TIME-WAIT tuple, TW-REUSE-10); the caller has
// already killed that record's timer. sh.mu must be held for writing.
func (sh *tableShard) setConnLocked(k tcp.Tuple, c *conn) {
	if r := sh.recs.find(&k); r != nil {
		sh.recs.remove(r)
	}
	sh.conns[k] = c
}

// insertConn adds c under k if the slot is free and reports success.
func (t *table) insertConn(h uint64, k tcp.Tuple, c *conn) bool {
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.getLocked(k); e.c != nil || e.tw != nil {
		return false
	}
	sh.conns[k] = c
	return true
}

// insertRecord adds r under its tuple if the slot is free and reports
// success: a record created without a connection in the table (tests and
// benchmarks fill the table this way).
func (t *table) insertRecord(h uint64, r *timewait.Record) bool {
	k := tcp.Tuple(r.Tuple)
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.getLocked(k); e.c != nil || e.tw != nil {
		return false
	}
	sh.recs.insert(r)
	return true
}

// removeConn deletes k if it still holds c.
func (t *table) removeConn(h uint64, k tcp.Tuple, c *conn) bool {
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.conns[k] == c {
		delete(sh.conns, k)
		return true
	}
	return false
}

// replaceConnByRecord swaps c's slot for r in one step (TW-LOOKUP-3). r's
// tuple is k.
func (t *table) replaceConnByRecord(h uint64, k tcp.Tuple, c *conn, r *timewait.Record) bool {
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.conns[k] != c || tcp.Tuple(r.Tuple) != k {
		return false
	}
	delete(sh.conns, k)
	sh.recs.insert(r)
	return true
}

// removeRecordLocked deletes k if it still holds r; sh.mu must be held.
func (sh *tableShard) removeRecordLocked(k tcp.Tuple, r *timewait.Record) bool {
	if tcp.Tuple(r.Tuple) != k {
		return false
	}
	return sh.recs.remove(r)
}

// forEach calls f for every entry, shard by shard under the read lock; f
// must not take table locks.
func (t *table) forEach(f func(k tcp.Tuple, e entry)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for k, c := range sh.conns {
			f(k, entry{c: c})
		}
		sh.recs.each(func(r *timewait.Record) { f(tcp.Tuple(r.Tuple), entry{tw: r}) })
		sh.mu.RUnlock()
	}
}

// snapshot returns every entry (for Sockets and shutdown).
func (t *table) snapshot() []entry {
	var out []entry
	t.forEach(func(_ tcp.Tuple, e entry) { out = append(out, e) })
	return out
}

// counts returns the number of connections and records in the table.
func (t *table) counts() (conns, records int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		conns += len(sh.conns)
		records += sh.recs.len()
		sh.mu.RUnlock()
	}
	return conns, records
}
