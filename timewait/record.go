package timewait

import (
	"fmt"

	"github.com/ustack/ustack/timewait/wheel"
)

// Tuple identifies a connection from the local side. It has the layout of
// tcp.Tuple, so timewait.Tuple(t) converts either way.
type Tuple struct {
	LocalAddr  [4]byte
	RemoteAddr [4]byte
	LocalPort  uint16
	RemotePort uint16
}

// Substate is the state a record reports (FW2-10); numbered like tcp.State.
type Substate uint8

const (
	// SubstateFinWait2: our FIN is acknowledged, the peer's FIN not yet seen.
	SubstateFinWait2 Substate = 5
	// SubstateTimeWait: both FINs seen; the real TIME-WAIT.
	SubstateTimeWait Substate = 6
)

func (s Substate) String() string {
	switch s {
	case SubstateFinWait2:
		return "FIN-WAIT-2"
	case SubstateTimeWait:
		return "TIME-WAIT"
	}
	return fmt.Sprintf("Substate(%d)", uint8(s))
}

// Flags are the socket properties a record inherits (TW-ENTER-4) plus
// bookkeeping bits of the death row.
type Flags uint8

const (
	FlagReuseAddr     Flags = 1 << iota // SO_REUSEADDR was set (tw_reuse, PORT-8)
	FlagReusePort                       // SO_REUSEPORT was set (tw_reuseport)
	FlagConnectPort                     // the local port was chosen by connect() (PORT-4/5)
	FlagBoundLoopback                   // bound to the loopback device (TW-REUSE-3)
	FlagRecycleOK                       // [4.11] tw_recycle cached the peer's stamp: stored timeout RTO3.5 (RECYCLE-4/5)
	flagShortArm                        // [4.11] last (re)arm was <= 4 s: counts TWKilled at expiry (MIB-1)
)

// Record is a TIME-WAIT record: what struct tcp_timewait_sock keeps of a
// connection (TW-ENTER-4/5). Notation of the spec: R = RcvNxt, S = SndNxt,
// W = RcvWnd, T = TSRecent, Ts = TSRecentStamp.
//
// The wheel entry comes first (the death row's timer, 24 bytes); with it the
// record is 80 bytes. The stack fills the exported fields from the
// connection, calls DeathRow.Admit and DeathRow.Schedule, and afterwards only
// reads them; Process and the DeathRow update them.
type Record struct {
	wheel.Entry[Record] // death-row timer; must stay the first field

	Tuple

	RcvNxt uint32 // R: next sequence number expected from the peer
	SndNxt uint32 // S: our snd_nxt, including our FIN
	RcvWnd uint32 // W: receive window in bytes, frozen at entry (TW-ENTER-5)

	TSRecent      uint32 // T: last TSval accepted from the peer (0 if none)
	TSRecentStamp int32  // Ts: seconds clock when T was recorded; 0 = no timestamps
	TSOffset      uint32 // added to our TS clock in replies (tw_ts_offset)

	// LastOOWAckTime is the ms clock (jiffies) of the last out-of-window ACK
	// sent, 0 = none (TW-PROC-18).
	LastOOWAckTime uint32
	// EntryStamp is the ms clock when the record was created, refreshed by
	// TW-PROC-9 with a TS option [6.18] (TW-REUSE-5).
	EntryStamp uint32
	// RTO is the connection's retransmission timeout in ms (jiffies), kept
	// for RTO3.5 (TW-ENTER-6, RECYCLE-4/5).
	RTO uint32

	Substate  Substate
	RcvWScale uint8 // our receive window scale: the TW ACK advertises W >> RcvWScale
	TOS       uint8 // IPv4 TOS of the connection (TW-RESP-1)
	Flags     Flags

	dr uint8 // which death-row structure holds Entry (see deathrow.go)
}

// Init fills a record from the connection's state at tcp_time_wait
// (TW-ENTER-4/5). rcvWnd is the unscaled window max(0, rcv_wup + rcv_wnd -
// rcv_nxt) in bytes, rto the current RTO in nanoseconds, now the stack clock.
// LastOOWAckTime starts at 0. The record must not be scheduled.
func (r *Record) Init(t Tuple, sub Substate, rcvNxt, sndNxt, rcvWnd uint32, rcvWScale uint8,
	tsRecent uint32, tsRecentStamp int32, tsOffset uint32, rto int64, flags Flags, now int64) {
	*r = Record{
		Tuple:         t,
		RcvNxt:        rcvNxt,
		SndNxt:        sndNxt,
		RcvWnd:        rcvWnd,
		TSRecent:      tsRecent,
		TSRecentStamp: tsRecentStamp,
		TSOffset:      tsOffset,
		EntryStamp:    MsClock(now),
		RTO:           uint32(max(rto, 0) / 1e6),
		Substate:      sub,
		RcvWScale:     rcvWScale,
		Flags:         flags &^ (FlagRecycleOK | flagShortArm),
	}
}

// Window returns the window field of the TW ACK: W >> wscale (TW-RESP-1),
// clamped to 16 bits.
func (r *Record) Window() uint16 {
	w := r.RcvWnd >> r.RcvWScale
	if w > 0xffff {
		w = 0xffff
	}
	return uint16(w)
}

// HasTS reports whether the TW ACK carries a timestamp option: iff T != 0
// (TW-RESP-1).
func (r *Record) HasTS() bool { return r.TSRecent != 0 }

// TSVal returns the TSval of a TW ACK sent at now: ms clock + offset.
func (r *Record) TSVal(now int64) uint32 { return MsClock(now) + r.TSOffset }

// RTO35 returns the kernel's "3.5 x RTO", 4*rto - rto/2 computed on
// integer jiffies (ms), in nanoseconds.
func (r *Record) RTO35() int64 { return RTO35(int64(r.RTO) * 1e6) }

// RTO35 is 4*rto - floor(rto/2) on whole milliseconds, for an RTO in ns.
func RTO35(rto int64) int64 {
	j := max(rto, 0) / 1e6
	return (j<<2 - j>>1) * 1e6
}

// MsClock is the kernel's 32-bit millisecond clock (jiffies at HZ=1000,
// tcp_clock_ms, the TS clock before the offset).
func MsClock(now int64) uint32 { return uint32(now / 1e6) }

// SecClock is the PAWS seconds clock (ktime_get_seconds).
func SecClock(now int64) int32 { return int32(now / 1e9) }

// Segment is the part of an incoming segment TIME-WAIT processing reads; the
// stack fills it from its parsed tcp.Segment.
type Segment struct {
	Seq, Ack   uint32
	Flags      uint8 // FlagFIN... as in tcp/header
	PayloadLen int
	HasOptions bool // data offset > 5 (TW-PROC-1)
	HasTS      bool // a TS option was parsed
	TSVal      uint32
	TSEcr      uint32
}

// TCP flag bits, as in tcp/header (duplicated: timewait does not import it).
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagACK = 0x10
)

// EndSeq is seq + payload + SYN + FIN.
func (s *Segment) EndSeq() uint32 {
	e := s.Seq + uint32(s.PayloadLen)
	if s.Flags&FlagSYN != 0 {
		e++
	}
	if s.Flags&FlagFIN != 0 {
		e++
	}
	return e
}

// Profile selects whose TIME-WAIT rules apply.
type Profile uint8

const (
	// Linux618 is the reference (default): per-record timers, counters at
	// arming, PAWSTimewait, no re-arm on an ignored RST.
	Linux618 Profile = iota
	// Linux411: per-record timers counting at expiry, tw_recycle available,
	// PAWSEstab for TIME-WAIT PAWS failures, RFC 1337 RSTs re-arm.
	Linux411
	// Linux310: the central death row (8 cells of 7.5 s, kill quota, fast
	// calendar), no out-of-window ACK rate limit.
	Linux310
)

var profileNames = [...]string{Linux618: "linux-6.18", Linux411: "linux-4.11", Linux310: "linux-3.10"}

func (p Profile) String() string {
	if int(p) < len(profileNames) {
		return profileNames[p]
	}
	return fmt.Sprintf("Profile(%d)", uint8(p))
}

// ParseProfile maps "linux-6.18", "linux-4.11", "linux-3.10" (or "") to a
// Profile.
func ParseProfile(s string) (Profile, error) {
	if s == "" {
		return Linux618, nil
	}
	for p, n := range profileNames {
		if n == s {
			return Profile(p), nil
		}
	}
	return 0, fmt.Errorf("timewait: unknown profile %q", s)
}

// Config holds the sysctls TIME-WAIT processing reads.
type Config struct {
	Profile Profile
	// RFC1337 is net.ipv4.tcp_rfc1337 != 0: exact RSTs do not kill a
	// TIME_WAIT record (TW-PROC-12).
	RFC1337 bool
	// InvalidRateLimit is net.ipv4.tcp_invalid_ratelimit in ns (default
	// 500 ms); 0 disables limiting, as in the kernel (TW-PROC-18).
	InvalidRateLimit int64
	// TWRecycle is net.ipv4.tcp_tw_recycle; only the 4.11 and 3.10
	// profiles honour it (RECYCLE-*).
	TWRecycle bool
	// Peers is the per-peer timestamp cache used with TWRecycle
	// (RECYCLE-5). May be nil.
	Peers *PeerCache
}

// Constants of the spec, in nanoseconds where they are durations.
const (
	TimeWaitLen         = 60 * int64(1e9)      // CONST-1 TCP_TIMEWAIT_LEN
	ShortTimeWait       = 4 * int64(1e9)       // CONST-9: <= this counts TWKilled
	DefaultInvalidRate  = 500 * int64(1e6)     // CONST-10
	DefaultMaxTWBuckets = 131072               // tcp_max_tw_buckets default used here (SYSCTL-3)
	DefaultTWReuseDelay = 1000                 // ms, SYSCTL-2
	ISNOffset           = 65535 + 2            // CONST-8
	pawsMSL             = 60                   // CONST-4 TCP_PAWS_MSL, seconds
	pawsWrap            = 2147483647 / 1000000 // CONST-6 [6.18] TCP_PAWS_WRAP, seconds
	paws24Days          = 24 * 24 * 3600       // CONST-6 [<=6.6] seconds
	pawsWindow          = 1                    // CONST-5 TCP_PAWS_WINDOW
	overflowLogInterval = 5 * int64(1e9)       // rate limit of the optional overflow log line
	overflowLogLine     = "TCP: time wait bucket table overflow"
	legacyPeriod        = TimeWaitLen / 8  // CONST-13: 7.5 s slow-wheel period
	legacyCells         = 8                // CONST-13 INET_TWDR_TWKILL_SLOTS
	legacyQuota         = 100              // CONST-13 INET_TWDR_TWKILL_QUOTA
	legacyCalSlots      = 32               // CONST-13 INET_TWDR_RECYCLE_SLOTS
	legacyCalTick       = 128 * int64(1e6) // CONST-13: 2^7 jiffies at HZ=1000
	wheelTick           = int64(1e6)       // death-row wheel granularity: 1 ms
)

// DefaultConfig returns the 6.18 defaults.
func DefaultConfig() Config {
	return Config{Profile: Linux618, InvalidRateLimit: DefaultInvalidRate}
}

// ISN returns S + 65537, 0 becoming 1 (CONST-8): the ISN of a SYN admitted
// through TIME-WAIT (TW-PROC-14) and write_seq of a reusing connect()
// (TW-REUSE-9).
func (r *Record) ISN() uint32 {
	isn := r.SndNxt + ISNOffset
	if isn == 0 {
		isn = 1
	}
	return isn
}
