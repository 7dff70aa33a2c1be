package packetdrill

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ustack/ustack/integration/packetdrill/script"
)

// The runner does not run shell commands. It understands the ones the
// scripts use to configure the kernel (sysctl, set_sysctls.py, echo into
// /proc/sys, the common defaults.sh) and a few that have no effect on a
// userspace stack with one MSS per packet and no qdisc; anything else makes
// the script unsupported.

// shellAction is what one command line amounts to.
type shellAction struct {
	sysctls []Sysctl
	note    string // a no-op, explained
}

// initSysctls interprets the init command and the commands at the start of
// the script (before any socket exists), which set the stack's options.
func (rn *run) initSysctls() ([]Sysctl, error) {
	var out []Sysctl
	add := func(line int, text string) error {
		acts, err := rn.interpret(text, filepath.Dir(rn.s.Path), 0)
		if err != nil {
			return &scriptError{line: line, msg: err.Error(), unsupported: true}
		}
		for _, a := range acts {
			out = append(out, a.sysctls...)
			if a.note != "" {
				rn.notes = append(rn.notes, a.note)
			}
		}
		return nil
	}
	if c := rn.s.InitCommand; c != nil {
		if err := add(c.Line, c.Text); err != nil {
			return nil, err
		}
	}
	// Commands timed before the first system call configure the stack too.
	for i, ev := range rn.s.Events {
		if ev.Command == nil {
			break
		}
		if err := add(ev.Line, ev.Command.Text); err != nil {
			return nil, err
		}
		rn.initEvents = i + 1
	}
	if c := rn.s.CleanupCommand; c != nil {
		acts, err := rn.interpret(c.Text, filepath.Dir(rn.s.Path), 0)
		if err != nil {
			return nil, &scriptError{line: c.Line, msg: err.Error(), unsupported: true}
		}
		for _, a := range acts {
			if len(a.sysctls) > 0 {
				return nil, &scriptError{line: c.Line, msg: "sysctls in the cleanup command", unsupported: true}
			}
		}
	}
	return out, nil
}

// runtimeCommand runs a backquoted command timed inside the script.
func (rn *run) runtimeCommand(i int, ev *script.Event) error {
	if i < rn.initEvents {
		return nil // already applied when the stack was created
	}
	acts, err := rn.interpret(ev.Command.Text, filepath.Dir(rn.s.Path), 0)
	if err != nil {
		return &scriptError{line: ev.Line, msg: err.Error(), unsupported: true}
	}
	for _, a := range acts {
		for _, s := range a.sysctls {
			if err := rn.h.SetSysctl(s.Name, s.Value); err != nil {
				return &scriptError{line: ev.Line, msg: fmt.Sprintf("sysctl %s=%s while running: %v", s.Name, s.Value, err), unsupported: true}
			}
		}
	}
	return nil
}

// interpret turns a command text (possibly several lines) into actions.
func (rn *run) interpret(text, dir string, depth int) ([]shellAction, error) {
	if depth > 4 {
		return nil, fmt.Errorf("unsupported: shell scripts nested too deeply")
	}
	var out []shellAction
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		for _, cmd := range strings.Split(line, ";") {
			cmd = stripComment(cmd)
			if cmd == "" || strings.HasPrefix(cmd, "#!") {
				continue
			}
			acts, err := rn.interpretOne(cmd, dir, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, acts...)
		}
	}
	return out, nil
}

func stripComment(s string) string {
	inQ := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQ != 0:
			if c == inQ {
				inQ = 0
			}
		case c == '"' || c == '\'':
			inQ = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

func (rn *run) interpretOne(cmd, dir string, depth int) ([]shellAction, error) {
	words, redirect, err := shellWords(cmd)
	if err != nil {
		return nil, fmt.Errorf("unsupported: shell command %q: %v", cmd, err)
	}
	if len(words) == 0 {
		return nil, nil
	}
	prog := words[0]
	switch {
	case prog == "sysctl":
		var acts []shellAction
		for _, w := range words[1:] {
			if strings.HasPrefix(w, "-") {
				if strings.Trim(w, "-qwe") != "" {
					return nil, fmt.Errorf("unsupported: sysctl flag %s", w)
				}
				continue
			}
			name, val, ok := strings.Cut(w, "=")
			if !ok {
				return nil, fmt.Errorf("unsupported: sysctl read %q", w)
			}
			acts = append(acts, shellAction{sysctls: []Sysctl{{canonicalSysctl(name), val}}})
		}
		return acts, nil
	case strings.HasSuffix(prog, "set_sysctls.py"):
		var acts []shellAction
		for _, w := range words[1:] {
			path, val, ok := strings.Cut(w, "=")
			if !ok || !strings.HasPrefix(path, "/proc/sys/") {
				return nil, fmt.Errorf("unsupported: set_sysctls.py argument %q", w)
			}
			acts = append(acts, shellAction{sysctls: []Sysctl{{canonicalSysctl(strings.TrimPrefix(path, "/proc/sys/")), val}}})
		}
		return acts, nil
	case prog == "echo" && len(words) == 2 && redirect != "":
		switch {
		case strings.HasPrefix(redirect, "/proc/sys/"):
			return []shellAction{{sysctls: []Sysctl{{canonicalSysctl(strings.TrimPrefix(redirect, "/proc/sys/")), words[1]}}}}, nil
		case redirect == "/sys/module/tcp_cubic/parameters/hystart_detect" && words[1] == "3":
			return []shellAction{{note: "hystart_detect=3 is the tcp_cubic default"}}, nil
		}
		return nil, fmt.Errorf("unsupported: write to %s", redirect)
	case prog == "ip" && strings.Join(words, " ") == "ip tcp_metrics flush all":
		return []shellAction{{note: "ip tcp_metrics flush: a fresh stack per script has no cached metrics"}}, nil
	case prog == "tc":
		c := strings.Join(words, " ")
		if (strings.HasPrefix(c, "tc qdisc add dev tun0 root pfifo") || strings.HasPrefix(c, "tc qdisc replace dev tun0 root pfifo")) &&
			!strings.Contains(c, "limit") {
			return []shellAction{{note: "tc pfifo qdisc: the in-memory link neither paces nor drops"}}, nil
		}
		return nil, fmt.Errorf("unsupported: qdisc %q (no qdisc in front of the stack)", c)
	case prog == "ethtool" && len(words) >= 3 && words[1] == "-K":
		// The script describes a kernel without TSO/GSO, like ustack:
		// segment boundaries and PSH bits are then compared strictly.
		rn.tso = false
		return []shellAction{{note: "ethtool -K: ustack has no segmentation offload"}}, nil
	case strings.Contains(prog, "sysctl_restore"):
		return []shellAction{{note: "sysctl restore: each script gets a fresh stack"}}, nil
	case strings.HasSuffix(prog, ".sh") && len(words) == 1:
		path := resolveShell(prog, dir)
		if path == "" {
			return nil, fmt.Errorf("unsupported: shell script %s not found", prog)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("unsupported: %v", err)
		}
		return rn.interpret(string(b), filepath.Dir(path), depth+1)
	}
	return nil, fmt.Errorf("unsupported: shell command %q", cmd)
}

// resolveShell finds a script relative to dir; "../common/defaults.sh" and
// "../../common/defaults.sh" both mean the corpus's common/defaults.sh, so
// when the path does not exist a common/<name> in an ancestor is used.
func resolveShell(p, dir string) string {
	cand := p
	if !filepath.IsAbs(p) {
		cand = filepath.Join(dir, p)
	}
	if st, err := os.Stat(cand); err == nil && !st.IsDir() {
		return cand
	}
	if filepath.Base(filepath.Dir(p)) != "common" {
		return ""
	}
	for d := dir; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "common", filepath.Base(p))
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func canonicalSysctl(name string) string { return strings.ReplaceAll(name, "/", ".") }

// shellWords splits a command like sh would for the simple cases the
// scripts use: quotes, $((arithmetic)), and output redirections (the target
// of "> file" is returned; "> /dev/null" and "2>&1" are dropped).
func shellWords(s string) (words []string, redirect string, err error) {
	var toks []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			toks = append(toks, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, "", fmt.Errorf("unterminated quote")
			}
			part := s[i+1 : i+1+j]
			if c == '"' {
				if part, err = expandArith(part); err != nil {
					return nil, "", err
				}
			}
			cur.WriteString(part)
			inWord = true
			i += j + 1
		case c == '$' && strings.HasPrefix(s[i:], "$(("):
			end := strings.Index(s[i:], "))")
			if end < 0 {
				return nil, "", fmt.Errorf("unterminated $((")
			}
			v, err := expandArith(s[i : i+end+2])
			if err != nil {
				return nil, "", err
			}
			cur.WriteString(v)
			inWord = true
			i += end + 1
		case c == '>':
			if cur.String() == "2" || cur.String() == "1" {
				cur.Reset()
				inWord = false
			}
			flush()
			if strings.HasPrefix(s[i:], ">&") {
				for i+1 < len(s) && s[i+1] != ' ' {
					i++
				}
				continue
			}
			toks = append(toks, ">")
		case c == '|' || c == '&' || c == '<' || c == '`':
			return nil, "", fmt.Errorf("shell syntax %q", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	for i := 0; i < len(toks); i++ {
		if toks[i] != ">" {
			words = append(words, toks[i])
			continue
		}
		if i+1 >= len(toks) {
			return nil, "", fmt.Errorf("redirection without a target")
		}
		if toks[i+1] != "/dev/null" {
			redirect = toks[i+1]
		}
		i++
	}
	return words, redirect, nil
}

// expandArith replaces each $((expr)) in s with its value; expr is
// integers combined with + - * /, left to right with * and / first.
func expandArith(s string) (string, error) {
	for {
		i := strings.Index(s, "$((")
		if i < 0 {
			return s, nil
		}
		j := strings.Index(s[i:], "))")
		if j < 0 {
			return "", fmt.Errorf("unterminated $((")
		}
		v, err := evalArith(s[i+3 : i+j])
		if err != nil {
			return "", err
		}
		s = s[:i] + strconv.FormatInt(v, 10) + s[i+j+2:]
	}
}

func evalArith(e string) (int64, error) {
	e = strings.ReplaceAll(e, " ", "")
	var sum, term int64
	sign := int64(1)
	op := byte('*')
	term = 1
	for i := 0; i <= len(e); {
		j := i
		for j < len(e) && e[j] >= '0' && e[j] <= '9' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("bad arithmetic %q", e)
		}
		n, _ := strconv.ParseInt(e[i:j], 10, 64)
		switch op {
		case '*':
			term *= n
		case '/':
			if n == 0 {
				return 0, fmt.Errorf("division by zero in %q", e)
			}
			term /= n
		}
		if j == len(e) {
			return sum + sign*term, nil
		}
		switch e[j] {
		case '*', '/':
			op = e[j]
		case '+', '-':
			sum += sign * term
			sign, term, op = 1, 1, '*'
			if e[j] == '-' {
				sign = -1
			}
		default:
			return 0, fmt.Errorf("bad arithmetic %q", e)
		}
		i = j + 1
	}
	return sum + sign*term, nil
}
