package pycode

import (
	"strconv"
	"strings"
)

// format is printf-style str % arg: conversions d i u x X o s r a and
// %%, flags - + space # 0, a width and a precision. Floats, '*' widths and
// mapping keys are outside the subset.
func format(f string, arg Value) (string, error) {
	args := []Value{arg}
	if arg.kind == KindTuple {
		args = arg.t
	}
	used := 0
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i < len(f) && f[i] == '(' {
			return "", unsupportedAt(0, "%%(name) mapping key in a format string")
		}
		var minus, plus, space, alt, zero bool
	flags:
		for ; i < len(f); i++ {
			switch f[i] {
			case '-':
				minus = true
			case '+':
				plus = true
			case ' ':
				space = true
			case '#':
				alt = true
			case '0':
				zero = true
			default:
				break flags
			}
		}
		width, prec := 0, -1
		for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
			if width = width*10 + int(f[i]-'0'); width > maxStr {
				return "", unsupportedAt(0, "format width beyond %d", maxStr)
			}
		}
		if i < len(f) && f[i] == '*' {
			return "", unsupportedAt(0, "'*' width in a format string")
		}
		if i < len(f) && f[i] == '.' {
			prec = 0
			for i++; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
				if prec = prec*10 + int(f[i]-'0'); prec > maxStr {
					return "", unsupportedAt(0, "format precision beyond %d", maxStr)
				}
			}
			if i < len(f) && f[i] == '*' {
				return "", unsupportedAt(0, "'*' precision in a format string")
			}
		}
		for i < len(f) && (f[i] == 'h' || f[i] == 'l' || f[i] == 'L') {
			i++ // length modifiers are accepted and ignored, as in Python
		}
		if i >= len(f) {
			return "", exceptionf("ValueError", "incomplete format")
		}
		conv := f[i]
		if conv == '%' {
			b.WriteByte('%')
			continue
		}
		if strings.IndexByte("diuxXosra", conv) < 0 {
			if strings.IndexByte("eEfFgGc", conv) >= 0 {
				return "", unsupportedAt(0, "%%%c format", conv)
			}
			return "", exceptionf("ValueError", "unsupported format character %s (0x%x) at index %d", quoteChar(conv), conv, i)
		}
		if used >= len(args) {
			return "", typeErrorf("not enough arguments for format string")
		}
		a := args[used]
		used++
		var body, sign, prefix string
		switch conv {
		case 's':
			body = a.String()
		case 'r', 'a':
			body = a.Repr()
		default:
			if !a.isInt() {
				what := "a real number is required"
				if conv == 'x' || conv == 'X' || conv == 'o' {
					what = "an integer is required"
				}
				return "", typeErrorf("%%%c format: %s, not %s", conv, what, a.kind)
			}
			v := a.i
			neg := v < 0
			u := uint64(v)
			if neg {
				u = -u
			}
			switch conv {
			case 'x', 'X':
				body = strconv.FormatUint(u, 16)
				if conv == 'X' {
					body = strings.ToUpper(body)
				}
				if alt {
					prefix = "0" + string(conv)
				}
			case 'o':
				body = strconv.FormatUint(u, 8)
				if alt {
					prefix = "0o"
				}
			default:
				body = strconv.FormatUint(u, 10)
			}
			if prec > len(body) {
				body = strings.Repeat("0", prec-len(body)) + body
			}
			switch {
			case neg:
				sign = "-"
			case plus:
				sign = "+"
			case space:
				sign = " "
			}
		}
		if (conv == 's' || conv == 'r' || conv == 'a') && prec >= 0 && prec < len(body) {
			body = body[:prec]
		}
		n := len(sign) + len(prefix) + len(body)
		pad := ""
		if width > n {
			pad = strings.Repeat(" ", width-n)
		}
		switch {
		case minus:
			b.WriteString(sign + prefix + body + pad)
		case zero && !(conv == 's' || conv == 'r' || conv == 'a'):
			b.WriteString(sign + prefix + strings.Repeat("0", len(pad)) + body)
		default:
			b.WriteString(pad + sign + prefix + body)
		}
		if b.Len() > maxStr {
			return "", unsupportedAt(0, "string longer than %d bytes", maxStr)
		}
	}
	if used < len(args) {
		return "", typeErrorf("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

func quoteChar(c byte) string {
	if c >= 0x20 && c < 0x7f && c != '\'' {
		return "'" + string(c) + "'"
	}
	return strconv.QuoteRune(rune(c))
}
