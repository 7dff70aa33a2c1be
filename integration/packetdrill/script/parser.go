package script

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// ParseFile reads and parses the script at path.
func ParseFile(path string) (*Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse parses a script; path is only used in error messages. It never
// panics: any malformed input gives an *Error naming the line.
func Parse(path string, src []byte) (s *Script, err error) {
	toks, err := lex(string(src))
	if err != nil {
		err.(*Error).Path = path
		return nil, err
	}
	p := &parser{toks: toks}
	defer func() {
		// The parser reports errors by panicking with *Error, which keeps the
		// recursive descent readable; nothing else may panic through here.
		if r := recover(); r != nil {
			pe, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			pe.Path = path
			s, err = nil, pe
		}
	}()
	s = p.script()
	s.Path = path
	return s, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) peekN(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) failf(line int, format string, args ...any) {
	panic(&Error{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) expectPunct(s string, what string) token {
	t := p.next()
	if !t.is(s) {
		p.failf(t.line, "expected '%s' %s, got %s", s, what, t)
	}
	return t
}

func (p *parser) acceptPunct(s string) bool {
	if p.peek().is(s) {
		p.next()
		return true
	}
	return false
}

func (p *parser) acceptWord(w string) bool {
	if t := p.peek(); t.kind == tokWord && t.text == w {
		p.next()
		return true
	}
	return false
}

func (p *parser) script() *Script {
	s := &Script{}
	for p.peek().kind == tokOption {
		s.Options = append(s.Options, p.option())
	}
	if t := p.peek(); t.kind == tokBackquote {
		p.next()
		s.InitCommand = &Command{Line: t.line, Text: t.text}
	}
	for p.peek().kind != tokEOF {
		if t := p.peek(); t.kind == tokBackquote && p.peekN(1).kind == tokEOF && len(s.Events) > 0 {
			p.next()
			s.CleanupCommand = &Command{Line: t.line, Text: t.text}
			break
		}
		s.Events = append(s.Events, p.event())
	}
	if len(s.Events) == 0 {
		p.failf(p.peek().line, "script has no events")
	}
	return s
}

func (p *parser) option() Option {
	t := p.next()
	o := Option{Line: t.line, Name: t.text}
	if p.peek().is("=") && p.peek().line == t.line {
		p.next()
		v := p.next()
		switch v.kind {
		case tokInt, tokHex, tokFloat, tokWord, tokString, tokIPv4:
		default:
			p.failf(v.line, "bad value for option --%s: %s", o.Name, v)
		}
		o.Value, o.HasValue = v.text, true
		// --define=NAME=value
		if v.kind == tokWord && p.peek().is("=") {
			p.next()
			w := p.next()
			o.Value += "=" + w.text
		}
	}
	return o
}

func (p *parser) event() *Event {
	first := p.peek()
	ev := &Event{Line: first.line}
	ev.Time = p.eventTime()
	t := p.peek()
	switch {
	case t.is("<") || t.is(">"):
		ev.Packet = p.packet()
		if ev.Packet.Direction == Inbound && (ev.Time.Kind == TimeAny || ev.Time.Kind == TimeAbsoluteRange || ev.Time.Kind == TimeRelativeRange) {
			p.failf(ev.Line, "time '*' and time ranges can only be used with outbound packets")
		}
		return ev
	case t.kind == tokBackquote:
		p.next()
		ev.Command = &Command{Line: t.line, Text: t.text}
	case t.kind == tokCode:
		p.next()
		ev.Code = &Code{Text: t.text}
	case t.kind == tokEllipsis || t.kind == tokWord:
		ev.Syscall = p.syscall()
	default:
		p.failf(t.line, "expected a packet, system call, `command` or %%{ code }%% after the time, got %s", t)
	}
	if ev.Time.Kind != TimeAbsolute && ev.Time.Kind != TimeRelative {
		p.failf(ev.Line, "time '*' and time ranges can only be used with outbound packets")
	}
	return ev
}

func (p *parser) eventTime() Time {
	t := p.peek()
	if t.is("*") {
		p.next()
		return Time{Kind: TimeAny}
	}
	rel := p.acceptPunct("+")
	start := p.timeValue()
	if !p.acceptPunct("~") {
		if rel {
			return Time{Kind: TimeRelative, Start: start}
		}
		return Time{Kind: TimeAbsolute, Start: start}
	}
	rel2 := p.acceptPunct("+")
	if rel != rel2 {
		p.failf(t.line, "time range must be both absolute or both relative")
	}
	end := p.timeValue()
	if end < start {
		p.failf(t.line, "time range is backwards")
	}
	if rel {
		return Time{Kind: TimeRelativeRange, Start: start, End: end}
	}
	return Time{Kind: TimeAbsoluteRange, Start: start, End: end}
}

// timeValue reads a non-negative time in seconds and returns microseconds.
func (p *parser) timeValue() int64 {
	t := p.next()
	if t.kind != tokInt && t.kind != tokFloat {
		p.failf(t.line, "expected a time, got %s", t)
	}
	us, err := parseSeconds(t.text)
	if err != nil {
		p.failf(t.line, "bad time %s: %v", t, err)
	}
	return us
}

// parseSeconds converts a decimal "12", "0.2", ".105" to microseconds
// exactly (rounding below a microsecond to nearest).
func parseSeconds(s string) (int64, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("negative time")
	}
	intPart, frac, _ := strings.Cut(s, ".")
	var secs int64
	if intPart != "" {
		v, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || v > math.MaxInt64/1000000-1 {
			return 0, fmt.Errorf("out of range")
		}
		secs = v
	}
	var us int64
	for i := 0; i < len(frac) && i < 7; i++ {
		d := int64(frac[i] - '0')
		if i < 6 {
			us = us*10 + d
		} else if d >= 5 {
			us++
		}
	}
	for i := len(frac); i < 6; i++ {
		us *= 10
	}
	return secs*1e6 + us, nil
}

func (p *parser) uintTok(what string, max uint64) uint64 {
	t := p.next()
	if t.kind != tokInt && t.kind != tokHex {
		p.failf(t.line, "expected %s, got %s", what, t)
	}
	v, err := strconv.ParseUint(t.text, 0, 64)
	if err != nil || v > max {
		p.failf(t.line, "%s %s out of range", what, t.text)
	}
	return v
}

func (p *parser) packet() *Packet {
	d := p.next()
	pk := &Packet{Direction: Direction(d.text[0])}
	line := d.line
	// optional (ip info) or [ip info]
	if t := p.peek(); t.is("(") || t.is("[") {
		closer := ")"
		if t.is("[") {
			closer = "]"
		}
		p.next()
		var parts []string
		for !p.peek().is(closer) {
			if p.peek().kind == tokEOF {
				p.failf(line, "unterminated IP info")
			}
			parts = append(parts, p.next().text)
		}
		p.next()
		pk.IPInfo = strings.Join(parts, " ")
		if pk.IPInfo == "" {
			pk.IPInfo = "empty"
		}
	}
	if t := p.peek(); t.kind == tokWord {
		switch t.text {
		case "udp", "icmp", "ipv4", "ipv6", "gre", "GREv0", "mpls":
			p.failf(t.line, "unsupported packet type %q (only TCP)", t.text)
		}
	}
	// optional ports: INT > INT
	if p.peek().kind == tokInt && p.peekN(1).is(">") {
		pk.HasPorts = true
		pk.SrcPort = uint16(p.uintTok("port", 65535))
		p.next()
		pk.DstPort = uint16(p.uintTok("port", 65535))
	}
	p.flags(pk)
	// seq: INT ':' INT '(' INT ')'
	pk.Seq = uint32(p.uintTok("start sequence number", math.MaxUint32))
	p.expectPunct(":", "in seq:end(len)")
	pk.End = uint32(p.uintTok("end sequence number", math.MaxUint32))
	p.expectPunct("(", "in seq:end(len)")
	pk.Len = uint32(p.uintTok("payload length", math.MaxUint32))
	p.expectPunct(")", "in seq:end(len)")
	if pk.End-pk.Seq != pk.Len {
		p.failf(line, "inconsistent TCP sequence numbers and payload length: %d:%d(%d)", pk.Seq, pk.End, pk.Len)
	}
	if pk.Len > 65535-40 && pk.Direction == Inbound {
		p.failf(line, "TCP payload of %d bytes does not fit an IPv4 packet", pk.Len)
	}
	if p.acceptWord("ack") {
		pk.HasAck = true
		pk.Ack = uint32(p.uintTok("ack number", math.MaxUint32))
	}
	if p.acceptWord("win") {
		pk.HasWin = true
		pk.Win = uint32(p.uintTok("window", 65535))
	}
	if p.acceptWord("urg") {
		pk.HasUrg = true
		pk.Urg = uint32(p.uintTok("urgent pointer", 65535))
	}
	if p.peek().is("<") {
		p.tcpOptions(pk)
	}
	if pk.Direction == Inbound && !pk.HasWin {
		p.failf(line, "window must be specified for inbound packets")
	}
	return pk
}

func (p *parser) flags(pk *Packet) {
	t := p.next()
	var text string
	switch {
	case t.is(".") || t.is("-"):
		text = t.text
	case t.kind == tokWord:
		text = t.text
		if p.peek().is(".") {
			p.next()
			text += "."
		}
	default:
		p.failf(t.line, "expected TCP flags, got %s", t)
	}
	pk.FlagText = text
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case 'F':
			pk.Flags |= FlagFIN
		case 'S':
			pk.Flags |= FlagSYN
		case 'R':
			pk.Flags |= FlagRST
		case 'P':
			pk.Flags |= FlagPSH
		case '.':
			pk.Flags |= FlagACK
		case 'U':
			pk.Flags |= FlagURG
		case 'E':
			pk.Flags |= FlagECE
		case 'W':
			pk.Flags |= FlagCWR
		case 'A':
			pk.AE = true
		case '-':
			if len(text) != 1 {
				p.failf(t.line, "bad TCP flags %q", text)
			}
		default:
			p.failf(t.line, "bad TCP flag %q in %q", text[i], text)
		}
	}
}

func (p *parser) tcpOptions(pk *Packet) {
	open := p.next()
	pk.HasOptions = true
	if p.peek().kind == tokEllipsis && p.peekN(1).is(">") {
		p.next()
		p.next()
		pk.OptionsAny = true
		return
	}
	pk.Options = []TCPOption{}
	for {
		pk.Options = append(pk.Options, p.tcpOption())
		t := p.next()
		if t.is(">") {
			break
		}
		if !t.is(",") {
			p.failf(t.line, "expected ',' or '>' in TCP option list opened on line %d, got %s", open.line, t)
		}
	}
}

func (p *parser) tcpOption() TCPOption {
	t := p.next()
	if t.kind != tokWord {
		p.failf(t.line, "expected a TCP option, got %s", t)
	}
	switch t.text {
	case "nop":
		return TCPOption{Kind: OptNOP}
	case "eol":
		return TCPOption{Kind: OptEOL}
	case "mss":
		return TCPOption{Kind: OptMSS, MSS: uint16(p.uintTok("MSS", 65535))}
	case "wscale":
		return TCPOption{Kind: OptWScale, WScale: uint8(p.uintTok("window scale", 255))}
	case "sackOK":
		return TCPOption{Kind: OptSACKPerm}
	case "sack":
		o := TCPOption{Kind: OptSACK}
		for k := p.peek().kind; k == tokInt || k == tokHex; k = p.peek().kind {
			l := uint32(p.uintTok("SACK block start", math.MaxUint32))
			p.expectPunct(":", "in SACK block")
			r := uint32(p.uintTok("SACK block end", math.MaxUint32))
			o.SACK = append(o.SACK, SACKBlock{l, r})
		}
		if len(o.SACK) == 0 {
			p.failf(t.line, "sack option without blocks")
		}
		return o
	case "TS":
		if !p.acceptWord("val") {
			p.failf(t.line, "expected 'val' after TS")
		}
		v := uint32(p.uintTok("TS val", math.MaxUint32))
		if !p.acceptWord("ecr") {
			p.failf(t.line, "expected 'ecr' in TS option")
		}
		e := uint32(p.uintTok("TS ecr", math.MaxUint32))
		return TCPOption{Kind: OptTimestamp, TSVal: v, TSEcr: e}
	case "md5", "FO", "FOEXP":
		o := TCPOption{Kind: OptMD5}
		if t.text == "FO" {
			o.Kind = OptFastOpen
		} else if t.text == "FOEXP" {
			o.Kind = OptFastOpenExp
		}
		if k := p.peek().kind; k == tokWord || k == tokInt || k == tokHex {
			o.Blob = p.next().text
		} else if o.Kind == OptMD5 {
			p.failf(t.line, "md5 option without a value")
		}
		return o
	}
	p.failf(t.line, "unknown TCP option %q", t.text)
	return TCPOption{}
}

func (p *parser) syscall() *Syscall {
	sc := &Syscall{}
	if p.peek().kind == tokEllipsis {
		p.next()
		sc.Blocking = true
		sc.End = p.timeValue()
	}
	name := p.next()
	if name.kind != tokWord {
		p.failf(name.line, "expected a system call name, got %s", name)
	}
	sc.Name = name.text
	p.expectPunct("(", "after system call name "+sc.Name)
	sc.Args = p.exprListDepth(")", 0)
	p.expectPunct("=", "before the expected result of "+sc.Name)
	sc.Ret = p.expr()
	if t := p.peek(); t.kind == tokWord {
		p.next()
		sc.Errno = t.text
	}
	if p.peek().is("(") {
		open := p.next()
		var words []string
		for !p.peek().is(")") {
			t := p.next()
			if t.kind == tokEOF {
				p.failf(open.line, "unterminated note after system call result")
			}
			words = append(words, t.text)
		}
		p.next()
		sc.Note = strings.Join(words, " ")
	}
	return sc
}

const maxExprDepth = 64

func (p *parser) expr() Expr { return p.exprDepth(0) }

func (p *parser) exprDepth(depth int) Expr {
	if depth > maxExprDepth {
		p.failf(p.peek().line, "expression nested too deeply")
	}
	first := p.primary(depth)
	if !p.peek().is("|") {
		return first
	}
	or := &Or{Terms: []Expr{first}}
	for p.acceptPunct("|") {
		or.Terms = append(or.Terms, p.primary(depth))
	}
	return or
}

func (p *parser) primary(depth int) Expr {
	t := p.next()
	switch t.kind {
	case tokEllipsis:
		return Ellipsis{}
	case tokInt, tokHex:
		v, err := strconv.ParseInt(t.text, 0, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(t.text, 0, 64)
			if uerr != nil {
				p.failf(t.line, "integer %s out of range", t.text)
			}
			v = int64(u)
		}
		return &Int{Value: v, Text: t.text}
	case tokString:
		s := &String{Value: unescape(t.text)}
		if p.peek().kind == tokEllipsis {
			p.next()
			s.Open = true
		}
		return s
	case tokWord:
		var index Expr
		hasIndex := false
		if p.peek().is("(") {
			p.next()
			args := p.exprListDepth(")", depth+1)
			if p.peek().is("=") {
				if len(args) != 1 {
					p.failf(t.line, "field %s(...) takes one index", t.text)
				}
				index, hasIndex = args[0], true
			} else {
				return &Call{Name: t.text, Args: args}
			}
		}
		if p.acceptPunct("=") {
			return &Field{Name: t.text, Index: index, HasIndex: hasIndex, Value: p.exprDepth(depth + 1)}
		}
		return &Word{Name: t.text}
	case tokPunct:
		switch t.text {
		case "[":
			return &Array{Elems: p.exprListDepth("]", depth+1)}
		case "{":
			return &Struct{Elems: p.exprListDepth("}", depth+1)}
		}
	}
	p.failf(t.line, "expected an expression, got %s", t)
	return nil
}

func (p *parser) exprListDepth(closer string, depth int) []Expr {
	var out []Expr
	if p.acceptPunct(closer) {
		return out
	}
	for {
		out = append(out, p.exprDepth(depth))
		t := p.next()
		if t.is(closer) {
			return out
		}
		if !t.is(",") {
			p.failf(t.line, "expected ',' or '%s', got %s", closer, t)
		}
	}
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}
