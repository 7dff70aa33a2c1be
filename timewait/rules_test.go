package timewait

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// notHere lists the spec rules this package does not test, and why: they
// belong to the engine (tcp/), the stack (stack/: table, listeners, ports,
// options, /proc), or are descriptive. TestRulesAccounted checks that every
// rule of the spec is either cited by a test of this package, mapped in
// coveredBy, or listed here.
var notHere = map[string]string{
	"CONST-2":  "tcp_fin_timeout default: stack options / tcp engine (FW2-5)",
	"CONST-3":  "TCP_LINGER2 cap: tcp engine socket option",
	"CONST-7":  "RTO bounds: tcp engine",
	"CONST-11": "orphan-count refresh: stack",
	"CONST-12": "ephemeral port shuffle: stack port allocator",

	"TW-LOOKUP-1":  "ehash lookup: stack table (recommended layout in the report: map[tcp.Tuple]uint32 handle + Pool)",
	"TW-LOOKUP-2":  "device binding match: stack",
	"TW-LOOKUP-3":  "in-place replacement of the socket by the record: stack table",
	"TW-LOOKUP-4":  "record shadows listener: stack demux",
	"TW-LOOKUP-5":  "listener selection: stack",
	"TW-LOOKUP-6":  "no-socket RST: stack + tcp.SendReset",
	"TW-LOOKUP-7":  "listener handling of non-SYN: stack/tcp",
	"TW-LOOKUP-8":  "bind buckets held by records: stack port table",
	"TW-LOOKUP-9":  "checksum before TW processing: stack",
	"TW-LOOKUP-10": "historical 3.10 two-chain lookup: no observable difference (stack)",

	"FW2-1":  "tcp engine state machine",
	"FW2-2":  "tcp engine close path (decides the FIN_WAIT2 record timeout passed to DeathRow.Schedule)",
	"FW2-3":  "tcp engine",
	"FW2-4":  "tcp engine",
	"FW2-5":  "tcp_fin_time computed by the engine; the RTO3.5 floor is applied here (TW-ENTER-6 tests)",
	"FW2-6":  "tcp engine keepalive timer",
	"FW2-7":  "tcp engine + stack (two-phase lifetime)",
	"FW2-8":  "TCP_LINGER2 option: tcp engine",
	"FW2-9":  "tcp engine (FIN in full-socket FIN_WAIT2)",
	"FW2-10": "/proc/net/tcp and ss output: stack",

	"TW-ENTER-1":  "callers of tcp_time_wait: tcp engine (EventTimeWait)",
	"TW-ENTER-4":  "identity copied from the socket: stack fills Record via Init (flags FlagReuseAddr...)",
	"TW-ENTER-5":  "TCP state copied: tcp.TimeWaitInfo -> Record.Init (stack); window/TS fields checked by TestTWResp1",
	"TW-ENTER-8":  "tcp_update_metrics / tcp_done: tcp engine",
	"TW-ENTER-9":  "application view after TIME-WAIT: stack API",
	"TW-ENTER-10": "sockstat / ss listing: stack (DeathRow.Len gives the tw count)",

	"TW-PROC-2":  "TSecr minus offset: not used by any decision in TIME-WAIT, nothing observable",
	"TW-PROC-19": "structural: a record has no send/receive queues (nothing to test)",
	"TW-PROC-20": "acting on the verdict (listener lookup, sending): stack; ActionSYN semantics documented",
	"TW-PROC-21": "SYN-ACK with the remembered ISN, accept queue: stack/tcp (NewPassive isn argument)",

	"TW-RESP-2": "RST wire format: tcp.SendReset",

	"TW-REUSE-10": "ehash swap at connect: stack (DeathRow.Recycle counts TWRecycled: TestTWReuseState)",
	"TW-REUSE-11": "clearing inherited state for another destination: tcp connect",
	"TW-REUSE-13": "TS offsets: tcp.TSOffset",
	"TW-REUSE-14": "EADDRNOTAVAIL: stack port search",

	"PORT-1": "stack port allocator", "PORT-2": "stack port allocator", "PORT-3": "stack port allocator",
	"PORT-4": "stack port allocator", "PORT-5": "stack port allocator", "PORT-6": "stack port allocator",
	"PORT-7": "stack port allocator (4.11 profile)", "PORT-8": "stack bind conflict (Record.Flags carries SO_REUSEADDR/PORT)",

	"PAWS-1":  "timestamp negotiation: tcp engine",
	"PAWS-2":  "ts_recent updates on full sockets: tcp engine",
	"PAWS-7":  "disordered ACK tolerance: tcp engine",
	"PAWS-8":  "PAWS failures on synchronized sockets: tcp engine",
	"PAWS-10": "PAWSActive in SYN_SENT: tcp engine",
	"PAWS-11": "crossed SYN with inherited ts_recent: tcp engine (ReuseState/Fetch supply the values)",
	"PAWS-12": "request sockets: tcp engine",
	"PAWS-13": "no drop for missing TS: tcp engine (here TW-PROC-1 ignores TS without options)",

	"RECYCLE-1": "sysctl presence per profile: stack options",
	"RECYCLE-8": "proven-peer check under SYN pressure: stack listener",

	"TIMER-4":  "kernel wheel rounding: deliberately finer here (1 ms, never early); see wheel package doc",
	"TIMER-11": "orphan timers: tcp engine",
	"TIMER-12": "orphan count refresh: stack",

	"MIB-3": "tcp engine", "MIB-6": "tcp engine", "MIB-9": "tcp engine", "MIB-10": "tcp engine",
	"MIB-11": "tcp engine", "MIB-12": "tcp engine", "MIB-13": "tcp engine", "MIB-14": "tcp engine",
	"MIB-16": "tcp engine", "MIB-18": "Tcp group counters on send: stack/tcp",
	"MIB-STAT-2": "orphan count: stack", "MIB-STAT-3": "inuse count: stack",

	"SYSCTL-4": "tcp engine", "SYSCTL-5": "tcp engine", "SYSCTL-7": "stack", "SYSCTL-8": "tcp engine",
	"SYSCTL-9": "stack", "SYSCTL-10": "stack", "SYSCTL-12": "tcp engine", "SYSCTL-14": "tcp engine",
	"SYSCTL-15": "stack", "SYSCTL-16": "tcp engine / stack socket options",

	"VER-1":  "descriptive history; the three profiles implement the relevant states",
	"VER-8":  "TS offsets: tcp engine",
	"VER-9":  "TCP_LINGER2: tcp engine",
	"VER-12": "port search: stack",

	"SCN-16": "listener accept queue: stack", "SCN-26": "tcp engine + stack", "SCN-27": "tcp engine",
	"SCN-28": "tcp engine", "SCN-29": "tcp engine", "SCN-30": "tcp engine", "SCN-31": "tcp engine",
	"SCN-32": "tcp engine", "SCN-33": "tcp engine", "SCN-35": "tcp engine (timeout rule tested by TestDeathRowTimeWait60s)",
	"SCN-36": "tcp engine", "SCN-40": "stack bind (CanReuse bound=true: TestTWReuse)",
	"SCN-42": "tcp engine", "SCN-43": "tcp engine", "SCN-44": "tcp engine (TIME-WAIT half: TestSCN9_old_rst_ignored_until_paws_msl)",
	"SCN-50": "stack demux", "SCN-52": "stack port allocator",
}

// coveredBy maps rules that tests here check without citing them in a test
// name to the test that does.
var coveredBy = map[string]string{
	"CONST-1":     "TestDeathRowTimeWait60s",
	"CONST-4":     "TestTWProc",
	"CONST-5":     "TestRecycle6PassiveReject",
	"CONST-6":     "TestTWProc",
	"CONST-8":     "TestTWReuseState",
	"CONST-10":    "TestSCN4_keepalive_rate_limited",
	"CONST-13":    "TestProfile310QuotaStall",
	"TW-ENTER-3":  "TestDeathRowBucketLimit",
	"TW-ENTER-7":  "TestDeathRowTimeWait60s",
	"TW-PROC-3":   "TestTWProc",
	"TW-PROC-10":  "TestTWProc",
	"TW-PROC-23":  "FuzzProcess",
	"TW-RESP-1":   "TestTWResp1",
	"PAWS-3":      "TestTWProc",
	"RECYCLE-2":   "TestRecycle3RememberRule",
	"RECYCLE-7":   "TestRecycle7Fetch",
	"RECYCLE-9":   "TestRecycle6PassiveReject",
	"TIMER-3":     "TestDeathRowApply",
	"TIMER-6":     "TestSCN49_oow_acks_keep_alive",
	"TIMER-7":     "TestProfile310Cells",
	"MIB-2":       "TestTWReuseState",
	"MIB-4":       "TestTWProc",
	"MIB-5":       "TestTWProc",
	"MIB-7":       "TestRecycle6PassiveReject",
	"MIB-8":       "TestDeathRowBucketLimit",
	"MIB-15":      "TestTWProc",
	"MIB-17":      "TestRecycle6PassiveReject",
	"MIB-STAT-1":  "TestSCN47_counted_at_entry",
	"SYSCTL-1":    "TestTWReuse",
	"SYSCTL-2":    "TestTWReuse",
	"SYSCTL-3":    "TestDeathRowBucketLimit",
	"SYSCTL-6":    "TestTWProc",
	"SYSCTL-11":   "TestTWProc",
	"SYSCTL-13":   "TestProfile411Recycle",
	"VER-2":       "TestTWProc",
	"VER-3":       "TestTWProc",
	"VER-4":       "TestTWProc",
	"VER-5":       "TestTWProc",
	"VER-6":       "TestTWReuseLegacy",
	"VER-7":       "TestRecycle6PassiveReject",
	"VER-10":      "TestDeathRowBucketLimit",
	"VER-11":      "TestDeathRowBucketLimit",
	"FW2-11":      "TestTWProc",
	"SCN-5":       "TestTWProc/TW-PROC-16_data_at_R_acked",
	"SCN-11":      "TestTWProc/TW-PROC-14_syn_newer_ts",
	"SCN-15":      "TestTWProc/TW-PROC-16_synack",
	"SCN-37":      "TestTWReuse",
	"SCN-38":      "TestTWReuse",
	"SCN-39":      "TestTWReuse",
	"SCN-41":      "TestTWReuse",
	"SCN-45":      "TestRecycle6PassiveReject",
	"SCN-46":      "TestProfile411Recycle",
	"SCN-48":      "TestTWResp1",
	"TW-REUSE-6":  "TestTWReuseLegacy",
	"TW-REUSE-12": "TestTWReuse12",
	"RECYCLE-5":   "TestRecycle5FinRearm",
	"RECYCLE-10":  "TestRecycle6PassiveReject",
	"TIMER-8":     "TestProfile310Cells",
	"TIMER-9":     "TestProfile310QuotaStall",
	"TIMER-10":    "TestProfile310Calendar",
}

var ruleID = regexp.MustCompile(`\b(?:CONST|TW-LOOKUP|CLOSE|ORPHAN|FW2|TW-ENTER|TW-PROC|TW-RESP|TW-REUSE|PORT|PAWS|RECYCLE|TIMER|MIB-STAT|MIB|SYSCTL|VER|SCN)-[0-9]+`)

// scnName matches scenarios cited in Go test names (TestSCN24_SCN51_...).
var scnName = regexp.MustCompile(`(?:TestSCN|_SCN)([0-9]+)_`)

// TestRulesAccounted: every rule of sections 2-15 and every scenario of the
// spec is tested here (cited in a test name/comment or in coveredBy) or
// listed in notHere with the package it belongs to. CLOSE and ORPHAN rules
// belong to the engine wholesale and are not listed one by one.
func TestRulesAccounted(t *testing.T) {
	spec, err := os.ReadFile("/work/shared/spec/linux-tcp-close.md")
	if err != nil {
		t.Skipf("spec not available: %v", err)
	}
	var cited strings.Builder
	files, _ := filepath.Glob("*_test.go")
	for _, f := range files {
		if f == "rules_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cited.Write(b)
	}
	citedIDs := map[string]bool{}
	for _, id := range ruleID.FindAllString(cited.String(), -1) {
		citedIDs[id] = true
	}
	for _, m := range scnName.FindAllStringSubmatch(cited.String(), -1) {
		citedIDs["SCN-"+m[1]] = true
	}
	src := cited.String()
	for id, test := range coveredBy {
		name, _, _ := strings.Cut(test, "/")
		if !strings.Contains(src, "func "+name+"(") {
			t.Errorf("coveredBy[%s] names missing test %s", id, name)
		}
		if _, dup := notHere[id]; dup {
			t.Errorf("%s both covered and not here", id)
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(spec), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "- **") {
			continue
		}
		id := ruleID.FindString(line)
		if id == "" || seen[id] || strings.HasPrefix(id, "CLOSE-") || strings.HasPrefix(id, "ORPHAN-") {
			continue
		}
		seen[id] = true
		_, nh := notHere[id]
		_, cb := coveredBy[id]
		if !citedIDs[id] && !nh && !cb {
			t.Errorf("rule %s is neither tested here nor listed in notHere", id)
		}
	}
	if len(seen) < 150 {
		t.Fatalf("only %d rules parsed from the spec", len(seen))
	}
}
