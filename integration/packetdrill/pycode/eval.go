package pycode

import (
	"fmt"
	"strings"
)

// ErrorKind tells an error of the code (Python would raise) from code the
// subset cannot run.
type ErrorKind uint8

const (
	// Unsupported: the construct is outside the subset, or a value it
	// needs is not available (Msg names which).
	Unsupported ErrorKind = iota + 1
	// Exception: Python would raise (AssertionError, NameError,
	// TypeError, ZeroDivisionError, ValueError); the script fails.
	Exception
)

// Error is what Parse and Run return.
type Error struct {
	Kind ErrorKind
	Line int    // 1-based line in the block, 0 if unknown
	Stmt string // source of the statement, when known
	// Msg is "python <construct>" for Unsupported and Python's last
	// traceback line ("AssertionError: 18") for Exception.
	Msg string
}

func (e *Error) Error() string {
	if e.Stmt != "" {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Stmt, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

func exceptionf(class, format string, args ...any) *Error {
	msg := class
	if format != "" {
		msg += ": " + fmt.Sprintf(format, args...)
	}
	return &Error{Kind: Exception, Msg: msg}
}

// Interp is one Python process: variables persist from one Run to the
// next.
type Interp struct {
	vars map[string]Value
	// why holds, for names the caller declared unavailable (TCP_INFO
	// fields the stack does not report), the reason; reading one is
	// Unsupported, assigning it makes it an ordinary variable.
	why map[string]string
	// Missing, when set, is asked about a name that is neither a variable
	// nor declared unavailable: ok means the name is one the real
	// environment would define (Unsupported, with why), otherwise reading
	// it is a NameError.
	Missing func(name string) (why string, ok bool)
	// Print receives each line print() writes.
	Print func(line string)
}

// New returns an interpreter with no variables.
func New() *Interp {
	return &Interp{vars: map[string]Value{}, why: map[string]string{}}
}

// Set defines a variable.
func (in *Interp) Set(name string, v Value) {
	in.vars[name] = v
	delete(in.why, name)
}

// SetUnavailable declares a name whose value the environment cannot
// supply; why says what is missing.
func (in *Interp) SetUnavailable(name, why string) {
	delete(in.vars, name)
	in.why[name] = why
}

// Get returns a variable's value.
func (in *Interp) Get(name string) (Value, bool) {
	v, ok := in.vars[name]
	return v, ok
}

// Run executes a parsed block. It stops at the first error, an *Error.
func (in *Interp) Run(p *Program) error {
	for i := range p.Stmts {
		st := &p.Stmts[i]
		if err := in.exec(st); err != nil {
			e, ok := err.(*Error)
			if !ok {
				e = &Error{Kind: Exception, Msg: err.Error()}
			}
			if e.Line == 0 {
				e.Line = st.Line
			}
			if e.Stmt == "" {
				e.Stmt = st.Text
			}
			return e
		}
	}
	return nil
}

func (in *Interp) exec(st *Stmt) error {
	switch st.kind {
	case sPass:
		return nil
	case sExpr:
		_, err := st.x.eval(in)
		return err
	case sAssign:
		v, err := st.x.eval(in)
		if err != nil {
			return err
		}
		in.Set(st.name, v)
		return nil
	case sAugAssign:
		old, err := in.lookup(st.name, st.Line)
		if err != nil {
			return err
		}
		v, err := st.x.eval(in)
		if err != nil {
			return err
		}
		if v, err = arith(st.op, old, v); err != nil {
			return err
		}
		in.Set(st.name, v)
		return nil
	case sAssert:
		c, err := st.x.eval(in)
		if err != nil {
			return err
		}
		if c.Truth() {
			return nil
		}
		if st.msg == nil {
			return exceptionf("AssertionError", "")
		}
		m, err := st.msg.eval(in)
		if err != nil {
			var e *Error
			if er, ok := err.(*Error); ok && er.Kind == Unsupported {
				e = er
			}
			if e == nil {
				return err // Python reports the message's own exception
			}
			// The assertion did fail; only its message needs what is
			// missing.
			return exceptionf("AssertionError", "<message not evaluated: %s>", strings.TrimPrefix(e.Msg, "python "))
		}
		s := m.String()
		if s == "" {
			return exceptionf("AssertionError", "")
		}
		return exceptionf("AssertionError", "%s", s)
	}
	return unsupportedAt(st.Line, "statement")
}

func (in *Interp) lookup(name string, line int) (Value, error) {
	if v, ok := in.vars[name]; ok {
		return v, nil
	}
	if why, ok := in.why[name]; ok {
		return Value{}, &Error{Kind: Unsupported, Line: line, Msg: "python " + name + " (" + why + ")"}
	}
	if in.Missing != nil {
		if why, ok := in.Missing(name); ok {
			return Value{}, &Error{Kind: Unsupported, Line: line, Msg: "python " + name + " (" + why + ")"}
		}
	}
	switch name {
	case "print", "len", "int", "str", "abs", "min", "max", "sys", "traceback":
		return Value{}, unsupportedAt(line, "builtin or module %s used as a value", name)
	}
	return Value{}, &Error{Kind: Exception, Line: line, Msg: fmt.Sprintf("NameError: name '%s' is not defined", name)}
}

type expr interface {
	eval(in *Interp) (Value, error)
}

type litExpr struct{ v Value }

func (e *litExpr) eval(*Interp) (Value, error) { return e.v, nil }

type nameExpr struct {
	name string
	line int
}

func (e *nameExpr) eval(in *Interp) (Value, error) { return in.lookup(e.name, e.line) }

type tupleExpr struct{ elems []expr }

func (e *tupleExpr) eval(in *Interp) (Value, error) {
	t := make([]Value, len(e.elems))
	for i, x := range e.elems {
		v, err := x.eval(in)
		if err != nil {
			return Value{}, err
		}
		t[i] = v
	}
	return Value{kind: KindTuple, t: t}, nil
}

type unaryExpr struct {
	op string
	x  expr
}

func (e *unaryExpr) eval(in *Interp) (Value, error) {
	v, err := e.x.eval(in)
	if err != nil {
		return Value{}, err
	}
	if !v.isInt() {
		return Value{}, typeErrorf("bad operand type for unary %s: '%s'", e.op, v.kind)
	}
	switch e.op {
	case "-":
		r, err := intOp("-", 0, v.i)
		return Int(r), err
	case "~":
		return Int(^v.i), nil
	}
	return Int(v.i), nil
}

type notExpr struct{ x expr }

func (e *notExpr) eval(in *Interp) (Value, error) {
	v, err := e.x.eval(in)
	if err != nil {
		return Value{}, err
	}
	return Bool(!v.Truth()), nil
}

// boolExpr is and/or: it yields one of its operands, evaluating the second
// only when needed.
type boolExpr struct {
	or   bool
	x, y expr
}

func (e *boolExpr) eval(in *Interp) (Value, error) {
	v, err := e.x.eval(in)
	if err != nil || v.Truth() == e.or {
		return v, err
	}
	return e.y.eval(in)
}

type binExpr struct {
	op   string
	x, y expr
}

func (e *binExpr) eval(in *Interp) (Value, error) {
	a, err := e.x.eval(in)
	if err != nil {
		return Value{}, err
	}
	b, err := e.y.eval(in)
	if err != nil {
		return Value{}, err
	}
	return arith(e.op, a, b)
}

// compareExpr is a chain a < b <= c: each operand is evaluated once, and
// the chain stops at the first false link.
type compareExpr struct {
	first expr
	ops   []string
	rest  []expr
}

func (e *compareExpr) eval(in *Interp) (Value, error) {
	a, err := e.first.eval(in)
	if err != nil {
		return Value{}, err
	}
	for i, op := range e.ops {
		b, err := e.rest[i].eval(in)
		if err != nil {
			return Value{}, err
		}
		ok, err := compare(op, a, b)
		if err != nil || !ok {
			return Bool(false), err
		}
		a = b
	}
	return Bool(true), nil
}

type printExpr struct{ args []expr }

func (e *printExpr) eval(in *Interp) (Value, error) {
	parts := make([]string, len(e.args))
	for i, x := range e.args {
		v, err := x.eval(in)
		if err != nil {
			return Value{}, err
		}
		parts[i] = v.String()
	}
	if in.Print != nil {
		in.Print(strings.Join(parts, " "))
	}
	return None(), nil
}
