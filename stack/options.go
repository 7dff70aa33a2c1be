package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options are the per-stack knobs. Fields are named after the Linux sysctls
// they mirror (net.ipv4.*, net.core.*) and default to what a fresh network
// namespace of Linux 6.18 shows; ustack's own knobs live under "ustack.".
// Two stacks in one process each own their Options: nothing is global.
type Options struct {
	// Addrs are the local addresses of the stack; an IPv4 datagram whose
	// destination is not one of them (nor a broadcast) is dropped and
	// counted as InAddrErrors, like ip_rcv_finish's route lookup does.
	Addrs []netip.Addr
	// Clock drives every timer. Nil means the real monotonic clock.
	Clock Clock

	TCPTimestamps        int           // net.ipv4.tcp_timestamps: 0 off, 1 random offsets, 2 no offsets
	TCPSack              bool          // net.ipv4.tcp_sack
	TCPWindowScaling     bool          // net.ipv4.tcp_window_scaling
	TCPSynRetries        int           // net.ipv4.tcp_syn_retries (1..127)
	TCPSynackRetries     int           // net.ipv4.tcp_synack_retries
	TCPRetries1          int           // net.ipv4.tcp_retries1
	TCPRetries2          int           // net.ipv4.tcp_retries2
	TCPOrphanRetries     int           // net.ipv4.tcp_orphan_retries (0 means 8, ORPHAN-3)
	TCPFinTimeout        time.Duration // net.ipv4.tcp_fin_timeout (seconds)
	TCPKeepaliveTime     time.Duration // net.ipv4.tcp_keepalive_time (seconds)
	TCPKeepaliveIntvl    time.Duration // net.ipv4.tcp_keepalive_intvl (seconds)
	TCPKeepaliveProbes   int           // net.ipv4.tcp_keepalive_probes
	TCPRmem              [3]int        // net.ipv4.tcp_rmem: min default max
	TCPWmem              [3]int        // net.ipv4.tcp_wmem: min default max
	TCPCongestionControl string        // net.ipv4.tcp_congestion_control
	TCPTwReuse           int           // net.ipv4.tcp_tw_reuse: 0, 1, 2 = loopback only (SYSCTL-1)
	TCPTwReuseDelay      time.Duration // net.ipv4.tcp_tw_reuse_delay (ms, 1..60000; SYSCTL-2)
	TCPTwRecycle         int           // net.ipv4.tcp_tw_recycle: only honoured by the linux-4.11/3.10 profiles (SYSCTL-13)
	TCPMaxTwBuckets      int           // net.ipv4.tcp_max_tw_buckets (SYSCTL-3)
	TCPMaxOrphans        int           // net.ipv4.tcp_max_orphans (SYSCTL-7; global in Linux, per stack here)
	TCPRFC1337           int           // net.ipv4.tcp_rfc1337 (SYSCTL-6)
	TCPInvalidRatelimit  time.Duration // net.ipv4.tcp_invalid_ratelimit (ms; SYSCTL-11)
	TCPAbortOnOverflow   int           // net.ipv4.tcp_abort_on_overflow
	TCPMaxSynBacklog     int           // net.ipv4.tcp_max_syn_backlog
	// TCPSyncookies mirrors net.ipv4.tcp_syncookies = 1 but ustack does not
	// implement SYN cookies: a SYN the listener cannot queue is dropped as
	// if cookies were off.
	TCPSyncookies           int           // net.ipv4.tcp_syncookies
	IPLocalPortRange        [2]int        // net.ipv4.ip_local_port_range (SYSCTL-9)
	IPLocalReservedPorts    [][2]int      // net.ipv4.ip_local_reserved_ports: inclusive ranges skipped by automatic port selection (SYSCTL-10, PORT-4)
	IPUnprivilegedPortStart int           // net.ipv4.ip_unprivileged_port_start (bounds the port range)
	IPDefaultTTL            int           // net.ipv4.ip_default_ttl
	IPFragTime              time.Duration // net.ipv4.ipfrag_time (seconds)
	IPFragHighThresh        int           // net.ipv4.ipfrag_high_thresh (bytes of reassembly memory)
	ICMPEchoIgnoreAll       int           // net.ipv4.icmp_echo_ignore_all
	Somaxconn               int           // net.core.somaxconn
	CoreRmemMax             int           // net.core.rmem_max: SO_RCVBUF is capped at it before doubling
	CoreWmemMax             int           // net.core.wmem_max: SO_SNDBUF is capped at it before doubling

	TCPSlowStartAfterIdle bool // net.ipv4.tcp_slow_start_after_idle
	TCPDsack              bool // net.ipv4.tcp_dsack
	TCPReordering         int  // net.ipv4.tcp_reordering (initial reordering degree)
	TCPEarlyRetrans       int  // net.ipv4.tcp_early_retrans (0..4; 3 = tail loss probes)
	// TCPFrto (F-RTO, RFC 5682; 2 = Linux's default) and TCPRecovery
	// (bit 1 = RACK loss detection, 2 = static reordering window,
	// 4 = no duplicate-ACK threshold) reach the engine as on Linux.
	TCPFrto         int   // net.ipv4.tcp_frto
	TCPRecovery     int   // net.ipv4.tcp_recovery
	TCPNotsentLowat int64 // net.ipv4.tcp_notsent_lowat (u32; UINT_MAX = no limit)

	// Workers is the number of packet workers (ustack.workers); 0 means
	// GOMAXPROCS.
	Workers int
	// TimeWaitProfile selects whose TIME-WAIT rules apply
	// (ustack.timewait_profile): "linux-6.18", "linux-4.11" or "linux-3.10".
	TimeWaitProfile string
	// TSClockSkew is added to the timestamp-option clock of every
	// connection and TIME-WAIT record (ustack.ts_clock_skew, ms, either
	// sign), so tests can give two stacks different timestamp clocks or
	// move a running stack's TSvals backwards (the peer then sees PAWS
	// failures). It can change on a running stack; timers are unaffected.
	TSClockSkew time.Duration
	// Manual disables the reader, worker and timer goroutines
	// (ustack.manual): packets enter only through DeliverPacket and timers
	// run only when a VirtualClock is advanced. For packet-level tests.
	Manual bool
	// Logf receives the kernel's operator log lines ("TCP: time wait bucket
	// table overflow", "TCP: too many orphaned sockets"), each already
	// rate-limited. Nil means the standard log package.
	Logf func(format string, args ...any)
}

// Timewait profiles.
const (
	ProfileLinux618 = "linux-6.18"
	ProfileLinux411 = "linux-4.11"
	ProfileLinux310 = "linux-3.10"
)

// DefaultOptions returns the defaults of a fresh Linux 6.18 network namespace
// on a 24 GiB machine (read with unshare -n). tcp_congestion_control is the
// upstream Kconfig default (cubic); a distribution kernel may show bbr.
func DefaultOptions() Options {
	return Options{
		TCPTimestamps:           1,
		TCPSack:                 true,
		TCPWindowScaling:        true,
		TCPSynRetries:           6,
		TCPSynackRetries:        5,
		TCPRetries1:             3,
		TCPRetries2:             15,
		TCPOrphanRetries:        0,
		TCPFinTimeout:           60 * time.Second,
		TCPKeepaliveTime:        7200 * time.Second,
		TCPKeepaliveIntvl:       75 * time.Second,
		TCPKeepaliveProbes:      9,
		TCPRmem:                 [3]int{4096, 131072, 33554432},
		TCPWmem:                 [3]int{4096, 16384, 4194304},
		TCPCongestionControl:    "cubic",
		TCPTwReuse:              2,
		TCPTwReuseDelay:         1000 * time.Millisecond,
		TCPTwRecycle:            0,
		TCPMaxTwBuckets:         131072,
		TCPMaxOrphans:           131072,
		TCPRFC1337:              0,
		TCPInvalidRatelimit:     500 * time.Millisecond,
		TCPAbortOnOverflow:      0,
		TCPMaxSynBacklog:        2048,
		TCPSyncookies:           1,
		IPLocalPortRange:        [2]int{32768, 60999},
		IPUnprivilegedPortStart: 1024,
		IPDefaultTTL:            64,
		IPFragTime:              30 * time.Second,
		IPFragHighThresh:        4 << 20,
		ICMPEchoIgnoreAll:       0,
		Somaxconn:               4096,
		CoreRmemMax:             212992,
		CoreWmemMax:             212992,
		TCPSlowStartAfterIdle:   true,
		TCPDsack:                true,
		TCPReordering:           3,
		TCPEarlyRetrans:         3,
		TCPFrto:                 2,
		TCPRecovery:             1,
		TCPNotsentLowat:         1<<32 - 1,
		TimeWaitProfile:         ProfileLinux618,
	}
}

// ErrUnknownOption is wrapped by Set and Get for a name no knob answers to.
var ErrUnknownOption = errors.New("unknown option")

// ErrInvalidValue is wrapped by Set for a value the knob rejects (EINVAL in
// Linux).
var ErrInvalidValue = errors.New("invalid value")

type knob struct {
	get func(o *Options) string
	set func(o *Options, v string) error
}

func intKnob(f func(o *Options) *int, lo, hi int) knob {
	return knob{
		get: func(o *Options) string { return strconv.Itoa(*f(o)) },
		set: func(o *Options, v string) error {
			n, err := parseInt(v, lo, hi)
			if err != nil {
				return err
			}
			*f(o) = n
			return nil
		},
	}
}

func boolKnob(f func(o *Options) *bool) knob {
	return knob{
		get: func(o *Options) string {
			if *f(o) {
				return "1"
			}
			return "0"
		},
		set: func(o *Options, v string) error {
			n, err := parseInt(v, 0, 255)
			if err != nil {
				return err
			}
			*f(o) = n != 0
			return nil
		},
	}
}

// durKnob is a duration written and read in unit (time.Second for the
// jiffies-in-seconds sysctls, time.Millisecond for the _ms ones).
func durKnob(f func(o *Options) *time.Duration, unit time.Duration, lo, hi int) knob {
	return knob{
		get: func(o *Options) string { return strconv.FormatInt(int64(*f(o)/unit), 10) },
		set: func(o *Options, v string) error {
			n, err := parseInt(v, lo, hi)
			if err != nil {
				return err
			}
			*f(o) = time.Duration(n) * unit
			return nil
		},
	}
}

func vecKnob(f func(o *Options) []int, lo, hi int, check func([]int) error) knob {
	return knob{
		get: func(o *Options) string {
			v := f(o)
			s := make([]string, len(v))
			for i, n := range v {
				s[i] = strconv.Itoa(n)
			}
			return strings.Join(s, "\t")
		},
		set: func(o *Options, v string) error {
			dst := f(o)
			fields := strings.Fields(v)
			if len(fields) != len(dst) {
				return fmt.Errorf("%w: want %d integers, got %q", ErrInvalidValue, len(dst), v)
			}
			vals := make([]int, len(dst))
			for i, s := range fields {
				n, err := parseInt(s, lo, hi)
				if err != nil {
					return err
				}
				vals[i] = n
			}
			if check != nil {
				if err := check(vals); err != nil {
					return err
				}
			}
			copy(dst, vals)
			return nil
		},
	}
}

const maxInt32 = 1<<31 - 1

var knobs = map[string]knob{
	"net.ipv4.tcp_timestamps":       intKnob(func(o *Options) *int { return &o.TCPTimestamps }, 0, 2),
	"net.ipv4.tcp_sack":             boolKnob(func(o *Options) *bool { return &o.TCPSack }),
	"net.ipv4.tcp_window_scaling":   boolKnob(func(o *Options) *bool { return &o.TCPWindowScaling }),
	"net.ipv4.tcp_syn_retries":      intKnob(func(o *Options) *int { return &o.TCPSynRetries }, 1, 127),
	"net.ipv4.tcp_synack_retries":   intKnob(func(o *Options) *int { return &o.TCPSynackRetries }, 0, 255),
	"net.ipv4.tcp_retries1":         intKnob(func(o *Options) *int { return &o.TCPRetries1 }, 0, 255),
	"net.ipv4.tcp_retries2":         intKnob(func(o *Options) *int { return &o.TCPRetries2 }, 0, maxInt32),
	"net.ipv4.tcp_orphan_retries":   intKnob(func(o *Options) *int { return &o.TCPOrphanRetries }, 0, 255),
	"net.ipv4.tcp_fin_timeout":      durKnob(func(o *Options) *time.Duration { return &o.TCPFinTimeout }, time.Second, 0, maxInt32/1000),
	"net.ipv4.tcp_keepalive_time":   durKnob(func(o *Options) *time.Duration { return &o.TCPKeepaliveTime }, time.Second, 1, 32767),
	"net.ipv4.tcp_keepalive_intvl":  durKnob(func(o *Options) *time.Duration { return &o.TCPKeepaliveIntvl }, time.Second, 1, 32767),
	"net.ipv4.tcp_keepalive_probes": intKnob(func(o *Options) *int { return &o.TCPKeepaliveProbes }, 1, 127),
	"net.ipv4.tcp_rmem":             vecKnob(func(o *Options) []int { return o.TCPRmem[:] }, 1, maxInt32, nil),
	"net.ipv4.tcp_wmem":             vecKnob(func(o *Options) []int { return o.TCPWmem[:] }, 1, maxInt32, nil),
	"net.ipv4.tcp_congestion_control": {
		get: func(o *Options) string { return o.TCPCongestionControl },
		set: func(o *Options, v string) error {
			v = strings.TrimSpace(v)
			// The algorithms tcp/cc implements (tcp_available_congestion_control).
			if v != "cubic" && v != "reno" {
				return fmt.Errorf("%w: congestion control %q not available (have cubic reno)", ErrInvalidValue, v)
			}
			o.TCPCongestionControl = v
			return nil
		},
	},
	"net.ipv4.tcp_tw_reuse":               intKnob(func(o *Options) *int { return &o.TCPTwReuse }, 0, 2),
	"net.ipv4.tcp_tw_reuse_delay":         durKnob(func(o *Options) *time.Duration { return &o.TCPTwReuseDelay }, time.Millisecond, 1, 60000),
	"net.ipv4.tcp_tw_recycle":             intKnob(func(o *Options) *int { return &o.TCPTwRecycle }, 0, 1),
	"net.ipv4.tcp_max_tw_buckets":         intKnob(func(o *Options) *int { return &o.TCPMaxTwBuckets }, 0, maxInt32),
	"net.ipv4.tcp_max_orphans":            intKnob(func(o *Options) *int { return &o.TCPMaxOrphans }, 0, maxInt32),
	"net.ipv4.tcp_rfc1337":                intKnob(func(o *Options) *int { return &o.TCPRFC1337 }, 0, 255),
	"net.ipv4.tcp_invalid_ratelimit":      durKnob(func(o *Options) *time.Duration { return &o.TCPInvalidRatelimit }, time.Millisecond, 0, maxInt32),
	"net.ipv4.tcp_abort_on_overflow":      intKnob(func(o *Options) *int { return &o.TCPAbortOnOverflow }, 0, 255),
	"net.ipv4.tcp_max_syn_backlog":        intKnob(func(o *Options) *int { return &o.TCPMaxSynBacklog }, 0, maxInt32),
	"net.ipv4.tcp_syncookies":             intKnob(func(o *Options) *int { return &o.TCPSyncookies }, 0, 2),
	"net.ipv4.ip_local_port_range":        vecKnob(func(o *Options) []int { return o.IPLocalPortRange[:] }, 1, 65535, nil),
	"net.ipv4.ip_unprivileged_port_start": intKnob(func(o *Options) *int { return &o.IPUnprivilegedPortStart }, 0, 65535),
	"net.ipv4.ip_default_ttl":             intKnob(func(o *Options) *int { return &o.IPDefaultTTL }, 1, 255),
	"net.ipv4.ipfrag_time":                durKnob(func(o *Options) *time.Duration { return &o.IPFragTime }, time.Second, 0, maxInt32/1000),
	"net.ipv4.ipfrag_high_thresh":         intKnob(func(o *Options) *int { return &o.IPFragHighThresh }, 0, maxInt32),
	"net.ipv4.icmp_echo_ignore_all":       intKnob(func(o *Options) *int { return &o.ICMPEchoIgnoreAll }, 0, 1),
	"net.core.somaxconn":                  intKnob(func(o *Options) *int { return &o.Somaxconn }, 0, maxInt32),
	"net.core.rmem_max":                   intKnob(func(o *Options) *int { return &o.CoreRmemMax }, 0, maxInt32),
	"net.core.wmem_max":                   intKnob(func(o *Options) *int { return &o.CoreWmemMax }, 0, maxInt32),
	"net.ipv4.tcp_slow_start_after_idle":  boolKnob(func(o *Options) *bool { return &o.TCPSlowStartAfterIdle }),
	"net.ipv4.tcp_dsack":                  boolKnob(func(o *Options) *bool { return &o.TCPDsack }),
	"net.ipv4.tcp_reordering":             intKnob(func(o *Options) *int { return &o.TCPReordering }, 1, maxInt32),
	"net.ipv4.tcp_early_retrans":          intKnob(func(o *Options) *int { return &o.TCPEarlyRetrans }, 0, 4),
	"net.ipv4.tcp_frto":                   intKnob(func(o *Options) *int { return &o.TCPFrto }, -maxInt32-1, maxInt32),
	"net.ipv4.tcp_recovery":               intKnob(func(o *Options) *int { return &o.TCPRecovery }, -maxInt32-1, maxInt32),
	"net.ipv4.tcp_notsent_lowat": {
		get: func(o *Options) string { return strconv.FormatInt(o.TCPNotsentLowat, 10) },
		set: func(o *Options, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 || n > 1<<32-1 {
				return fmt.Errorf("%w: %q is not an unsigned 32-bit integer", ErrInvalidValue, v)
			}
			o.TCPNotsentLowat = n
			return nil
		},
	},

	"net.ipv4.ip_local_reserved_ports": {
		get: func(o *Options) string {
			parts := make([]string, len(o.IPLocalReservedPorts))
			for i, r := range o.IPLocalReservedPorts {
				parts[i] = strconv.Itoa(r[0])
				if r[1] != r[0] {
					parts[i] += "-" + strconv.Itoa(r[1])
				}
			}
			return strings.Join(parts, ",")
		},
		set: func(o *Options, v string) error {
			var out [][2]int
			for _, part := range strings.Split(strings.TrimSpace(v), ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				lo, hi, isRange := strings.Cut(part, "-")
				a, err := parseInt(lo, 1, 65535)
				if err != nil {
					return err
				}
				b := a
				if isRange {
					if b, err = parseInt(hi, 1, 65535); err != nil {
						return err
					}
				}
				if b < a {
					return fmt.Errorf("%w: reserved range %q is inverted", ErrInvalidValue, part)
				}
				out = append(out, [2]int{a, b})
			}
			o.IPLocalReservedPorts = out
			return nil
		},
	},

	"ustack.workers": intKnob(func(o *Options) *int { return &o.Workers }, 0, 1024),
	"ustack.timewait_profile": {
		get: func(o *Options) string { return o.TimeWaitProfile },
		set: func(o *Options, v string) error {
			switch v = strings.TrimSpace(v); v {
			case ProfileLinux618, ProfileLinux411, ProfileLinux310:
				o.TimeWaitProfile = v
				return nil
			}
			return fmt.Errorf("%w: timewait profile %q (want %s, %s or %s)", ErrInvalidValue, v, ProfileLinux618, ProfileLinux411, ProfileLinux310)
		},
	},
	"ustack.ts_clock_skew": durKnob(func(o *Options) *time.Duration { return &o.TSClockSkew }, time.Millisecond, -maxInt32, maxInt32),
	"ustack.manual":        boolKnob(func(o *Options) *bool { return &o.Manual }),
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not an integer", ErrInvalidValue, v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w: %d out of range [%d, %d]", ErrInvalidValue, n, lo, hi)
	}
	return n, nil
}

// canonical accepts "net.ipv4.x" and "net/ipv4/x" (the /proc/sys path form).
func canonical(name string) string {
	name = strings.TrimPrefix(strings.TrimSpace(name), "/proc/sys/")
	return strings.ReplaceAll(name, "/", ".")
}

// Set changes the knob called name ("net.ipv4.tcp_tw_reuse" or
// "net/ipv4/tcp_tw_reuse"). Unknown names wrap ErrUnknownOption; values the
// kernel would refuse wrap ErrInvalidValue, and o is left unchanged.
func (o *Options) Set(name, value string) error {
	cn := canonical(name)
	k, ok := knobs[cn]
	if !ok {
		return fmt.Errorf("stack: set %s: %w", name, ErrUnknownOption)
	}
	saved := *o
	if err := k.set(o, value); err != nil {
		return fmt.Errorf("stack: set %s: %w", name, err)
	}
	if err := o.validate(); err != nil {
		*o = saved
		return fmt.Errorf("stack: set %s: %w", name, err)
	}
	return nil
}

// Get returns the knob's value formatted like reading /proc/sys.
func (o *Options) Get(name string) (string, error) {
	k, ok := knobs[canonical(name)]
	if !ok {
		return "", fmt.Errorf("stack: get %s: %w", name, ErrUnknownOption)
	}
	return k.get(o), nil
}

// List returns every knob name, sorted.
func (o *Options) List() []string {
	names := make([]string, 0, len(knobs))
	for n := range knobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// validate checks the cross-field rules Linux applies when a sysctl is
// written (SYSCTL-9: the port range must be ordered and start at or above
// ip_unprivileged_port_start).
func (o *Options) validate() error {
	lo, hi := o.IPLocalPortRange[0], o.IPLocalPortRange[1]
	if lo < 1 || hi > 65535 || hi < lo {
		return fmt.Errorf("%w: ip_local_port_range %d %d is not an ordered range in [1, 65535]", ErrInvalidValue, lo, hi)
	}
	if lo < o.IPUnprivilegedPortStart {
		return fmt.Errorf("%w: ip_local_port_range starts at %d, below ip_unprivileged_port_start %d", ErrInvalidValue, lo, o.IPUnprivilegedPortStart)
	}
	for _, v := range [][3]int{o.TCPRmem, o.TCPWmem} {
		if v[0] < 1 || v[1] < 1 || v[2] < 1 {
			return fmt.Errorf("%w: tcp_rmem/tcp_wmem values must be positive", ErrInvalidValue)
		}
	}
	switch o.TimeWaitProfile {
	case ProfileLinux618, ProfileLinux411, ProfileLinux310:
	default:
		return fmt.Errorf("%w: timewait profile %q", ErrInvalidValue, o.TimeWaitProfile)
	}
	if o.TCPTwReuseDelay < time.Millisecond || o.TCPTwReuseDelay > 60*time.Second {
		return fmt.Errorf("%w: tcp_tw_reuse_delay must be in [1, 60000] ms", ErrInvalidValue)
	}
	if o.Workers < 0 {
		return fmt.Errorf("%w: negative worker count", ErrInvalidValue)
	}
	return nil
}

// reservedPort reports whether port is in ip_local_reserved_ports.
func (o *Options) reservedPort(port int) bool {
	for _, r := range o.IPLocalReservedPorts {
		if port >= r[0] && port <= r[1] {
			return true
		}
	}
	return false
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}
