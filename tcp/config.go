package tcp

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"sync/atomic"
	"time"
)

// Config holds the sysctl-derived knobs of one stack. It is read-only once
// connections use it; every stack has its own (no package-level state).
// Durations are in nanoseconds of the stack clock.
type Config struct {
	// MTU of the link; our advertised MSS is MTU - 40.
	MTU int
	// RMem and WMem are net.ipv4.tcp_rmem / tcp_wmem (min, default, max).
	RMem, WMem [3]int

	Timestamps    uint8 // tcp_timestamps: 0 off, 1 on with keyed offset, 2 on without offset
	SACK          bool  // tcp_sack
	WindowScaling bool  // tcp_window_scaling
	DSACK         bool  // tcp_dsack

	SynRetries    int // tcp_syn_retries (6)
	SynAckRetries int // tcp_synack_retries (5)
	Retries2      int // tcp_retries2 (15)
	OrphanRetries int // tcp_orphan_retries (0 means 8)
	Reordering    int // tcp_reordering (3)
	EarlyRetrans  int // tcp_early_retrans (3: tail loss probes on)
	FRTO          int // tcp_frto: 0 off, else F-RTO after an RTO (Linux default 2)
	// Recovery is tcp_recovery, a bit set: RecoveryRACK (the default 1)
	// detects losses by RACK; without it SACK connections mark losses by
	// the duplicate-ACK threshold alone (tcp_update_scoreboard).
	// RecoveryStaticReoWnd and RecoveryNoDupthresh are Linux's bits 2 and 4.
	Recovery int
	InitCwnd uint32
	// SlowStartAfterIdle is tcp_slow_start_after_idle (default on).
	SlowStartAfterIdle bool

	FinTimeout       time.Duration // tcp_fin_timeout (60 s)
	KeepaliveTime    time.Duration // tcp_keepalive_time (7200 s)
	KeepaliveIntvl   time.Duration // tcp_keepalive_intvl (75 s)
	KeepaliveProbes  int           // tcp_keepalive_probes (9)
	InvalidRateLimit time.Duration // tcp_invalid_ratelimit (500 ms)

	RTOMin  time.Duration // TCP_RTO_MIN (200 ms)
	RTOMax  time.Duration // TCP_RTO_MAX (120 s)
	RTOInit time.Duration // TCP_TIMEOUT_INIT (1 s)

	// DelAckMin / DelAckMax are TCP_DELACK_MIN (40 ms) / TCP_DELACK_MAX (200 ms);
	// ATOMin is TCP_ATO_MIN (40 ms).
	DelAckMin, DelAckMax, ATOMin time.Duration

	// CongestionControl names the tcp/cc algorithm ("cubic", "reno").
	CongestionControl string

	// NoTimeWaitRecords keeps a closed connection in a plain 60 s TIME_WAIT
	// inside the Conn instead of asking the stack (EventTimeWait) to replace
	// it by a record. It is the fallback for stacks without records.
	NoTimeWaitRecords bool

	// NotSentLowat is tcp_notsent_lowat: with a value > 0 a connection is
	// writable only while fewer unsent bytes are queued (see
	// Conn.SetNotSentLowat). 0 is the kernel's default of UINT_MAX (off).
	NotSentLowat int
	// TooManyOrphans is tcp_too_many_orphans (ORPHAN-2): it reports whether
	// the stack's orphan count, as of its last 100 ms refresh (CONST-11),
	// shifted left by shift exceeds tcp_max_orphans. The engine asks at
	// close (CLOSE-16, shift 0) and at an orphan's retransmission and
	// zero-window probe timeouts (ORPHAN-6). It is called with the
	// connection's lock held and must not call back into the connection.
	// Nil means never too many.
	TooManyOrphans func(shift int) bool
	// Logf receives the kernel's rate-limited log lines ("too many orphaned
	// sockets"); the stack rate limits and prefixes them. Nil drops them.
	Logf func(format string, args ...any)

	// Secret keys the ISN and timestamp-offset hashes (RFC 6528).
	Secret [16]byte
	// TSSkew, if set, is added (in ns, either sign) to the timestamp-option
	// clock of every connection that shares it, at each use, so a test can
	// move a running stack's TSvals back or forth (ustack.ts_clock_skew)
	// without moving its timers.
	TSSkew *atomic.Int64
}

// DefaultConfig returns Linux 6.18's defaults with a fresh random secret.
func DefaultConfig() *Config {
	c := &Config{
		MTU:                1500,
		RMem:               [3]int{4096, 131072, 6 << 20},
		WMem:               [3]int{4096, 16384, 4 << 20},
		Timestamps:         1,
		SACK:               true,
		WindowScaling:      true,
		DSACK:              true,
		SynRetries:         6,
		SynAckRetries:      5,
		Retries2:           15,
		OrphanRetries:      0,
		Reordering:         3,
		EarlyRetrans:       3,
		FRTO:               2,
		Recovery:           RecoveryRACK,
		InitCwnd:           10,
		SlowStartAfterIdle: true,
		FinTimeout:         60 * time.Second,
		KeepaliveTime:      7200 * time.Second,
		KeepaliveIntvl:     75 * time.Second,
		KeepaliveProbes:    9,
		InvalidRateLimit:   500 * time.Millisecond,
		RTOMin:             200 * time.Millisecond,
		RTOMax:             120 * time.Second,
		RTOInit:            time.Second,
		DelAckMin:          40 * time.Millisecond,
		DelAckMax:          200 * time.Millisecond,
		ATOMin:             40 * time.Millisecond,
		CongestionControl:  "cubic",
	}
	_, _ = rand.Read(c.Secret[:])
	return c
}

// tcp_recovery bits (TCP_RACK_LOSS_DETECTION, TCP_RACK_STATIC_REO_WND,
// TCP_RACK_NO_DUPTHRESH).
const (
	RecoveryRACK         = 0x1
	RecoveryStaticReoWnd = 0x2
	RecoveryNoDupthresh  = 0x4
)

// Fixed kernel constants that are not sysctls.
const (
	timeWaitLen     = 60 * time.Second // TCP_TIMEWAIT_LEN
	pawsWrapSeconds = 2147             // TCP_PAWS_WRAP: ts_recent expiry (s)
	pawsMSLSeconds  = 60               // TCP_PAWS_MSL
	pawsWindow      = 1                // TCP_PAWS_WINDOW
	maxQuickAcks    = 16               // TCP_MAX_QUICKACKS
	defaultMSS      = 536              // TCP_MSS_DEFAULT when the SYN has none
	minMSS          = 88               // TCP_MIN_MSS
	compSACKNr      = 44               // tcp_comp_sack_nr
	compSACKDelay   = time.Millisecond // tcp_comp_sack_delay_ns
	maxWScale       = 14               // TCP_MAX_WSCALE
)

func (cfg *Config) advMSS() int {
	m := cfg.MTU - 40
	if m < minMSS {
		m = minMSS
	}
	return m
}

// ISN returns the secure initial sequence number of RFC 6528 as Linux's
// secure_tcp_seq computes it: a keyed hash of the 4-tuple plus a clock
// ticking every 64 ns.
func ISN(cfg *Config, t Tuple, now Time) uint32 {
	return uint32(tupleHash(cfg, t)) + uint32(uint64(now)>>6)
}

// TSOffset returns the timestamp offset of t's connections. Linux 6.18.17+
// (the reference 6.18.19) derives it from the same keyed 4-tuple hash as
// the ISN (secure_tcp_seq_and_ts_off, TW-REUSE-13), so every incarnation of
// a 4-tuple continues the same TS clock. 0 unless tcp_timestamps is 1.
func TSOffset(cfg *Config, t Tuple) uint32 {
	if cfg.Timestamps != 1 {
		return 0
	}
	return uint32(tupleHash(cfg, t) >> 32)
}

func tupleHash(cfg *Config, t Tuple) uint64 {
	var w [2]uint64
	w[0] = uint64(binary.BigEndian.Uint32(t.LocalAddr[:]))<<32 | uint64(binary.BigEndian.Uint32(t.RemoteAddr[:]))
	w[1] = uint64(t.LocalPort)<<16 | uint64(t.RemotePort)
	return siphash24(cfg.Secret, w)
}

// siphash24 is SipHash-2-4 of two 64-bit words under a 128-bit key.
func siphash24(key [16]byte, m [2]uint64) uint64 {
	k0 := binary.LittleEndian.Uint64(key[0:])
	k1 := binary.LittleEndian.Uint64(key[8:])
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	for _, w := range m {
		v3 ^= w
		round()
		round()
		v0 ^= w
	}
	b := uint64(16) << 56
	v3 ^= b
	round()
	round()
	v0 ^= b
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
