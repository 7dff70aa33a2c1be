package timewait

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/timewait/wheel"
)

// Where a record's Entry is linked (Record.dr).
const (
	drNone     uint8 = iota // not scheduled (new, expired or killed)
	drWheel                 // per-record timer in DeathRow.wheel [6.18, 4.11]
	drCalendar              // [3.10] fast calendar
	drCell0                 // [3.10] slow cell i is drCell0+i
)

// DeathRow is the bookkeeping of one stack's TIME-WAIT records that does not
// depend on the lookup table: the live count against tcp_max_tw_buckets
// (TW-ENTER-2/3), the timers (TIMER-*), and the TW/TWKilled counters (MIB-1).
//
// A DeathRow is not safe for concurrent use: the stack serializes calls (one
// mutex around it is enough; no method calls out). Every method is O(1)
// except Expire, which is O(expired + occupied wheel slots passed).
type DeathRow struct {
	profile    Profile
	maxBuckets int
	count      int // live records (sockstat tw, MIB-STAT-1)
	m          *metrics.Counters
	logf       func(msg string)
	lastLog    int64
	logged     bool

	wheel *wheel.Wheel[Record] // per-record timers; [3.10] the fast calendar
	buf   []*wheel.Entry[Record]

	// [3.10] central death row (TIMER-7..10).
	cells     [legacyCells]wheel.List[Record]
	slot      int   // next cell the hangman reaps
	hangmanAt int64 // time of the next hangman tick
	hangmanOn bool
	pending   []*Record // [3.10] reaped by a catch-up, returned by the next Expire
}

// NewDeathRow returns an empty death row for profile p whose clock starts
// at now, with tcp_max_tw_buckets = DefaultMaxTWBuckets. m may be nil.
func NewDeathRow(p Profile, now int64, m *metrics.Counters) *DeathRow {
	return &DeathRow{profile: p, maxBuckets: DefaultMaxTWBuckets, m: m, wheel: wheel.New[Record](wheelTick, now)}
}

// Profile returns the profile the death row was made for.
func (d *DeathRow) Profile() Profile { return d.profile }

// SetMaxBuckets sets tcp_max_tw_buckets; 0 refuses every record (SYSCTL-3).
// Records already alive stay.
func (d *DeathRow) SetMaxBuckets(n int) { d.maxBuckets = n }

// MaxBuckets returns tcp_max_tw_buckets.
func (d *DeathRow) MaxBuckets() int { return d.maxBuckets }

// SetLogger installs an optional operator log for refused records: the
// historical line "TCP: time wait bucket table overflow", at most once per
// 5 s of the stack clock (TW-ENTER-3 [H]). Linux 3.10+ only counts.
func (d *DeathRow) SetLogger(logf func(msg string)) { d.logf = logf }

// Len returns the number of live records (sockstat "tw", MIB-STAT-1).
func (d *DeathRow) Len() int { return d.count }

// Admit reports whether a new record may be created (TW-ENTER-2): refused
// when the live count is >= tcp_max_tw_buckets. A refusal counts
// TCPTimeWaitOverflow (TW-ENTER-3); the caller then just closes the socket.
// Admit reserves nothing: call Schedule for the new record before the next
// Admit.
func (d *DeathRow) Admit(now int64) bool {
	if d.count < d.maxBuckets {
		return true
	}
	inc(d.m, metrics.TcpExtTCPTimeWaitOverflow)
	if d.logf != nil && (!d.logged || now-d.lastLog >= overflowLogInterval) {
		d.logged, d.lastLog = true, now
		d.logf(overflowLogLine)
	}
	return false
}

// EnterRecycle is the tw_recycle part of tcp_time_wait [4.11, 3.10]
// (RECYCLE-3): with recycle on and timestamps in use, the peer's
// timestamp is remembered in cfg.Peers and, if that worked, the record is
// marked FlagRecycleOK so Schedule gives it RTO3.5 (RECYCLE-4). Call it
// after filling r and before Schedule; it does nothing in the 6.18 profile.
func EnterRecycle(r *Record, cfg *Config, now int64) {
	r.Flags &^= FlagRecycleOK
	if cfg.Profile == Linux618 || !cfg.TWRecycle || cfg.Peers == nil || r.TSRecentStamp == 0 {
		return
	}
	if cfg.Peers.Remember(r.LocalAddr, r.RemoteAddr, r.TSRecent, r.TSRecentStamp, now) {
		r.Flags |= FlagRecycleOK
	}
}

// Schedule arms a new record's timer (tcp_time_wait's timeout rules,
// TW-ENTER-6/7) and counts it live. timeout is the argument of
// tcp_time_wait: 0 for TIME_WAIT, tcp_fin_time (or tcp_fin_time - 60 s)
// for FIN_WAIT2. The timeout becomes max(timeout, RTO3.5); a TIME_WAIT
// record then gets exactly 60 s, except [4.11, 3.10] a FlagRecycleOK
// record, which keeps RTO3.5 (RECYCLE-4). [6.18] counts TW, or TWKilled
// when the timeout is <= 4 s (MIB-1, CONST-9). It returns the timeout used.
func (d *DeathRow) Schedule(r *Record, timeout, now int64) int64 {
	if rto := r.RTO35(); timeout < rto {
		timeout = rto
	}
	recycle := d.profile != Linux618 && r.Flags&FlagRecycleOK != 0
	if r.Substate == SubstateTimeWait && !recycle {
		timeout = TimeWaitLen
	}
	if d.profile == Linux618 {
		if timeout <= ShortTimeWait {
			inc(d.m, metrics.TcpExtTWKilled)
		} else {
			inc(d.m, metrics.TcpExtTW)
		}
	}
	if d.profile == Linux310 {
		d.catchUp(now)
	}
	d.count++
	d.arm(r, timeout, now, false)
	return timeout
}

// Rearm restarts r's timer at TimeWaitLen (inet_twsk_reschedule), only if it
// is still pending (TIMER-2).
func (d *DeathRow) Rearm(r *Record, now int64) { d.RearmFor(r, TimeWaitLen, now) }

// RearmFor restarts r's pending timer for timeout (RECYCLE-5 uses the
// recycle timeout). Re-arms never count (MIB-1).
func (d *DeathRow) RearmFor(r *Record, timeout, now int64) {
	if r.dr == drNone {
		return
	}
	if d.profile == Linux310 {
		d.catchUp(now)
		if r.dr == drNone {
			return // reaped by the catch-up: the timer had fired
		}
		d.unlinkLegacy(r)
	}
	d.arm(r, timeout, now, true)
}

func (d *DeathRow) arm(r *Record, timeout, now int64, rearm bool) {
	switch d.profile {
	case Linux310:
		d.armLegacy(r, timeout, now)
	default:
		// [4.11] the class counted at expiry follows the last (re)arm.
		if timeout <= ShortTimeWait {
			r.Flags |= flagShortArm
		} else {
			r.Flags &^= flagShortArm
		}
		d.wheel.Schedule(&r.Entry, now+timeout)
		r.dr = drWheel
	}
}

// Apply carries out the timer part of a Verdict: Kill or Rearm. It reports
// whether the record is now dead, in which case the caller removes it from
// its table (after sending any RST the verdict asks for).
func (d *DeathRow) Apply(r *Record, v Verdict, now int64) (dead bool) {
	if v.Kill {
		d.Kill(r)
		return true
	}
	if v.Rearm {
		d.RearmFor(r, v.RearmTimeout, now)
	}
	return false
}

// Kill destroys r early (TIMER-3): its timer is cancelled and it stops
// counting as live. It reports whether r was live; false means the timer
// already fired (Expire returned it, or will) or r was never scheduled, and
// the caller must not unhash it a second time. Early kills count neither TW
// nor TWKilled in 4.11/3.10; 6.18 counted at arming.
func (d *DeathRow) Kill(r *Record) bool {
	switch r.dr {
	case drNone:
		return false
	case drWheel:
		d.wheel.Cancel(&r.Entry)
	default:
		d.unlinkLegacy(r)
		if d.count == 1 {
			d.hangmanOn = false // inet_twsk_deschedule: del_timer at zero
		}
	}
	r.dr = drNone
	d.count--
	return true
}

// Recycle is Kill for a record displaced by connect() (TW-REUSE-10): it
// also counts TWRecycled (MIB-2).
func (d *DeathRow) Recycle(r *Record) bool {
	if !d.Kill(r) {
		return false
	}
	inc(d.m, metrics.TcpExtTWRecycled)
	return true
}

// Expire advances the timers to now and appends the records whose time has
// come to out; they are no longer live and the caller unhashes them. Expiry
// sends nothing (TIMER-1). [4.11] counts TW or TWKilled by the last arm's
// timeout; [3.10] by the structure that reaped them.
func (d *DeathRow) Expire(now int64, out []*Record) []*Record {
	if d.profile == Linux310 {
		out = append(out, d.pending...)
		clear(d.pending)
		d.pending = d.pending[:0]
		return d.expireLegacy(now, out)
	}
	d.buf = d.wheel.Advance(now, d.buf[:0])
	for _, e := range d.buf {
		r := e.Owner()
		r.dr = drNone
		d.count--
		if d.profile == Linux411 {
			if r.Flags&flagShortArm != 0 {
				inc(d.m, metrics.TcpExtTWKilled)
			} else {
				inc(d.m, metrics.TcpExtTW)
			}
		}
		out = append(out, r)
	}
	clear(d.buf)
	return out
}

// Next returns when Expire should next be called; false when no record is
// live. It may be early (a coarse wheel slot), never late.
func (d *DeathRow) Next() (int64, bool) {
	if d.profile == Linux310 {
		if len(d.pending) > 0 {
			return 0, true
		}
		t, ok := d.wheel.Next()
		if d.hangmanOn && (!ok || d.hangmanAt < t) {
			t, ok = d.hangmanAt, true
		}
		return t, ok
	}
	return d.wheel.Next()
}

// Expires returns when r's timer is due (0 if not scheduled), for /proc and
// ss timers. [3.10] the value is the nominal one of TIMER-8.
func (d *DeathRow) Expires(r *Record) int64 {
	if r.dr == drNone {
		return 0
	}
	return r.When()
}
