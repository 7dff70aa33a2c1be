// Package pycode runs the small Python snippets of packetdrill scripts
// (%{ ... }% blocks) without a Python interpreter: integer and string
// values, arithmetic, comparisons (chained too), and/or/not, %-formatting,
// and the statements assert, print(...), assignment and augmented
// assignment, separated by newlines or semicolons.
//
// packetdrill writes every block of a script, each preceded by the
// tcpi_* values it read with getsockopt(TCP_INFO) at the block's time, into
// one Python file that it runs after the last event; an Interp plays that
// process: variables persist from block to block.
//
// Whatever lies outside that subset is reported as an *Error of kind
// Unsupported naming the construct, never skipped: a script must not pass
// on code nobody ran.
//
// Hand-written because no Go library runs this dialect: Starlark, the
// closest, has no assert statement and no %-formatting of tuples the way
// packetdrill's scripts use them, and running a real python3 would make
// the conformance test depend on an interpreter being installed.
package pycode

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tNewline
	tName
	tInt
	tStr
	tOp
	tIndent // leading blanks on a statement line
)

type token struct {
	kind     tokKind
	text     string // name, operator, or the decoded value of a string
	val      int64  // tInt
	line     int    // 1-based line in the block
	pos, end int    // byte span in the source
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of code"
	case tNewline:
		return "end of line"
	case tStr:
		return strconv.Quote(t.text)
	case tInt:
		return strconv.FormatInt(t.val, 10)
	}
	return t.text
}

// Operators of Python 3, longest first so that the lexer takes the longest
// match; the parser rejects the ones outside the subset by name.
var operators = []string{
	"**=", "//=", ">>=", "<<=", "...",
	"**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "->", ":=",
	"+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ";", ".", "=", "@",
}

func unsupportedAt(line int, format string, args ...any) *Error {
	return &Error{Kind: Unsupported, Line: line, Msg: "python " + fmt.Sprintf(format, args...)}
}

// lex splits a block into tokens the way Python's tokenizer does for
// the subset: newlines end a statement except inside brackets or after a
// backslash; comments run to the end of the line; a statement line may
// not be indented (that would open a block, which the subset lacks).
func lex(src string) ([]token, error) {
	var toks []token
	line, depth := 1, 0
	lineStart := true
	i, n := 0, len(src)
	for i < n {
		if lineStart && depth == 0 {
			j := i
			for j < n && (src[j] == ' ' || src[j] == '\t' || src[j] == '\f' || src[j] == '\r') {
				j++
			}
			if j < n && src[j] != '\n' && src[j] != '#' && j > i {
				// Python rejects or opens a block here; the parser
				// reports it once the statement before is understood.
				toks = append(toks, token{kind: tIndent, line: line, pos: j, end: j})
			}
			i = j
			lineStart = false
			continue
		}
		c := src[i]
		switch {
		case c == '\n':
			if depth == 0 && len(toks) > 0 && toks[len(toks)-1].kind != tNewline {
				toks = append(toks, token{kind: tNewline, line: line, pos: i, end: i})
			}
			line++
			i++
			lineStart = true
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case c == '#':
			for i < n && src[i] != '\n' {
				i++
			}
		case c == '\\':
			j := i + 1
			if j < n && src[j] == '\r' {
				j++
			}
			if j >= n || src[j] != '\n' {
				return nil, unsupportedAt(line, "backslash outside a string")
			}
			line++
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9':
			t, err := lexNumber(src, i, line)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = t.end
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < n && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			if j < n && (src[j] == '\'' || src[j] == '"') && j-i <= 2 {
				return nil, unsupportedAt(line, "%s-prefixed string literal", src[i:j])
			}
			toks = append(toks, token{kind: tName, text: src[i:j], line: line, pos: i, end: j})
			i = j
		case c == '\'' || c == '"':
			t, lines, err := lexString(src, i, line)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			line += lines
			i = t.end
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				if c >= 0x80 {
					return nil, unsupportedAt(line, "non-ASCII source")
				}
				return nil, unsupportedAt(line, "character %q", string(c))
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth > 0 {
					depth--
				}
			}
			toks = append(toks, token{kind: tOp, text: op, line: line, pos: i, end: i + len(op)})
			i += len(op)
		}
	}
	if len(toks) > 0 && toks[len(toks)-1].kind != tNewline {
		toks = append(toks, token{kind: tNewline, line: line, pos: n, end: n})
	}
	return append(toks, token{kind: tEOF, line: line, pos: n, end: n}), nil
}

// lexNumber reads an integer literal: decimal, 0x, 0o or 0b, with
// underscores between digits. Floats and imaginary numbers are outside the
// subset.
func lexNumber(src string, i, line int) (token, error) {
	n := len(src)
	j := i
	base := 10
	if src[j] == '0' && j+1 < n && strings.ContainsRune("xXoObB", rune(src[j+1])) {
		switch src[j+1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		default:
			base = 2
		}
		j += 2
	}
	start := j
	for j < n && (isDigit(src[j], base) || src[j] == '_') {
		j++
	}
	if j < n && (src[j] == '.' || base == 10 && (src[j] == 'e' || src[j] == 'E' || src[j] == 'j' || src[j] == 'J')) {
		return token{}, unsupportedAt(line, "float or complex literal")
	}
	if j < n && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
		return token{}, unsupportedAt(line, "number literal %q", src[i:j+1])
	}
	digits := src[start:j]
	if digits == "" || digits[0] == '_' || digits[len(digits)-1] == '_' || strings.Contains(digits, "__") {
		return token{}, unsupportedAt(line, "number literal %q", src[i:j])
	}
	if base == 10 && len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0_") != "" {
		return token{}, unsupportedAt(line, "number literal %q with a leading zero", src[i:j])
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(digits, "_", ""), base, 64)
	if err != nil {
		return token{}, unsupportedAt(line, "integer %s beyond 64 bits", src[i:j])
	}
	return token{kind: tInt, val: v, text: src[i:j], line: line, pos: i, end: j}, nil
}

func isDigit(c byte, base int) bool {
	switch base {
	case 2:
		return c == '0' || c == '1'
	case 8:
		return c >= '0' && c <= '7'
	case 16:
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	return c >= '0' && c <= '9'
}

// lexString reads a one-line '...' or "..." literal with Python's escapes;
// it returns the token and the number of escaped newlines inside.
func lexString(src string, i, line int) (token, int, error) {
	q := src[i]
	n := len(src)
	if i+2 < n && src[i+1] == q && src[i+2] == q {
		return token{}, 0, unsupportedAt(line, "triple-quoted string")
	}
	var b strings.Builder
	lines := 0
	j := i + 1
	for {
		if j >= n || src[j] == '\n' {
			return token{}, 0, unsupportedAt(line, "unterminated string literal")
		}
		c := src[j]
		if c == q {
			j++
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			j++
			continue
		}
		if j+1 >= n {
			return token{}, 0, unsupportedAt(line, "unterminated string literal")
		}
		e := src[j+1]
		j += 2
		switch e {
		case '\n':
			lines++ // continuation inside the literal
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			if j < n && src[j] >= '0' && src[j] <= '7' {
				return token{}, 0, unsupportedAt(line, "octal escape")
			}
			b.WriteByte(0)
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'v':
			b.WriteByte(11)
		case 'x':
			if j+2 > n {
				return token{}, 0, unsupportedAt(line, "\\x escape")
			}
			v, err := strconv.ParseUint(src[j:j+2], 16, 8)
			if err != nil || v >= 0x80 {
				return token{}, 0, unsupportedAt(line, "\\x escape %q", src[j-2:min(j+2, n)])
			}
			b.WriteByte(byte(v))
			j += 2
		case 'u', 'U', 'N':
			return token{}, 0, unsupportedAt(line, "\\%c escape", e)
		default:
			if e >= '1' && e <= '7' {
				return token{}, 0, unsupportedAt(line, "octal escape")
			}
			// Python keeps an unknown escape as written.
			b.WriteByte('\\')
			j--
		}
	}
	return token{kind: tStr, text: b.String(), line: line, pos: i, end: j}, lines, nil
}
