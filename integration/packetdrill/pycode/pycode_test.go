package pycode

import (
	"strings"
	"testing"
)

// run parses and runs blocks in one interpreter with tcpi_snd_cwnd = 10 and
// tcpi_lost declared unavailable; it returns what print wrote and the error.
func run(t *testing.T, blocks ...string) (string, error) {
	t.Helper()
	in := New()
	in.Set("tcpi_snd_cwnd", Int(10))
	in.Set("tcpi_snd_ssthresh", Int(0x7fffffff))
	in.Set("TCP_CA_Recovery", Int(3))
	in.Set("tcpi_ca_state", Int(3))
	in.SetUnavailable("tcpi_lost", "no lost_out")
	in.Missing = func(name string) (string, bool) {
		if strings.HasPrefix(name, "tcpi_") {
			return "unknown field", true
		}
		return "", false
	}
	var out []string
	in.Print = func(s string) { out = append(out, s) }
	for _, b := range blocks {
		p, err := Parse(b)
		if err != nil {
			return strings.Join(out, "\n"), err
		}
		if err := in.Run(p); err != nil {
			return strings.Join(out, "\n"), err
		}
	}
	return strings.Join(out, "\n"), nil
}

// The blocks of the shared corpus, and what they print or raise, as
// CPython 3 does.
func TestCorpusConstructs(t *testing.T) {
	tests := []struct {
		name   string
		blocks []string
		out    string
		err    string // substring of the error, "" for none
	}{
		{"assert pass", []string{"assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd"}, "", ""},
		{"assert fail shows value", []string{"assert tcpi_snd_cwnd == 20, tcpi_snd_cwnd"}, "",
			"line 1: assert tcpi_snd_cwnd == 20, tcpi_snd_cwnd: AssertionError: 10"},
		{"assert without message", []string{"assert tcpi_snd_cwnd == 20"}, "", "AssertionError"},
		{"print then assert", []string{"print(tcpi_snd_cwnd); assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd"}, "10", ""},
		{"variables persist", []string{"cwnd = 8", "cwnd += 1", "cwnd += 1; assert tcpi_snd_cwnd == cwnd, tcpi_snd_cwnd"}, "", ""},
		{"hex constant", []string{"TCP_INFINITE_SSTHRESH = 0x7fffffff", "assert tcpi_snd_ssthresh == TCP_INFINITE_SSTHRESH, tcpi_snd_ssthresh"}, "", ""},
		{"symbolic state", []string{"assert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state"}, "", ""},
		{"format message", []string{"assert tcpi_snd_cwnd == 12, 'cwnd=%d' % tcpi_snd_cwnd"}, "", "AssertionError: cwnd=10"},
		{"format tuple", []string{"print('a: %d b: %s' % (1, 'x'))"}, "a: 1 b: x", ""},
		{"multi-line block", []string{"\nassert tcpi_snd_cwnd == 10, tcpi_snd_cwnd\nassert tcpi_ca_state == 3, tcpi_ca_state  # comment\n"}, "", ""},
		{"second line fails", []string{"\nassert tcpi_snd_cwnd == 10, tcpi_snd_cwnd\nassert tcpi_ca_state == 4, tcpi_ca_state\n"}, "",
			"line 3: assert tcpi_ca_state == 4, tcpi_ca_state: AssertionError: 3"},
		{"backslash continuation", []string{"assert 5 <= tcpi_snd_cwnd <= 15, tcpi_snd_cwnd;\\\n         assert 0 == 0, 1;\\\n"}, "", ""},
		{"chained comparison fails", []string{"assert 11 <= tcpi_snd_cwnd <= 15, tcpi_snd_cwnd"}, "", "AssertionError: 10"},
		{"no space after comma", []string{"assert tcpi_snd_cwnd == 10,tcpi_snd_cwnd"}, "", ""},
		{"unavailable field", []string{"assert tcpi_lost == 6, tcpi_lost"}, "", "python tcpi_lost (no lost_out)"},
		{"unavailable only in the message of a passing assert", []string{"assert tcpi_snd_cwnd == 10, '%d' % tcpi_lost"}, "", ""},
		{"unavailable in the message of a failing assert", []string{"assert tcpi_snd_cwnd == 1, '%d' % tcpi_lost"}, "",
			"AssertionError: <message not evaluated: tcpi_lost (no lost_out)>"},
		{"unknown tcpi field", []string{"assert tcpi_reord_seen == 2"}, "", "python tcpi_reord_seen (unknown field)"},
		{"assigned unavailable", []string{"tcpi_lost = 3; assert tcpi_lost == 3"}, "", ""},
		{"name error", []string{"assert cwnd == 1"}, "", "NameError: name 'cwnd' is not defined"},
		{"augmented undefined", []string{"cwnd += 1"}, "", "NameError: name 'cwnd' is not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, tt.blocks...)
			if out != tt.out {
				t.Errorf("printed %q, want %q", out, tt.out)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// Expressions: each prints the value CPython 3 prints.
func TestExpressions(t *testing.T) {
	tests := []struct{ src, out string }{
		{"1 + 2 * 3", "7"},
		{"(1 + 2) * 3", "9"},
		{"-7 // 2", "-4"},
		{"-7 % 3", "2"},
		{"7 % -3", "-2"},
		{"2 ** 10", "1024"},
		{"-2 ** 2", "-4"},
		{"2 ** 3 ** 2", "512"},
		{"1 << 4 | 1", "17"},
		{"0xff & ~0x0f ^ 1", "241"},
		{"100 >> 3", "12"},
		{"1_000 + 0o17 + 0b11", "1018"},
		{"1 < 2 < 3", "True"},
		{"3 > 2 > 2", "False"},
		{"not 1 == 2", "True"},
		{"1 and 2", "2"},
		{"0 and 2", "0"},
		{"0 or 'x'", "x"},
		{"not ''", "True"},
		{"True + True", "2"},
		{"True & False", "False"},
		{"1 == True", "True"},
		{"1 == '1'", "False"},
		{"1 != '1'", "True"},
		{"'ab' + 'c'", "abc"},
		{"'ab' * 3", "ababab"},
		{"'a' 'b'", "ab"},
		{"'b' > 'a'", "True"},
		{"(1, 'a')", "(1, 'a')"},
		{"(1,)", "(1,)"},
		{"()", "()"},
		{"None", "None"},
		{"'%5d|%-5d|%05d|%+d|% d' % (42, 42, 42, 42, 42)", "   42|42   |00042|+42| 42"},
		{"'%x %X %#x %o %#o' % (255, 255, 255, 8, 8)", "ff FF 0xff 10 0o10"},
		{"'%s %r %.2s %5s' % ('ab', 'ab', 'xyz', 'q')", "ab 'ab' xy     q"},
		{"'%d%%' % 50", "50%"},
		{"'%d' % True", "1"},
		{"'%s' % True", "True"},
		{"'%s' % ((1, 2),)", "(1, 2)"},
		{"'%.3d' % 7", "007"},
		{"'%d' % -5", "-5"},
		{"'it''s'", "its"},
		{"\"it's\"", "it's"},
		{"'a\\tb\\x41'", "a\tbA"},
		{"'\\d'", "\\d"},
		{"('a\"b\\'c',)", "('a\"b\\'c',)"},
		{"(\"a'b\",)", "(\"a'b\",)"},
		{"-9223372036854775807 - 1", "-9223372036854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			out, err := run(t, "print("+tt.src+")")
			if err != nil || out != tt.out {
				t.Errorf("print(%s) = %q, %v; want %q", tt.src, out, err, tt.out)
			}
		})
	}
	out, err := run(t, "print(1, 'a', (2,), None)", "print()")
	if err != nil || out != "1 a (2,) None\n" {
		t.Errorf("print with several arguments: %q, %v", out, err)
	}
}

// Python exceptions: the script fails with CPython's message.
func TestExceptions(t *testing.T) {
	tests := []struct{ src, err string }{
		{"1 // 0", "ZeroDivisionError: integer division or modulo by zero"},
		{"1 % 0", "ZeroDivisionError"},
		{"1 < 'a'", "TypeError: '<' not supported between instances of 'int' and 'str'"},
		{"1 + 'a'", "TypeError: unsupported operand type(s) for +: 'int' and 'str'"},
		{"-'a'", "TypeError: bad operand type for unary -: 'str'"},
		{"'%d' % 'a'", "TypeError: %d format: a real number is required, not str"},
		{"'%d %d' % 1", "TypeError: not enough arguments for format string"},
		{"'%d' % (1, 2)", "TypeError: not all arguments converted during string formatting"},
		{"'x' % 1", "TypeError: not all arguments converted during string formatting"},
		{"'%y' % 1", "ValueError: unsupported format character 'y' (0x79) at index 1"},
		{"'%' % 1", "ValueError: incomplete format"},
		{"1 >> -1", "ValueError: negative shift count"},
		{"undefined_name", "NameError: name 'undefined_name' is not defined"},
		{"assert 1 < 'a', undefined", "TypeError"},
		{"assert 0, undefined", "NameError: name 'undefined' is not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := run(t, tt.src)
			e, ok := err.(*Error)
			if !ok || e.Kind != Exception || !strings.Contains(e.Msg, tt.err) {
				t.Errorf("%s: got %v, want exception %q", tt.src, err, tt.err)
			}
		})
	}
}

// Everything outside the subset is reported, by name, never run.
func TestUnsupported(t *testing.T) {
	tests := []struct{ src, msg string }{
		{"if tcpi_snd_cwnd == 10:\n  print(1)", "python if statement"},
		{"  assert 1", "python indented statement"},
		{"for i in (1, 2): pass", "python for loop"},
		{"import sys", "python import statement"},
		{"sys.stdout.write('x')", "python attribute access '.'"},
		{"x = [1, 2]", "python list or subscript '['"},
		{"x = {}", "python dict or set '{'"},
		{"x = 1.5", "python float or complex literal"},
		{"x = 1e3", "python float or complex literal"},
		{"x = 3 / 2", "python true division '/'"},
		{"x /= 2", "python true division '/'"},
		{"x.y += 2", "python attribute access '.'"},
		{"x = 2 ** -1", "python negative exponent"},
		{"x = 1 << 64", "python integer result of '<<' beyond 64 bits"},
		{"x = 9223372036854775807 + 1", "beyond 64 bits"},
		{"x = 99999999999999999999", "python integer 99999999999999999999 beyond 64 bits"},
		{"x = len('a')", "python call of len()"},
		{"print('a', sep='')", "python keyword argument sep= in print()"},
		{"print 'a'", "python 2 print statement"},
		{"a, b = 1, 2", "python assignment to something other than a plain name"},
		{"a = b = 1", "python chained assignment"},
		{"x = 1 if 1 else 2", "python conditional expression"},
		{"x = 1 in (1,)", "python 'in' comparison"},
		{"x = None is None", "python 'is' comparison"},
		{"x = lambda: 1", "python lambda"},
		{"x = f'{1}'", "python f-prefixed string literal"},
		{"x = '''a'''", "python triple-quoted string"},
		{"x = '%f' % 1", "python %f format"},
		{"x = '%(a)s' % 1", "python %(name) mapping key"},
		{"x = (1,) < (2,)", "python ordering of tuples"},
		{"x = 'a' * 10000000", "python string longer than"},
		{"x = $", "python character \"$\""},
		{"x = 'abc", "python unterminated string literal"},
		{"x = 1 +", "python syntax: unexpected end of line"},
		{"x = 010", "leading zero"},
		{"x = (" + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 201), "nested deeper"},
		{"x = " + strings.Repeat("-", 300) + "1", "nested deeper"},
		{"x = " + strings.Repeat("not ", 300) + "1", "nested deeper"},
		{"True = 1", "python assignment to keyword True"},
		{"x = print", "python builtin or module print used as a value"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := run(t, tt.src)
			e, ok := err.(*Error)
			if !ok || e.Kind != Unsupported || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("%q: got %v, want unsupported %q", tt.src, err, tt.msg)
			}
		})
	}
}

// The statement text in errors folds continuations and keeps the source.
func TestStatementText(t *testing.T) {
	p, err := Parse("assert 1 <= 2,\\\n   'x' ; pass # c\nx = (1,\n 2)")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line int
		text string
	}{{1, "assert 1 <= 2, 'x'"}, {2, "pass"}, {3, "x = (1, 2)"}}
	if len(p.Stmts) != len(want) {
		t.Fatalf("%d statements, want %d", len(p.Stmts), len(want))
	}
	for i, w := range want {
		if p.Stmts[i].Line != w.line || p.Stmts[i].Text != w.text {
			t.Errorf("stmt %d: line %d %q, want line %d %q", i, p.Stmts[i].Line, p.Stmts[i].Text, w.line, w.text)
		}
	}
}

func TestNames(t *testing.T) {
	p, err := Parse("assert 1 <= tcpi_a <= b, 'x %d' % (c, -d); e += f and not g; print(h or tcpi_a)")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Names(), " "); got != "tcpi_a b c d e f g h" {
		t.Errorf("Names = %q", got)
	}
}
