package packetdrill

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ustack/ustack/integration/packetdrill/script"
	"github.com/ustack/ustack/integration/packetdrill/sockets"
)

// Status is the outcome of one script.
type Status uint8

const (
	Pass Status = iota
	Fail
	Unsupported
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return "unsupported"
}

// Result is the outcome of one script: the first difference, where.
type Result struct {
	Script string
	Status Status
	Line   int    // line of the first difference, 0 if none
	Reason string // packetdrill-like message, "" on pass
	// Notes lists assumptions made (sysctls taken as ustack's fixed
	// behavior, no-op commands) and, in verbose mode, a trace.
	Notes []string
	// Needs lists, for an unsupported script, what stands between it and
	// a verdict: the feature it stopped at, then the TCP_INFO fields
	// (tcpi_ names) and Python constructs its blocks use that the stack
	// or the runner lack. WriteTable totals them.
	Needs []string
}

// Message is "script:line: reason".
func (r Result) Message() string {
	if r.Reason == "" {
		return ""
	}
	if r.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", filepath.Base(r.Script), r.Line, r.Reason)
	}
	return fmt.Sprintf("%s: %s", filepath.Base(r.Script), r.Reason)
}

// Runner plays scripts against harnesses made by NewHarness.
type Runner struct {
	NewHarness HarnessFactory
	Verbose    bool
}

// scriptError stops a run: a difference (Fail) or something the runner or
// stack cannot do (Unsupported).
type scriptError struct {
	line        int
	msg         string
	unsupported bool
}

func (e *scriptError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func failf(line int, format string, args ...any) error {
	return &scriptError{line: line, msg: fmt.Sprintf(format, args...)}
}

func unsupportedf(format string, args ...any) error {
	return &sockets.UnsupportedError{Feature: fmt.Sprintf(format, args...)}
}

// RunFile parses and runs one script.
func (r *Runner) RunFile(path string) Result {
	s, err := script.ParseFile(path)
	if err != nil {
		res := Result{Script: path, Status: Fail, Reason: "parse error: " + err.Error()}
		var pe *script.Error
		if errors.As(err, &pe) {
			res.Line, res.Reason = pe.Line, "parse error: "+pe.Msg
			if strings.Contains(pe.Msg, "unsupported") {
				res.Status = Unsupported
				res.Needs = []string{"script syntax: " + pe.Msg}
			}
		}
		return res
	}
	return r.Run(s)
}

// Run plays a parsed script.
func (r *Runner) Run(s *script.Script) (res Result) {
	res.Script = s.Path
	rn := &run{s: s, verbose: r.Verbose, tol: 4000, tolPercent: 12.5, tso: true, underTest: noSocketUnderTest}
	err := rn.play(r.NewHarness)
	res.Notes = rn.notes
	if rn.h != nil {
		if n, ok := rn.h.(interface{ Notes() []string }); ok {
			res.Notes = append(n.Notes(), res.Notes...)
		}
		rn.h.Close()
	}
	if err == nil {
		res.Status = Pass
		return res
	}
	res.Status = Fail
	var se *scriptError
	var ue *sockets.UnsupportedError
	switch {
	case errors.As(err, &se):
		res.Line, res.Reason = se.line, se.msg
		if se.unsupported {
			res.Status = Unsupported
		}
	default:
		res.Reason = err.Error()
	}
	if errors.As(err, &ue) {
		res.Status = Unsupported
		if se == nil {
			res.Reason = ue.Error()
		}
	}
	if res.Status == Unsupported {
		rn.explainUnsupported(&res)
	}
	return res
}

type pendingCall struct {
	ev    *script.Event
	start int64
	end   int64
	call  func() callResult
}

type run struct {
	s          *script.Script
	h          Harness
	tab        *sockets.Table
	verbose    bool
	tol        int64 // microseconds
	tolPercent float64
	tsTick     int64 // --tcp_ts_tick_usecs: check outbound TS val when set
	origin     int64
	notes      []string

	flow       flow
	listenPort uint16
	ipID       uint16
	queue      []*wirePacket // outbound packets of the flow not yet matched
	sentBuf    []Sent

	pending *pendingCall
	fdMap   map[int64]int64 // script fd -> live fd

	initEvents int // leading command events folded into the stack's options

	// underTest is packetdrill's socket_under_test (the live fd TCP_INFO
	// is read from for %{ }% blocks): the last socket() or accept(), or a
	// sentinel (see code.go).
	underTest int64
	code      []codeBlock

	idle idleWatch

	// tso: the script was written for a kernel with TSO/GSO (it does not
	// turn them off with ethtool), so PSH inside a write is an artifact of
	// the kernel's skb layout; see outbound.
	tso       bool
	written   uint32          // bytes written on the flow
	writeEnds map[uint32]bool // relative sequence numbers where writes ended

	lastInjectAt   int64 // when the last inbound packet was delivered
	lastInjectLine int

	lastSched   int64 // scheduled time of the previous event
	lastInbound bool  // previous event was an inbound packet
	lastAbs     bool  // previous event had an absolute time
	started     bool
}

func (rn *run) now() int64 { return rn.h.Now() - rn.origin }

// notef records an assumption or relaxation; always kept (shown with -v).
func (rn *run) notef(format string, args ...any) {
	rn.notes = append(rn.notes, fmt.Sprintf(format, args...))
}

// liveFD maps a descriptor number of the script to the one the socket
// layer gave out: like packetdrill, the runner takes the fd a script
// expects from socket()/accept() as a name for whatever fd was returned.
func (rn *run) liveFD(scriptFD int64) int64 {
	if l, ok := rn.fdMap[scriptFD]; ok {
		return l
	}
	return scriptFD
}

func (rn *run) logf(format string, args ...any) {
	if rn.verbose {
		rn.notes = append(rn.notes, fmt.Sprintf(format, args...))
	}
}

func (rn *run) play(newHarness HarnessFactory) error {
	if err := rn.options(); err != nil {
		return err
	}
	sysctls, err := rn.initSysctls()
	if err != nil {
		return err
	}
	h, err := newHarness(HarnessConfig{Local: LocalAddr(), Sysctls: sysctls})
	if err != nil {
		var ue *sockets.UnsupportedError
		if errors.As(err, &ue) {
			return &scriptError{msg: ue.Error(), unsupported: true}
		}
		return fmt.Errorf("creating the stack: %w", err)
	}
	rn.h = h
	rn.origin = h.Now()
	if a, ok := h.(interface{ Assumptions() []Assumption }); ok {
		for _, as := range a.Assumptions() {
			if as.Cond == CondIdleRestart {
				rn.idle.watch = true
			}
		}
	}
	rn.tab = sockets.NewTable(h.Net(), LocalAddr(), netip.AddrPortFrom(RemoteAddr(), 8080))
	for i, ev := range rn.s.Events {
		err := rn.event(i, ev)
		if rn.idle.violation != "" {
			// Whatever happened from here on may be the restart's doing.
			return &scriptError{line: ev.Line, msg: rn.idle.violation, unsupported: true}
		}
		if err != nil {
			return err
		}
	}
	if rn.pending != nil {
		if err := rn.awaitPending(rn.pending.ev.Line, "the script ended"); err != nil {
			return err
		}
	}
	return rn.runCode()
}

// options applies the --name=value lines.
func (rn *run) options() error {
	for _, o := range rn.s.Options {
		num := func() (int64, error) {
			v, err := strconv.ParseInt(o.Value, 0, 64)
			if err != nil {
				return 0, failf(o.Line, "bad value %q for --%s", o.Value, o.Name)
			}
			return v, nil
		}
		switch o.Name {
		case "tolerance_usecs":
			v, err := num()
			if err != nil {
				return err
			}
			rn.tol = v
		case "tolerance_percent":
			v, err := strconv.ParseFloat(o.Value, 64)
			if err != nil {
				return failf(o.Line, "bad value %q for --%s", o.Value, o.Name)
			}
			rn.tolPercent = v
		case "tcp_ts_tick_usecs":
			v, err := num()
			if err != nil {
				return err
			}
			rn.tsTick = v
		case "tcp_ts_ecr_scaled":
			rn.flow.ecrScaled = o.Value == "" || o.Value == "1" || o.Value == "true"
		case "ip_version":
			if o.Value != "ipv4" {
				return &scriptError{line: o.Line, msg: "--ip_version=" + o.Value + " (IPv4 only)", unsupported: true}
			}
		case "mtu":
			if v, err := num(); err != nil || v != 1500 {
				return &scriptError{line: o.Line, msg: "--mtu=" + o.Value + " (MTU 1500 only)", unsupported: true}
			}
		case "local_ip", "remote_ip":
			want := LocalAddr()
			if o.Name == "remote_ip" {
				want = RemoteAddr()
			}
			if o.Value != want.String() {
				return &scriptError{line: o.Line, msg: "--" + o.Name + "=" + o.Value, unsupported: true}
			}
		default:
			return &scriptError{line: o.Line, msg: "option --" + o.Name, unsupported: true}
		}
	}
	return nil
}

// resolve computes an event's scheduled time and, for blocking calls,
// its expected end, as packetdrill's adjust_relative_event_times does:
// relative times count from when the previous event finished, except that
// consecutive inbound packets are anchored to each other's schedule.
func (rn *run) resolve(ev *script.Event) (start, end int64) {
	offset := rn.now()
	inbound := ev.Packet != nil && ev.Packet.Direction == script.Inbound
	if rn.lastInbound && inbound {
		offset = rn.lastSched
	}
	switch ev.Time.Kind {
	case script.TimeAbsolute:
		start = ev.Time.Start
	case script.TimeRelative:
		start = offset + ev.Time.Start
	case script.TimeAny:
		start = rn.now()
	case script.TimeAbsoluteRange:
		start, end = ev.Time.Start, ev.Time.End
	case script.TimeRelativeRange:
		start, end = offset+ev.Time.Start, offset+ev.Time.End
	}
	if sc := ev.Syscall; sc != nil && sc.Blocking {
		end = sc.End
		if ev.Time.Kind == script.TimeRelative {
			end += offset
		}
	}
	return start, end
}

func (rn *run) event(i int, ev *script.Event) error {
	start, end := rn.resolve(ev)
	if i == 0 && start != 0 {
		return failf(ev.Line, "first event should be at time 0")
	}
	abs := ev.Time.Kind == script.TimeAbsolute || ev.Time.Kind == script.TimeAbsoluteRange
	if i > 0 && abs && rn.lastAbs && start < rn.lastSched {
		return failf(ev.Line, "time goes backward in script from %s to %s", script.FormatUsecs(rn.lastSched), script.FormatUsecs(start))
	}
	delta := start - rn.lastSched
	if i == 0 {
		delta = 0
	}
	tol := rn.tolerance(delta)
	var err error
	switch {
	case ev.Packet != nil && ev.Packet.Direction == script.Outbound:
		err = rn.outbound(ev, start, end, tol)
	case ev.Packet != nil:
		err = rn.inbound(ev, start, tol)
	case ev.Syscall != nil:
		err = rn.syscallEvent(ev, start, end, tol)
		if err == nil {
			// What the call made the stack send (a SYN, data, a FIN).
			err = rn.collect()
		}
	case ev.Command != nil:
		if err = rn.waitUntil(ev, start, tol, "command"); err == nil {
			err = rn.runtimeCommand(i, ev)
		}
	case ev.Code != nil:
		// Only TCP_INFO is read now; the code runs after the last event.
		if err = rn.waitUntil(ev, start, tol, "data collection for code"); err == nil {
			err = rn.codeEvent(ev.Line, ev.Code.Text)
		}
	}
	if err != nil {
		var ue *sockets.UnsupportedError
		if errors.As(err, &ue) {
			var se *scriptError
			if !errors.As(err, &se) {
				return &scriptError{line: ev.Line, msg: ue.Error(), unsupported: true}
			}
		}
		return err
	}
	rn.lastSched, rn.lastAbs = start, abs
	rn.lastInbound = ev.Packet != nil && ev.Packet.Direction == script.Inbound
	return nil
}

// tolerance is packetdrill's: the fixed tolerance or a percentage of the
// time since the previous event, whichever is larger.
func (rn *run) tolerance(delta int64) int64 {
	t := rn.tol
	if d := int64(rn.tolPercent / 100 * float64(delta)); d > t {
		t = d
	}
	return t
}

// step advances the clock to t, collecting outbound packets and retrying a
// blocked system call after each instant something may have changed.
func (rn *run) advanceTo(t int64) error {
	for rn.now() < t {
		next := t
		if tp, ok := rn.h.(TimerPeeker); ok {
			if dl, ok := tp.NextTimer(); ok && dl-rn.origin < next && dl-rn.origin > rn.now() {
				next = dl - rn.origin
			}
		} else if rn.pending != nil && next > rn.now()+100 {
			// Without a timer view, step finely so a blocked call returns
			// close to the instant it could.
			next = rn.now() + 100
		}
		rn.h.AdvanceTo(next + rn.origin)
		if err := rn.collect(); err != nil {
			return err
		}
		if err := rn.retryPending(); err != nil {
			return err
		}
	}
	return nil
}

// waitUntil brings the clock to an event's time and checks the script is
// not late (which happens after a call blocked longer than the script
// thought).
func (rn *run) waitUntil(ev *script.Event, t int64, tol int64, what string) error {
	if err := rn.advanceTo(t); err != nil {
		return err
	}
	if now := rn.now(); now > t+tol {
		return failf(ev.Line, "timing error: expected %s at %s sec but happened at %s sec; tolerance %s sec",
			what, script.FormatUsecs(t), script.FormatUsecs(now), script.FormatUsecs(tol))
	}
	return nil
}

// collect reads what the stack sent and queues the packets of the flow.
func (rn *run) collect() error {
	rn.sentBuf = rn.h.Sent(rn.sentBuf[:0])
	for _, s := range rn.sentBuf {
		p, err := decodePacket(s.Pkt)
		if errors.Is(err, errNotTCP) {
			rn.logf("ignored non-TCP outbound packet at %s", script.FormatUsecs(s.At-rn.origin))
			continue
		}
		if err != nil {
			return fmt.Errorf("outbound packet at %s sec: %v", script.FormatUsecs(s.At-rn.origin), err)
		}
		p.At = s.At - rn.origin
		if !rn.flow.known && p.Flags&script.FlagSYN != 0 && p.Flags&script.FlagACK == 0 && p.Src == LocalAddr() {
			// An active open: the SYN names the flow and the local ISN.
			rn.flow.known = true
			rn.flow.local = netip.AddrPortFrom(p.Src, p.SrcPort)
			rn.flow.remote = netip.AddrPortFrom(p.Dst, p.DstPort)
		}
		if !rn.flow.matches(p) {
			rn.logf("ignored outbound packet of another connection at %s", script.FormatUsecs(p.At))
			continue
		}
		if p.Flags&script.FlagSYN != 0 && !rn.flow.haveLocalISN {
			rn.flow.haveLocalISN, rn.flow.localISN = true, p.Seq
		}
		rn.idle.sent(p)
		rn.queue = append(rn.queue, p)
	}
	return nil
}

func (rn *run) inbound(ev *script.Event, t, tol int64) error {
	if err := rn.waitUntil(ev, t, tol, "inbound packet"); err != nil {
		return err
	}
	sp := ev.Packet
	if sp.IPInfo != "" {
		return unsupportedf("IP header fields in packets (%s)", sp.IPInfo)
	}
	if sp.HasPorts {
		return unsupportedf("explicit ports in packets")
	}
	if sp.OptionsAny {
		return failf(ev.Line, "<...> is only allowed in outbound packets")
	}
	if !rn.flow.known {
		if sp.Flags&script.FlagSYN == 0 || sp.Flags&script.FlagACK != 0 {
			return failf(ev.Line, "inbound packet before any connection exists (no SYN seen or sent)")
		}
		port := rn.listenPort
		if port == 0 {
			port = rn.tab.BindPort
		}
		rn.flow.known = true
		rn.flow.local = netip.AddrPortFrom(LocalAddr(), port)
		rn.flow.remote = netip.AddrPortFrom(RemoteAddr(), remotePort)
		// packetdrill makes the SYN's child the socket under test; it has
		// a live fd once accepted.
		rn.underTest = childNotAccepted
	}
	wp := &wirePacket{
		Src: rn.flow.remote.Addr(), Dst: rn.flow.local.Addr(),
		SrcPort: rn.flow.remote.Port(), DstPort: rn.flow.local.Port(),
		Flags: sp.Flags, AE: sp.AE, Win: uint16(sp.Win), Urg: uint16(sp.Urg), PayloadLen: int(sp.Len),
	}
	if err := rn.flow.toLive(sp, wp); err != nil {
		return failf(ev.Line, "%v", err)
	}
	opts, err := encodeOptions(wp.Options)
	if err != nil {
		return err
	}
	rn.ipID++
	pkt := encodePacket(wp, opts, rn.ipID)
	rn.idle.received(wp, rn.now())
	rn.logf("%s inject %s", script.FormatUsecs(rn.now()), sp)
	rn.lastInjectAt, rn.lastInjectLine = rn.now(), ev.Line
	rn.h.Deliver(pkt)
	if err := rn.collect(); err != nil {
		return err
	}
	return rn.retryPending()
}
