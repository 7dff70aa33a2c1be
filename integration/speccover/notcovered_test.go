package speccover

// notCovered lists the spec's rules that no test cites yet, with the reason.
var notCovered = map[string]string{
	// Editorial notes on the spec's sources: nothing to test.
	"NOTE-1": "editorial note on the reference tree (mirror of 6.18.19), nothing to test",
	"NOTE-2": "editorial note on when TW/TWKilled moved to arm time; the 4.11 and 6.18 behaviours are tested (timewait TestProfile411Counting, TestDeathRowTimeWait60s)",
	"NOTE-3": "editorial note on when the rfc1337 RST stopped re-arming; both behaviours are tested (timewait TestTWProc, VER-2 rows)",
	"NOTE-4": "editorial note on the last kernel that printed the overflow line, nothing to test",
	"NOTE-5": "editorial note on release dates of features, nothing to test",
	"NOTE-6": "editorial note on which TS-offset variants were read, nothing to test",
	"NOTE-7": "lists topics the spec leaves out (MD5/AO, MPTCP, TFO, repair, netns purge, bhash2 details), nothing to test",
	"NOTE-8": "editorial note: HZ-dependent timings come from kernel comments; ustack runs timers on its own 1 ms wheel, never early (timewait/wheel tests)",
	"NOTE-9": "records which rules were cross-checked on a live 6.18.44 kernel; the rules themselves are cited by their own tests",

	// Historical / descriptive version notes.
	"VER-1":  "history of the TIME-WAIT structures (3.10 .. 6.11); ustack models only the profiles linux-6.18/4.11/3.10, see timewait TestProfile310*, TestProfile411Counting, TestDeathRow*",
	"VER-12": "port search history: ustack uses the 6.18 RFC 6056 search (PORT-2/6) for every profile; the 4.11 global-hint search (PORT-7) is not modelled",

	"PORT-7":    "4.11 port search (global hint, no time slot) not implemented: the timewait profile switches only TIME-WAIT behaviour, connect() always uses the 6.18 search (stack TestPORT6_ConsecutiveConnectsMoveForward)",
	"RECYCLE-8": "tcp_peer_is_proven under SYN pressure not implemented: ustack has no per-destination metrics/RTT cache and no SYN-flood path besides the accept-queue limit",
	"MIB-14":    "TCPAbortFailed needs a RST that cannot be built or sent; tcp.Emitter.Buffer cannot fail in ustack, so the counter never moves",

	"TW-LOOKUP-2":  "ustack has no device binding (SO_BINDTODEVICE) and no VRF/L3 master devices: every entry matches every ingress",
	"TW-LOOKUP-10": "3.10's separate TIME-WAIT chain has no observable difference from one chain (same result as TW-LOOKUP-1); ustack's 3.10 profile uses the one table (stack TestTableOneEntryPerTuple)",
	"TW-REUSE-11":  "a ustack socket cannot connect() twice: each Dial builds a fresh connection, and inherited TS state/write_seq are only taken from the record of the exact 4-tuple reused (tcp TestActiveOpenTimeWaitReuse), so there is never state to clear for another destination",

	"SYSCTL-12": "no tcp_challenge_ack_limit knob and no global challenge-ACK limiter in ustack (equivalent to the 6.18 default INT_MAX); the per-socket limiter is tested by tcp TestRSTRules / TestACKOfUnsentDataChallengeACK",
	"SYSCTL-15": "tcp_l3mdev_accept: no VRF in ustack (see TW-LOOKUP-2); tcp_syncookies default 1 is in stack TestOptionsDefaults but syncookies play no part in TW admission",
	"SYSCTL-16": "cross-reference list of socket options; each is tested under its own rule (SO_LINGER CLOSE-7, TCP_LINGER2 FW2-8/CONST-3, SO_REUSEADDR PORT-8, TCP_USER_TIMEOUT tcp TestUserTimeout*) except IP_LOCAL_PORT_RANGE, which ustack does not implement",
}
