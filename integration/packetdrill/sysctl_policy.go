package packetdrill

import (
	"fmt"
	"strconv"

	"github.com/ustack/ustack/tcp"
)

// Assumption is the runner's decision about a sysctl the stack's Options
// have no knob for.
type Assumption struct {
	OK   bool   // the script can run
	Note string // why (shown with -v)
	// Cond names a runtime condition under which the setting would have
	// mattered; the runner watches for it and reports the script
	// unsupported when it happens (CondIdleRestart).
	Cond string
}

// CondIdleRestart: tcp_slow_start_after_idle=0 was asked for but the
// engine restarts cwnd after idle; results are only trusted while the
// sender never starts new data after an idle period that could exceed its
// RTO (TCP_RTO_MIN, 200 ms).
const CondIdleRestart = "idle-restart"

// SysctlBehavior decides about a sysctl the stack has no knob for, given
// the engine configuration the stack will run with. The rule: accept a
// value the engine already has; accept Linux 6.18's default (ustack's
// target), so that a stack that deviates from it fails the script rather
// than hiding behind "unsupported"; accept settings of features that
// cannot come into play here (TSO, pacing without fq, Fast Open without
// cookies in any packet, AccECN); refuse everything else.
func SysctlBehavior(name, value string, eng *tcp.Config) Assumption {
	n, numErr := strconv.ParseInt(value, 0, 64)
	num := numErr == nil
	ok := func(note string) Assumption { return Assumption{OK: true, Note: note} }
	short := name
	if len(name) > 9 && name[:9] == "net.ipv4." {
		short = name[9:]
	}
	switch name {
	case "net.ipv4.tcp_dsack":
		if num && (n != 0) == eng.DSACK {
			return ok(fmt.Sprintf("tcp_dsack=%d is the engine's setting (no knob)", n))
		}
	case "net.ipv4.tcp_fack":
		return ok("tcp_fack has had no effect since Linux 4.15")
	case "net.ipv4.tcp_reordering":
		if num && int(n) == eng.Reordering {
			return ok(fmt.Sprintf("tcp_reordering=%d is the engine's setting (no knob)", n))
		}
	case "net.ipv4.tcp_early_retrans":
		// In Linux 6.x 3 and 4 both mean "TLP on" (3 is the default).
		tlp := func(v int) bool { return v == 3 || v == 4 }
		if num && tlp(int(n)) {
			if tlp(eng.EarlyRetrans) {
				return ok("tcp_early_retrans: TLP on, as in the engine (no knob)")
			}
			return ok(fmt.Sprintf("tcp_early_retrans=%d (TLP on) is the Linux default, but the engine has %d (TLP off): scripts relying on TLP will fail", n, eng.EarlyRetrans))
		}
		if num && int(n) == eng.EarlyRetrans {
			return ok(fmt.Sprintf("tcp_early_retrans=%d is the engine's setting (no knob)", n))
		}
	case "net.ipv4.tcp_slow_start_after_idle":
		if num && (n != 0) == eng.SlowStartAfterIdle {
			return ok(fmt.Sprintf("tcp_slow_start_after_idle=%d is the engine's setting (no knob)", n))
		}
		if num && n == 0 {
			return Assumption{OK: true, Cond: CondIdleRestart,
				Note: "tcp_slow_start_after_idle=0 but the engine restarts cwnd after idle (no knob): trusted only while no new data follows an idle period"}
		}
	case "net.ipv4.tcp_tso_win_divisor", "net.ipv4.tcp_min_tso_segs":
		return ok(short + " ignored: ustack sends one MSS per packet (no TSO deferral)")
	case "net.ipv4.tcp_pacing_ss_ratio", "net.ipv4.tcp_pacing_ca_ratio":
		return ok(short + " ignored: pacing only happens under an fq qdisc, which is unsupported")
	case "net.ipv4.tcp_ecn":
		if num && (n == 0 || n == 2) {
			return ok("tcp_ecn=0/2: ustack neither requests nor accepts ECN, which is what 0 does and what 2 does for SYNs without ECN flags")
		}
	case "net.ipv4.tcp_ecn_option":
		return ok("tcp_ecn_option ignored: it only applies to AccECN connections, which ustack does not negotiate")
	case "net.ipv4.tcp_notsent_lowat":
		if num && n == 4294967295 {
			return ok("tcp_notsent_lowat=UINT_MAX is the Linux default (no knob)")
		}
	case "net.ipv4.tcp_fastopen":
		// Server bits only matter for SYNs carrying a Fast Open option and
		// the client bit only with MSG_FASTOPEN; the runner rejects both.
		return ok("tcp_fastopen ignored: no packet carries a Fast Open option and MSG_FASTOPEN is unsupported")
	case "net.ipv4.tcp_fastopen_key":
		return ok("tcp_fastopen_key ignored (no Fast Open)")
	}
	return Assumption{}
}
