package timewait

import (
	"math/bits"
	"math/rand/v2"

	"github.com/ustack/ustack/metrics"
)

// PeerCache is the per-host timestamp cache of tcp_tw_recycle [4.11, 3.10]
// (RECYCLE-2): for each (local address, remote address) the last TSval seen
// from that host and the seconds clock when it was seen. Linux keeps it in
// the TCP metrics table; here it is a fixed-size set-associative table
// (4 ways per set, least recently touched way evicted, like the metrics
// table's bounded chains), so it never grows. Not safe for concurrent use.
type PeerCache struct {
	sets    []peerSet
	mask    uint64
	seed    uint64
	passive metrics.ID // TcpExtPAWSPassive if the metrics package has it
	hasPass bool
}

const peerWays = 4

// metricsTimeout is TCP_METRICS_TIMEOUT: an entry untouched for an hour is
// reset when looked up for creation (tcpm_check_stamp).
const metricsTimeout = 3600 * int64(1e9)

type peerSet [peerWays]peerEntry

type peerEntry struct {
	local, remote [4]byte
	used          bool
	ts            uint32 // tcpm_ts
	stamp         uint32 // tcpm_ts_stamp, seconds
	touched       int64  // tcpm_stamp, ns
}

// NewPeerCache returns a cache holding at most about size hosts (rounded up
// to a power of two, at least 4).
func NewPeerCache(size int) *PeerCache {
	n := 1
	for n*peerWays < size {
		n <<= 1
	}
	c := &PeerCache{sets: make([]peerSet, n), mask: uint64(n - 1), seed: rand.Uint64()}
	c.passive, c.hasPass = metrics.Lookup("TcpExtPAWSPassive")
	return c
}

// Cap returns the number of hosts the cache can hold.
func (c *PeerCache) Cap() int { return len(c.sets) * peerWays }

func (c *PeerCache) set(local, remote [4]byte) *peerSet {
	k := uint64(local[0])<<56 | uint64(local[1])<<48 | uint64(local[2])<<40 | uint64(local[3])<<32 |
		uint64(remote[0])<<24 | uint64(remote[1])<<16 | uint64(remote[2])<<8 | uint64(remote[3])
	hi, lo := bits.Mul64(k^c.seed, 0x9e3779b97f4a7c15)
	return &c.sets[(hi^lo)&c.mask]
}

func (c *PeerCache) find(local, remote [4]byte) *peerEntry {
	s := c.set(local, remote)
	for i := range s {
		if e := &s[i]; e.used && e.local == local && e.remote == remote {
			return e
		}
	}
	return nil
}

// get finds or creates the entry (tcp_get_metrics with create).
func (c *PeerCache) get(local, remote [4]byte, now int64) *peerEntry {
	if e := c.find(local, remote); e != nil {
		if now-e.touched > metricsTimeout {
			e.ts, e.stamp, e.touched = 0, 0, now
		}
		return e
	}
	s := c.set(local, remote)
	victim := &s[0]
	for i := range s {
		e := &s[i]
		if !e.used {
			victim = e
			break
		}
		if e.touched < victim.touched {
			victim = e
		}
	}
	*victim = peerEntry{local: local, remote: remote, used: true, touched: now}
	return victim
}

// update stores (ts, stamp) when the cached value is not newer, or it is
// older than TCP_PAWS_MSL and not newer than stamp (RECYCLE-3).
func (e *peerEntry) update(ts uint32, stamp int32, now int64) {
	if int32(e.ts-ts) <= 0 ||
		(uint32(SecClock(now))-e.stamp > pawsMSL && e.stamp <= uint32(stamp)) {
		e.stamp, e.ts = uint32(stamp), ts
	}
}

// Remember is tcp_remember_stamp (RECYCLE-3), run when a timestamped
// connection enters TIME-WAIT with recycle on: find or create the peer's
// entry and store (tsRecent, tsRecentStamp) by the update rule. It reports
// recycle_ok (always true: the cache always yields an entry).
func (c *PeerCache) Remember(local, remote [4]byte, tsRecent uint32, tsRecentStamp int32, now int64) bool {
	e := c.get(local, remote, now)
	e.update(tsRecent, tsRecentStamp, now)
	e.touched = now
	return true
}

// RememberTW is tcp_tw_remember_stamp (RECYCLE-5): the same update from a
// record's T/Ts, but only if the peer's entry exists. It reports whether it
// did.
func (c *PeerCache) RememberTW(r *Record, now int64) bool {
	e := c.find(r.LocalAddr, r.RemoteAddr)
	if e == nil {
		return false
	}
	e.update(r.TSRecent, r.TSRecentStamp, now)
	return true
}

// Fetch is tcp_fetch_timewait_stamp (RECYCLE-7): the cached (ts, stamp) for
// a connecting socket without inherited PAWS state, if the stamp is at most
// TCP_PAWS_MSL seconds old.
func (c *PeerCache) Fetch(local, remote [4]byte, now int64) (tsRecent uint32, tsRecentStamp int32, ok bool) {
	e := c.find(local, remote)
	if e == nil || uint32(SecClock(now))-e.stamp > pawsMSL {
		return 0, 0, false
	}
	return e.ts, int32(e.stamp), true
}

// PassiveReject is the tw_recycle check of tcp_conn_request for a SYN that
// did not come through TIME-WAIT (RECYCLE-6): true means drop it silently.
// It rejects when the peer's entry is less than 60 s old and the SYN's
// TSval is more than TCP_PAWS_WINDOW behind the cached one, or [4.11] the
// SYN has no timestamp ([3.10] SYNs without timestamps are not checked).
// A rejection counts PAWSPassive (when the metrics package defines it) and
// ListenDrops (MIB-7, MIB-17).
func (c *PeerCache) PassiveReject(p Profile, local, remote [4]byte, hasTS bool, tsval uint32, now int64, m *metrics.Counters) bool {
	if p == Linux618 || (p == Linux310 && !hasTS) {
		return false
	}
	e := c.find(local, remote)
	if e == nil || uint32(SecClock(now))-e.stamp >= pawsMSL {
		return false
	}
	if hasTS && int32(e.ts-tsval) <= pawsWindow {
		return false
	}
	if c.hasPass {
		m.Inc(c.passive)
	}
	m.Inc(metrics.TcpExtListenDrops)
	return true
}
