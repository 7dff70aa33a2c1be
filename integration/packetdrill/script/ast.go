// Package script reads packetdrill scripts: a lexer and a recursive-descent
// parser that turn a .pkt file into a Script (options, init command, timed
// events). The grammar is packetdrill's (see the tool's syntax.md): each
// event is a time followed by an inbound or outbound TCP packet, a system
// call with its expected result, a backquoted shell command, or a %{ }%
// Python block, which is kept as opaque text.
//
// Times are kept in microseconds, as packetdrill does; the parser converts
// decimal seconds exactly instead of through a float, so "0.57" is 570000.
//
// Hand-written because packetdrill's grammar exists only as the tool's own
// yacc/lex sources (C); there is no Go implementation to depend on.
package script

import (
	"fmt"
	"strconv"
	"strings"
)

// Script is one parsed .pkt file.
type Script struct {
	Path           string
	Options        []Option // --name=value lines
	InitCommand    *Command // backquoted command before the first event
	Events         []*Event
	CleanupCommand *Command // backquoted command after the last event
}

// Option is a --name[=value] line.
type Option struct {
	Line     int
	Name     string
	Value    string
	HasValue bool
}

// TimeKind says how an event's time is written.
type TimeKind uint8

const (
	TimeAbsolute      TimeKind = iota // 0.100
	TimeRelative                      // +0.1
	TimeAny                           // *
	TimeAbsoluteRange                 // 0.1~0.2
	TimeRelativeRange                 // +0.1~+0.2
)

// Time is an event's time in microseconds. End is set for ranges.
type Time struct {
	Kind       TimeKind
	Start, End int64
}

// IsRelative reports whether the time is relative to the previous event.
func (t Time) IsRelative() bool { return t.Kind == TimeRelative || t.Kind == TimeRelativeRange }

func (t Time) String() string {
	switch t.Kind {
	case TimeRelative:
		return "+" + FormatUsecs(t.Start)
	case TimeAny:
		return "*"
	case TimeAbsoluteRange:
		return FormatUsecs(t.Start) + "~" + FormatUsecs(t.End)
	case TimeRelativeRange:
		return "+" + FormatUsecs(t.Start) + "~+" + FormatUsecs(t.End)
	}
	return FormatUsecs(t.Start)
}

// FormatUsecs formats microseconds as seconds with six decimals.
func FormatUsecs(us int64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	return fmt.Sprintf("%s%d.%06d", sign, us/1e6, us%1e6)
}

// Event is one timed line. Exactly one of Packet, Syscall, Command, Code is
// set.
type Event struct {
	Line    int
	Time    Time
	Packet  *Packet
	Syscall *Syscall
	Command *Command
	Code    *Code
}

// Direction of a packet relative to the system under test.
type Direction byte

const (
	Inbound  Direction = '<' // the script (remote peer) sends it to the stack
	Outbound Direction = '>' // the stack must send it
)

// TCP flag bits, as on the wire.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
	FlagURG = 0x20
	FlagECE = 0x40
	FlagCWR = 0x80
)

// Packet is a TCP packet line: "< S. 0:0(0) ack 1 win 5792 <mss 1460,...>".
type Packet struct {
	Direction Direction
	// IPInfo is the raw text of an optional "(tos 0x2)"/"[ect0]" block; the
	// runner reports it unsupported.
	IPInfo string
	// SrcPort/DstPort are set when the script gives "1234>80" before flags.
	HasPorts         bool
	SrcPort, DstPort uint16
	FlagText         string // as written: "S.", "P.", ".", "F.", "R", "-"
	Flags            uint8  // FlagSYN|FlagACK ...
	AE               bool   // 'A' flag (AccECN AE bit)
	Seq, End         uint32 // script-relative seq:end
	Len              uint32 // (len)
	HasAck           bool
	Ack              uint32
	HasWin           bool
	Win              uint32 // raw 16-bit field value; kept wider to report overflow
	HasUrg           bool
	Urg              uint32
	// Options is nil when the packet has no <...> list; OptionsAny is set for
	// "<...>" (options not checked).
	Options    []TCPOption
	HasOptions bool
	OptionsAny bool
}

// OptionKind identifies a TCP option in a script.
type OptionKind uint8

const (
	OptNOP OptionKind = iota
	OptEOL
	OptMSS
	OptWScale
	OptSACKPerm
	OptSACK
	OptTimestamp
	OptMD5
	OptFastOpen
	OptFastOpenExp
)

// SACKBlock is a script-relative "left:right" pair.
type SACKBlock struct{ Left, Right uint32 }

// TCPOption is one entry of a <...> option list.
type TCPOption struct {
	Kind         OptionKind
	MSS          uint16
	WScale       uint8
	SACK         []SACKBlock
	TSVal, TSEcr uint32
	Blob         string // md5 / FO cookie text
}

func (o TCPOption) String() string {
	switch o.Kind {
	case OptNOP:
		return "nop"
	case OptEOL:
		return "eol"
	case OptMSS:
		return fmt.Sprintf("mss %d", o.MSS)
	case OptWScale:
		return fmt.Sprintf("wscale %d", o.WScale)
	case OptSACKPerm:
		return "sackOK"
	case OptSACK:
		var b strings.Builder
		b.WriteString("sack")
		for _, s := range o.SACK {
			fmt.Fprintf(&b, " %d:%d", s.Left, s.Right)
		}
		return b.String()
	case OptTimestamp:
		return fmt.Sprintf("TS val %d ecr %d", o.TSVal, o.TSEcr)
	case OptMD5:
		return "md5 " + o.Blob
	case OptFastOpen:
		return strings.TrimSpace("FO " + o.Blob)
	case OptFastOpenExp:
		return strings.TrimSpace("FOEXP " + o.Blob)
	}
	return "?"
}

func (p *Packet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%c %s %d:%d(%d)", p.Direction, p.FlagText, p.Seq, p.End, p.Len)
	if p.HasAck {
		fmt.Fprintf(&b, " ack %d", p.Ack)
	}
	if p.HasWin {
		fmt.Fprintf(&b, " win %d", p.Win)
	}
	if p.HasUrg {
		fmt.Fprintf(&b, " urg %d", p.Urg)
	}
	if p.OptionsAny {
		b.WriteString(" <...>")
	} else if p.HasOptions {
		b.WriteString(" <")
		for i, o := range p.Options {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(o.String())
		}
		b.WriteByte('>')
	}
	return b.String()
}

// Syscall is "name(args) = ret [ERRNO (note)]", optionally blocking
// ("...END name(...)").
type Syscall struct {
	Name     string
	Args     []Expr
	Blocking bool  // "...END" given
	End      int64 // microseconds, as written (relative times are resolved by the runner)
	Ret      Expr
	Errno    string // "ECONNRESET"; empty when none
	Note     string // text in parentheses after the result
}

func (s *Syscall) String() string {
	var b strings.Builder
	if s.Blocking {
		b.WriteString("..." + FormatUsecs(s.End) + " ")
	}
	b.WriteString(s.Name)
	b.WriteByte('(')
	for i, a := range s.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteString(") = ")
	b.WriteString(s.Ret.String())
	if s.Errno != "" {
		b.WriteString(" " + s.Errno)
	}
	if s.Note != "" {
		b.WriteString(" (" + s.Note + ")")
	}
	return b.String()
}

// Command is a backquoted shell command.
type Command struct {
	Line int
	Text string
}

// Code is a %{ }% block; its text is kept as is (package pycode runs it).
type Code struct{ Text string }

// Expr is a system call argument or result.
type Expr interface {
	String() string
	expr()
}

// Ellipsis is "...": any value.
type Ellipsis struct{}

// Int is a decimal or hex integer literal.
type Int struct {
	Value int64
	Text  string
}

// Word is a symbol: SOL_SOCKET, O_NONBLOCK, EPOLLIN ...
type Word struct{ Name string }

// String is a "quoted" literal; Open is set for "text"... (a prefix).
type String struct {
	Value string
	Open  bool
}

// Or is a|b|c.
type Or struct{ Terms []Expr }

// Field is name=value or name(index)=value inside a struct, e.g.
// l_onoff=1, msg_iov(1)=[...], events=EPOLLIN|EPOLLET.
type Field struct {
	Name     string
	Index    Expr // nil when absent; "..." for msg_name(...)
	HasIndex bool
	Value    Expr
}

// Array is [a, b, ...].
type Array struct{ Elems []Expr }

// Struct is {a, b, ...}; elements are usually Fields.
type Struct struct{ Elems []Expr }

// Call is name(args) inside an expression: htons(8080), inet_addr("1.2.3.4").
type Call struct {
	Name string
	Args []Expr
}

func (Ellipsis) expr() {}
func (*Int) expr()     {}
func (*Word) expr()    {}
func (*String) expr()  {}
func (*Or) expr()      {}
func (*Field) expr()   {}
func (*Array) expr()   {}
func (*Struct) expr()  {}
func (*Call) expr()    {}

func (Ellipsis) String() string { return "..." }
func (e *Int) String() string {
	if e.Text != "" {
		return e.Text
	}
	return strconv.FormatInt(e.Value, 10)
}
func (e *Word) String() string { return e.Name }
func (e *String) String() string {
	if e.Open {
		return strconv.Quote(e.Value) + "..."
	}
	return strconv.Quote(e.Value)
}
func (e *Or) String() string { return joinExprs(e.Terms, "|") }
func (e *Field) String() string {
	if e.HasIndex {
		return fmt.Sprintf("%s(%s)=%s", e.Name, e.Index, e.Value)
	}
	return e.Name + "=" + e.Value.String()
}
func (e *Array) String() string  { return "[" + joinExprs(e.Elems, ", ") + "]" }
func (e *Struct) String() string { return "{" + joinExprs(e.Elems, ", ") + "}" }
func (e *Call) String() string   { return e.Name + "(" + joinExprs(e.Args, ", ") + ")" }

func joinExprs(es []Expr, sep string) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, sep)
}

// FieldByName returns the value of the named field of a Struct, or nil.
func (e *Struct) FieldByName(name string) Expr {
	for _, el := range e.Elems {
		if f, ok := el.(*Field); ok && f.Name == name {
			return f.Value
		}
	}
	return nil
}

// Error is a parse error at a line of a script.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	path := e.Path
	if path == "" {
		path = "<script>"
	}
	return fmt.Sprintf("%s:%d: %s", path, e.Line, e.Msg)
}
