package pycode

import (
	"math"
	"strconv"
	"strings"
)

// Kind is a value's Python type.
type Kind uint8

// The types of the subset.
const (
	KindNone Kind = iota
	KindInt
	KindBool
	KindStr
	KindTuple
)

var kindNames = [...]string{"NoneType", "int", "bool", "str", "tuple"}

func (k Kind) String() string { return kindNames[k] }

// Value is a Python value of the subset. Integers are 64-bit: a result
// beyond that is reported unsupported rather than wrapped.
type Value struct {
	kind Kind
	i    int64 // int, bool (0 or 1)
	s    string
	t    []Value
}

// Int, Bool, Str and None make values.
func Int(v int64) Value  { return Value{kind: KindInt, i: v} }
func Str(s string) Value { return Value{kind: KindStr, s: s} }
func None() Value        { return Value{} }
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, i: 1}
	}
	return Value{kind: KindBool}
}

// Kind returns the value's type.
func (v Value) Kind() Kind { return v.kind }

// AsInt returns an int or bool value as an integer.
func (v Value) AsInt() (int64, bool) {
	return v.i, v.kind == KindInt || v.kind == KindBool
}

func (v Value) isInt() bool { return v.kind == KindInt || v.kind == KindBool }

// Truth is Python's truth value.
func (v Value) Truth() bool {
	switch v.kind {
	case KindInt, KindBool:
		return v.i != 0
	case KindStr:
		return v.s != ""
	case KindTuple:
		return len(v.t) > 0
	}
	return false
}

// String is str(v).
func (v Value) String() string {
	switch v.kind {
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindBool:
		if v.i != 0 {
			return "True"
		}
		return "False"
	case KindStr:
		return v.s
	case KindTuple:
		var b strings.Builder
		b.WriteByte('(')
		for i, e := range v.t {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.Repr())
		}
		if len(v.t) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
		return b.String()
	}
	return "None"
}

// Repr is repr(v).
func (v Value) Repr() string {
	if v.kind != KindStr {
		return v.String()
	}
	q := byte('\'')
	if strings.IndexByte(v.s, '\'') >= 0 && strings.IndexByte(v.s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for i := 0; i < len(v.s); i++ {
		c := v.s[i]
		switch {
		case c == q || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(c)|0x100, 16)[1:])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// equal is ==; values of unrelated types are unequal, as in Python.
func equal(a, b Value) bool {
	switch {
	case a.isInt() && b.isInt():
		return a.i == b.i
	case a.kind != b.kind:
		return false
	case a.kind == KindStr:
		return a.s == b.s
	case a.kind == KindTuple:
		if len(a.t) != len(b.t) {
			return false
		}
		for i := range a.t {
			if !equal(a.t[i], b.t[i]) {
				return false
			}
		}
		return true
	}
	return true // None == None
}

func typeErrorf(format string, args ...any) *Error {
	return exceptionf("TypeError", format, args...)
}

// compare evaluates an ordering or equality operator.
func compare(op string, a, b Value) (bool, error) {
	switch op {
	case "==":
		return equal(a, b), nil
	case "!=":
		return !equal(a, b), nil
	}
	var c int
	switch {
	case a.isInt() && b.isInt():
		c = cmpInt(a.i, b.i)
	case a.kind == KindStr && b.kind == KindStr:
		c = strings.Compare(a.s, b.s)
	case a.kind == KindTuple && b.kind == KindTuple:
		return false, unsupportedAt(0, "ordering of tuples")
	default:
		return false, typeErrorf("'%s' not supported between instances of '%s' and '%s'", op, a.kind, b.kind)
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil // ">="
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func overflow(op string) *Error {
	return unsupportedAt(0, "integer result of '%s' beyond 64 bits", op)
}

// maxStr bounds strings built by * and %, which hostile input could
// otherwise make huge.
const maxStr = 1 << 20

// arith evaluates a binary operator on two values.
func arith(op string, a, b Value) (Value, error) {
	if a.isInt() && b.isInt() {
		if a.kind == KindBool && b.kind == KindBool && (op == "&" || op == "|" || op == "^") {
			r, _ := intOp(op, a.i, b.i)
			return Bool(r != 0), nil
		}
		r, err := intOp(op, a.i, b.i)
		if err != nil {
			return Value{}, err
		}
		return Int(r), nil
	}
	switch {
	case op == "%" && a.kind == KindStr:
		s, err := format(a.s, b)
		if err != nil {
			return Value{}, err
		}
		return Str(s), nil
	case op == "+" && a.kind == KindStr && b.kind == KindStr:
		if len(a.s)+len(b.s) > maxStr {
			return Value{}, unsupportedAt(0, "string longer than %d bytes", maxStr)
		}
		return Str(a.s + b.s), nil
	case op == "*" && (a.kind == KindStr && b.isInt() || a.isInt() && b.kind == KindStr):
		s, n := a.s, b.i
		if a.isInt() {
			s, n = b.s, a.i
		}
		if n <= 0 || s == "" {
			return Str(""), nil
		}
		if n > maxStr || int64(len(s))*n > maxStr {
			return Value{}, unsupportedAt(0, "string longer than %d bytes", maxStr)
		}
		return Str(strings.Repeat(s, int(n))), nil
	case a.kind == KindTuple || b.kind == KindTuple:
		if a.kind == KindTuple && b.kind == KindTuple && op == "+" || op == "*" {
			return Value{}, unsupportedAt(0, "tuple arithmetic")
		}
	}
	return Value{}, typeErrorf("unsupported operand type(s) for %s: '%s' and '%s'", op, a.kind, b.kind)
}

func intOp(op string, a, b int64) (int64, error) {
	switch op {
	case "+":
		r := a + b
		if (a > 0 && b > 0 && r < 0) || (a < 0 && b < 0 && r >= 0) {
			return 0, overflow(op)
		}
		return r, nil
	case "-":
		r := a - b
		if (a >= 0 && b < 0 && r < 0) || (a < 0 && b > 0 && r >= 0) {
			return 0, overflow(op)
		}
		return r, nil
	case "*":
		if a == 0 || b == 0 {
			return 0, nil
		}
		r := a * b
		if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
			return 0, overflow(op)
		}
		return r, nil
	case "//", "%":
		if b == 0 {
			if op == "%" {
				return 0, exceptionf("ZeroDivisionError", "integer modulo by zero")
			}
			return 0, exceptionf("ZeroDivisionError", "integer division or modulo by zero")
		}
		if a == math.MinInt64 && b == -1 {
			if op == "%" {
				return 0, nil
			}
			return 0, overflow(op)
		}
		q, r := a/b, a%b
		if r != 0 && (r < 0) != (b < 0) {
			q--
			r += b
		}
		if op == "//" {
			return q, nil
		}
		return r, nil
	case "**":
		return intPow(a, b)
	case "<<", ">>":
		if b < 0 {
			return 0, exceptionf("ValueError", "negative shift count")
		}
		if op == ">>" {
			if b > 63 {
				b = 63
			}
			return a >> uint(b), nil
		}
		if a == 0 {
			return 0, nil
		}
		if b > 62 || (a<<uint(b))>>uint(b) != a {
			return 0, overflow(op)
		}
		return a << uint(b), nil
	case "&":
		return a & b, nil
	case "|":
		return a | b, nil
	case "^":
		return a ^ b, nil
	}
	return 0, unsupportedAt(0, "operator %s", op)
}

func intPow(a, b int64) (int64, error) {
	if b < 0 {
		return 0, unsupportedAt(0, "negative exponent (its result is a float)")
	}
	switch a {
	case 0:
		if b == 0 {
			return 1, nil
		}
		return 0, nil
	case 1:
		return 1, nil
	case -1:
		if b%2 == 0 {
			return 1, nil
		}
		return -1, nil
	}
	if b > 63 {
		return 0, overflow("**")
	}
	r := int64(1)
	for range b {
		var err error
		if r, err = intOp("*", r, a); err != nil {
			return 0, overflow("**")
		}
	}
	return r, nil
}
