package stack

import (
	"github.com/ustack/ustack/tcp"
)

// tcp_tw_recycle's two uses of the per-peer timestamp cache outside
// TIME-WAIT itself (the cache is fed by EnterRecycle when a record is
// created, RECYCLE-3, and by TIME-WAIT processing, RECYCLE-5). Both are
// no-ops unless the profile is linux-4.11/3.10 and tcp_tw_recycle=1.
// The cache is shared by every worker and guarded by s.tw.mu, a leaf lock.

// recyclePassiveReject is the tw_recycle check of tcp_conn_request
// (RECYCLE-6): a SYN that did not come through a TIME-WAIT record, from a
// peer address whose cached timestamp is less than 60 s old and more than
// one tick ahead of the SYN's TSval (or [4.11] a SYN without timestamps),
// is dropped silently, counting PAWSPassive and ListenDrops (MIB-7,
// MIB-17). Hosts behind one NAT share the entry (RECYCLE-9, SCN-45).
func (s *Stack) recyclePassiveReject(k tcp.Tuple, seg *tcp.Segment) bool {
	cfg := s.tw.cfg.Load()
	if !cfg.TWRecycle || cfg.Peers == nil {
		return false
	}
	s.tw.mu.Lock()
	defer s.tw.mu.Unlock()
	return cfg.Peers.PassiveReject(cfg.Profile, k.LocalAddr, k.RemoteAddr, seg.Opts.HasTS, seg.Opts.TSVal,
		int64(s.now()), s.m)
}

// recycleFetch is tcp_fetch_timewait_stamp (RECYCLE-7): a connect that
// did not take over a TIME-WAIT record starts with the peer's cached
// (ts_recent, ts_recent_stamp) when that is at most 60 s old, which only
// matters to a crossed SYN (PAWS-11).
func (s *Stack) recycleFetch(k tcp.Tuple, now tcp.Time, opts *tcp.ActiveOpts) {
	cfg := s.tw.cfg.Load()
	if !cfg.TWRecycle || cfg.Peers == nil || opts.InheritTS {
		return
	}
	s.tw.mu.Lock()
	ts, stamp, ok := cfg.Peers.Fetch(k.LocalAddr, k.RemoteAddr, int64(now))
	s.tw.mu.Unlock()
	if ok {
		opts.InheritTS, opts.TSRecent, opts.TSRecentStamp = true, ts, int64(stamp)
	}
}
