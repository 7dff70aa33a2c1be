package script

import (
	"fmt"
	"strings"
)

// tokKind classifies a token. Single-character punctuation uses tokPunct
// with the character in text, as packetdrill's flex scanner returns the
// character itself.
type tokKind uint8

const (
	tokEOF       tokKind = iota
	tokInt               // 123, -1
	tokHex               // 0x1f
	tokFloat             // .1, 0.200
	tokWord              // socket, SOL_SOCKET, S, FP, sackOK
	tokString            // "quoted", text without the quotes
	tokBackquote         // `shell`, text without the backquotes
	tokCode              // %{ python }%, text trimmed of blanks at both ends
	tokOption            // --name (text is name)
	tokEllipsis          // ...
	tokIPv4              // 192.0.2.1
	tokPunct             // one character: < > ( ) [ ] { } , : = | + * ~ . - / etc.
)

func (k tokKind) String() string {
	switch k {
	case tokEOF:
		return "end of file"
	case tokInt, tokHex:
		return "integer"
	case tokFloat:
		return "number"
	case tokWord:
		return "word"
	case tokString:
		return "string"
	case tokBackquote:
		return "backquoted command"
	case tokCode:
		return "%{ code }%"
	case tokOption:
		return "--option"
	case tokEllipsis:
		return "'...'"
	case tokIPv4:
		return "IPv4 address"
	}
	return "punctuation"
}

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokString:
		return fmt.Sprintf("%q", t.text)
	case tokBackquote:
		return "`" + abbreviate(t.text) + "`"
	case tokCode:
		return "%{" + abbreviate(t.text) + "}%"
	case tokOption:
		return "--" + t.text
	}
	return "'" + t.text + "'"
}

func abbreviate(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 30 {
		return s[:27] + "..."
	}
	return s
}

func (t token) is(punct string) bool { return t.kind == tokPunct && t.text == punct }

// lex splits src into tokens the way packetdrill's lexer.l does (comments and
// whitespace dropped, line numbers kept). It never panics; malformed input
// yields an error with the line where the problem starts.
func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	i := 0
	n := len(src)
	for i < n {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '/' && i+1 < n && src[i+1] == '/':
			for i < n && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < n && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, &Error{Line: line, Msg: "unterminated /* comment"}
			}
			body := src[i : i+2+end+2]
			line += strings.Count(body, "\n")
			i += len(body)
			continue
		case c == '%' && i+1 < n && src[i+1] == '{':
			end := strings.Index(src[i+2:], "}%")
			if end < 0 {
				return nil, &Error{Line: line, Msg: "unterminated %{ code block"}
			}
			body := src[i+2 : i+2+end]
			toks = append(toks, token{tokCode, strings.Trim(body, " \t"), line})
			line += strings.Count(body, "\n")
			i += 2 + end + 2
			continue
		case c == '`' || c == '"':
			j := i + 1
			for j < n && src[j] != c {
				if src[j] == '\\' && j+1 < n {
					j++
				}
				j++
			}
			if j >= n {
				what := "string"
				if c == '`' {
					what = "backquoted command"
				}
				return nil, &Error{Line: line, Msg: "unterminated " + what}
			}
			body := src[i+1 : j]
			kind := tokString
			if c == '`' {
				kind = tokBackquote
			}
			toks = append(toks, token{kind, body, line})
			line += strings.Count(body, "\n")
			i = j + 1
			continue
		case c == '.' && strings.HasPrefix(src[i:], "..."):
			toks = append(toks, token{tokEllipsis, "...", line})
			i += 3
			continue
		case c == '-' && i+1 < n && src[i+1] == '-' && i+2 < n && isWordChar(src[i+2]):
			j := i + 2
			for j < n && isWordChar(src[j]) {
				j++
			}
			toks = append(toks, token{tokOption, src[i+2 : j], line})
			i = j
			continue
		}
		if tok, l := lexNumberOrWord(src[i:]); l > 0 {
			tok.line = line
			toks = append(toks, tok)
			i += l
			continue
		}
		if c >= 0x80 {
			return nil, &Error{Line: line, Msg: fmt.Sprintf("unexpected byte 0x%02x", c)}
		}
		toks = append(toks, token{tokPunct, string(c), line})
		i++
	}
	toks = append(toks, token{tokEOF, "", line})
	return toks, nil
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isWordChar(c byte) bool { return isDigit(c) || c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isHexDigit(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// lexNumberOrWord recognizes the longest of: IPv4 address, float, integer
// (optionally negative), hex integer, word. It returns length 0 when s does
// not start one of them. Like flex, the longest match wins, and on a tie the
// number rules come before the word rule.
func lexNumberOrWord(s string) (token, int) {
	neg := 0
	if s[0] == '-' {
		neg = 1
	}
	// digits run
	d := neg
	for d < len(s) && isDigit(s[d]) {
		d++
	}
	digits := d - neg
	best := token{}
	bestLen := 0
	// float: [-]?[0-9]*[.][0-9]+
	if d < len(s) && s[d] == '.' && d+1 < len(s) && isDigit(s[d+1]) {
		f := d + 1
		for f < len(s) && isDigit(s[f]) {
			f++
		}
		best, bestLen = token{kind: tokFloat, text: s[:f]}, f
		// IPv4: [0-9]+.[0-9]+.[0-9]+.[0-9]+ (never negative)
		if neg == 0 && digits > 0 {
			if l := ipv4Len(s); l > bestLen {
				best, bestLen = token{kind: tokIPv4, text: s[:l]}, l
			}
		}
	} else if digits > 0 {
		best, bestLen = token{kind: tokInt, text: s[:d]}, d
	}
	if neg == 1 {
		return best, bestLen
	}
	// hex: 0x[0-9a-fA-F]+
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHexDigit(s[2]) {
		h := 2
		for h < len(s) && isHexDigit(s[h]) {
			h++
		}
		if h > bestLen {
			best, bestLen = token{kind: tokHex, text: s[:h]}, h
		}
	}
	// word: [a-zA-Z0-9_]+ wins only when strictly longer.
	w := 0
	for w < len(s) && isWordChar(s[w]) {
		w++
	}
	if w > bestLen {
		best, bestLen = token{kind: tokWord, text: s[:w]}, w
	}
	return best, bestLen
}

func ipv4Len(s string) int {
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(s) || s[i] != '.' {
				return 0
			}
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return 0
		}
	}
	return i
}
