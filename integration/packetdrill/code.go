package packetdrill

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ustack/ustack/integration/packetdrill/pycode"
	"github.com/ustack/ustack/integration/packetdrill/sockets"
)

// %{ }% blocks. packetdrill reads TCP_INFO from the socket under test at
// each block's time, and after the last event runs every block, each
// preceded by assignments of those values, as one Python program. So a
// packet or call difference anywhere in the script is reported before any
// Python error, variables persist from block to block, and the tcpi_*
// names are refreshed at each block.

// Sentinels of run.underTest besides a live descriptor.
const (
	noSocketUnderTest = -1 // no socket() yet: "no socket to use for code"
	childNotAccepted  = -2 // a SYN made a child the script has not accepted
)

// tcpiNames are the struct tcp_info fields packetdrill writes for Python
// on Linux, in its order.
var tcpiNames = []string{
	"tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_probes", "tcpi_backoff", "tcpi_options",
	"tcpi_snd_wscale", "tcpi_rcv_wscale", "tcpi_delivery_rate_app_limited", "tcpi_rto", "tcpi_ato",
	"tcpi_snd_mss", "tcpi_rcv_mss", "tcpi_unacked", "tcpi_sacked", "tcpi_lost", "tcpi_retrans",
	"tcpi_fackets", "tcpi_last_data_sent", "tcpi_last_ack_sent", "tcpi_last_data_recv",
	"tcpi_last_ack_recv", "tcpi_pmtu", "tcpi_rcv_ssthresh", "tcpi_rtt", "tcpi_rttvar",
	"tcpi_snd_ssthresh", "tcpi_snd_cwnd", "tcpi_advmss", "tcpi_reordering", "tcpi_total_retrans",
	"tcpi_pacing_rate", "tcpi_max_pacing_rate", "tcpi_rcv_rtt", "tcpi_rcv_space", "tcpi_bytes_acked",
	"tcpi_bytes_received", "tcpi_segs_out", "tcpi_segs_in", "tcpi_notsent_bytes", "tcpi_min_rtt",
	"tcpi_data_segs_in", "tcpi_data_segs_out", "tcpi_delivery_rate", "tcpi_busy_time",
	"tcpi_rwnd_limited", "tcpi_sndbuf_limited", "tcpi_delivered", "tcpi_delivered_ce",
	"tcpi_bytes_sent", "tcpi_bytes_retrans", "tcpi_dsack_dups", "tcpi_reord_seen",
}

// pySymbols are the constants packetdrill defines for Python, with Linux's
// values (include/net/tcp_states.h, include/uapi/linux/tcp.h).
var pySymbols = []struct {
	name  string
	value int64
}{
	{"TCP_ESTABLISHED", 1}, {"TCP_SYN_SENT", 2}, {"TCP_SYN_RECV", 3}, {"TCP_FIN_WAIT1", 4},
	{"TCP_FIN_WAIT2", 5}, {"TCP_TIME_WAIT", 6}, {"TCP_CLOSE", 7}, {"TCP_CLOSE_WAIT", 8},
	{"TCP_LAST_ACK", 9}, {"TCP_LISTEN", 10}, {"TCP_CLOSING", 11},
	{"TCP_CA_Open", 0}, {"TCP_CA_Disorder", 1}, {"TCP_CA_CWR", 2}, {"TCP_CA_Recovery", 3}, {"TCP_CA_Loss", 4},
	{"TCPI_OPT_TIMESTAMPS", 1}, {"TCPI_OPT_WSCALE", 4}, {"TCPI_OPT_ECN", 8}, {"TCPI_OPT_SYN_DATA", 32},
}

// skMeminfoNames are what packetdrill writes from SO_MEMINFO.
var skMeminfoNames = []string{
	"SK_MEMINFO_RMEM_ALLOC", "SK_MEMINFO_RCVBUF", "SK_MEMINFO_WMEM_ALLOC", "SK_MEMINFO_SNDBUF",
	"SK_MEMINFO_FWD_ALLOC", "SK_MEMINFO_WMEM_QUEUED", "SK_MEMINFO_OPTMEM", "SK_MEMINFO_BACKLOG", "SK_MEMINFO_DROPS",
}

// codeBlock is a %{ }% block with the TCP_INFO read at its time.
type codeBlock struct {
	line int
	text string
	info sockets.TCPInfo
	// noInfo says why TCP_INFO could not be read (the stack cannot
	// report it); the block's tcpi_* names are then all unavailable, and
	// the script runs on, so a later difference still fails it.
	noInfo string
}

// codeEvent reads TCP_INFO from the socket under test, as packetdrill's
// run_code_event does; the block runs after the last event.
func (rn *run) codeEvent(line int, text string) error {
	switch rn.underTest {
	case noSocketUnderTest:
		return failf(line, "runtime error in code: no socket to use for code")
	case childNotAccepted:
		return failf(line, "runtime error in code: can't find getsockopt to get TCP info (the connection is not accepted yet)")
	}
	b := codeBlock{line: line, text: text}
	info, err := rn.tab.TCPInfo(int(rn.underTest))
	var ue *sockets.UnsupportedError
	switch {
	case errors.As(err, &ue):
		b.noInfo = ue.Feature
	case err != nil:
		return failf(line, "runtime error in code: can't find getsockopt to get TCP info: %v", err)
	default:
		b.info = info
	}
	rn.code = append(rn.code, b)
	return nil
}

// runCode runs the collected blocks as one Python program.
func (rn *run) runCode() error {
	if len(rn.code) == 0 {
		return nil
	}
	// Python compiles the whole file before running any of it.
	progs := make([]*pycode.Program, len(rn.code))
	for i, b := range rn.code {
		p, err := pycode.Parse(b.text)
		if err != nil {
			return codeError(b, err)
		}
		progs[i] = p
	}
	in := pycode.New()
	in.Missing = missingPyName
	for i, b := range rn.code {
		rn.loadInfo(in, b)
		in.Print = func(s string) { rn.notef("python print (line %d): %s", b.line, s) }
		if err := in.Run(progs[i]); err != nil {
			return codeError(b, err)
		}
	}
	rn.notef("%d %%{ }%% blocks evaluated", len(rn.code))
	return nil
}

// loadInfo is the preamble packetdrill writes before a block.
func (rn *run) loadInfo(in *pycode.Interp, b codeBlock) {
	in.Set("_file", pycode.Str(rn.s.Path))
	in.Set("_line", pycode.Int(int64(b.line)))
	for _, s := range pySymbols {
		in.Set(s.name, pycode.Int(s.value))
	}
	for _, name := range tcpiNames {
		if b.noInfo != "" {
			in.SetUnavailable(name, b.noInfo)
		} else if why, ok := b.info.Missing[name]; ok {
			in.SetUnavailable(name, "not in the stack's TCP_INFO: "+why)
		} else {
			in.SetUnavailable(name, "not in the stack's TCP_INFO")
		}
	}
	for name, v := range b.info.Fields {
		in.Set(name, pycode.Int(v))
	}
	for _, name := range skMeminfoNames {
		in.SetUnavailable(name, "SO_MEMINFO is not provided")
	}
}

// missingPyName names what packetdrill would define that the runner does
// not: other TCP_INFO fields (a newer packetdrill) and the TCP_CC_INFO
// variables of BBR, DCTCP and Vegas.
func missingPyName(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, "tcpi_"):
		return "not a TCP_INFO field this runner knows", true
	case strings.HasPrefix(name, "bbr_"), strings.HasPrefix(name, "dctcp_"), strings.HasPrefix(name, "tcpv_"),
		name == "tcp_rtt", name == "tcp_minrtt":
		return "TCP_CC_INFO of BBR, DCTCP or Vegas is not provided", true
	}
	return "", false
}

// explainUnsupported fills res.Needs and adds to the reason what the
// script's Python would need beyond its first unsupported feature: the
// TCP_INFO fields its blocks read that the stack does not report, and
// the blocks the subset cannot parse. So the report shows all the work
// standing between the script and a verdict.
func (rn *run) explainUnsupported(res *Result) {
	first := strings.TrimPrefix(res.Reason, "unsupported: ")
	if name, ok := strings.CutPrefix(first, "python tcpi_"); ok {
		first, _, _ = strings.Cut("tcpi_"+name, " ")
	}
	res.Needs = append(res.Needs, first)
	fields, constructs := rn.pythonNeeds(res.Reason)
	res.Needs = append(res.Needs, fields...)
	res.Needs = append(res.Needs, constructs...)
	if len(fields) > 0 {
		res.Reason += "; its Python also reads " + strings.Join(fields, ", ")
	}
	if len(constructs) > 0 {
		res.Reason += "; its Python also has " + strings.Join(constructs, ", ")
	}
}

func (rn *run) pythonNeeds(reason string) (fields, constructs []string) {
	var gaps map[string]string
	if g, ok := rn.h.(TCPInfoGapper); ok {
		gaps = g.TCPInfoGaps()
	}
	for _, ev := range rn.s.Events {
		if ev.Code == nil {
			continue
		}
		p, err := pycode.Parse(ev.Code.Text)
		if err != nil {
			var e *pycode.Error
			if errors.As(err, &e) && !strings.Contains(reason, e.Msg) {
				constructs = append(constructs, fmt.Sprintf("%s (line %d)", e.Msg, ev.Line+max(e.Line, 1)-1))
			}
			continue
		}
		for _, name := range p.Names() {
			if _, missing := gaps[name]; missing && !slices.Contains(fields, name) && !strings.Contains(reason, "python "+name+" ") {
				fields = append(fields, name)
			}
		}
	}
	return fields, constructs
}

// codeError turns an interpreter error into the script's result: a
// Python exception fails the script at the statement's line, like
// packetdrill's "error in Python code"; an unsupported construct or value
// makes it unsupported.
func codeError(b codeBlock, err error) error {
	var e *pycode.Error
	if !errors.As(err, &e) {
		return failf(b.line, "error in Python code: %v", err)
	}
	line := b.line
	if e.Line > 0 {
		line += e.Line - 1
	}
	if e.Kind == pycode.Unsupported {
		return &scriptError{line: line, msg: "unsupported: " + e.Msg, unsupported: true}
	}
	if e.Stmt != "" {
		return failf(line, "error in Python code: %s: %s", e.Stmt, e.Msg)
	}
	return failf(line, "error in Python code: %s", e.Msg)
}
