package timewait

// CanReuse is tcp_twsk_unique [6.18] (TW-REUSE-2..8): whether connect() may
// take over the 4-tuple of record r at now. mode is net.ipv4.tcp_tw_reuse
// (0, 1, 2 = loopback only), delayMs net.ipv4.tcp_tw_reuse_delay. loopback
// reports that the record is bound to the loopback device (FlagBoundLoopback
// and 127.0.0.0/8 addresses are also checked here, TW-REUSE-3). bound is
// true when the connecting socket's port was bound explicitly: the kernel
// then passes no record slot and any record with timestamps is taken at
// once (TW-REUSE-8). On success the caller kills the record with
// DeathRow.Recycle (TWRecycled, TW-REUSE-10) and starts the connection with
// r.ReuseState().
func CanReuse(r *Record, now int64, mode int, delayMs int, loopback bool, bound bool) bool {
	// TW-REUSE-7: without timestamps there is no protection, never reuse.
	if r.TSRecentStamp == 0 {
		return false
	}
	if bound {
		return true
	}
	reuse := mode
	if r.Substate == SubstateFinWait2 { // TW-REUSE-4
		reuse = 0
	}
	if reuse == 2 && !(loopback || r.IsLoopback()) {
		reuse = 0
	}
	// time_after32(ms clock, entry stamp + delay) (TW-REUSE-5).
	thresh := r.EntryStamp + uint32(delayMs)
	return reuse != 0 && int32(thresh-MsClock(now)) < 0
}

// CanReuseLegacy is tcp_twsk_unique of 4.11 and 3.10 (TW-REUSE-6/7/8):
// tcp_tw_reuse is a boolean and the time condition is "the last TSval was
// received more than 1 s ago" (integer seconds); no substate or loopback
// rule.
func CanReuseLegacy(r *Record, now int64, reuse bool, bound bool) bool {
	if r.TSRecentStamp == 0 {
		return false
	}
	return bound || (reuse && int64(SecClock(now))-int64(r.TSRecentStamp) > 1)
}

// CanReuseProfile applies the reuse rule of cfg.Profile: CanReuse for 6.18,
// CanReuseLegacy (mode != 0) otherwise.
func CanReuseProfile(p Profile, r *Record, now int64, mode int, delayMs int, loopback bool, bound bool) bool {
	if p == Linux618 {
		return CanReuse(r, now, mode, delayMs, loopback, bound)
	}
	return CanReuseLegacy(r, now, mode != 0, bound)
}

// IsLoopback reports the TW-REUSE-3 address test: bound to the loopback
// device or either address in 127.0.0.0/8.
func (r *Record) IsLoopback() bool {
	return r.Flags&FlagBoundLoopback != 0 || r.LocalAddr[0] == 127 || r.RemoteAddr[0] == 127
}

// ReuseState returns what a connection that displaces r inherits
// (TW-REUSE-9): write_seq = S + 65537 (0 -> 1), which becomes the ISN of its
// SYN instead of a secure ISN, and the peer's ts_recent and ts_recent_stamp
// for PAWS-11. (TW-REUSE-11: a connection to another destination must drop
// them; that is the connecting code's business.)
func (r *Record) ReuseState() (writeSeq, tsRecent uint32, tsRecentStamp int32) {
	return r.ISN(), r.TSRecent, r.TSRecentStamp
}
