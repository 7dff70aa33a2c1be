package packetdrill

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ustack/ustack/integration/packetdrill/pycode"
	"github.com/ustack/ustack/integration/packetdrill/script"
)

var update = flag.Bool("update", false, "rewrite testdata/expected.txt from this run")

// corpusDir finds ../shared/packetdrill beside the repository by walking up
// from the package directory.
func corpusDir(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "packetdrill")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// kernelNote starts the reason of an expectation that records where Linux
// 6.18 itself does not do what the script says (see the corpus README);
// such lines are kept by -update.
const kernelNote = "linux-6.18:"

type expectation struct {
	status string
	reason string
}

// readExpected reads "script<TAB>status<TAB>reason" lines.
func readExpected(path string) (map[string]expectation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]expectation{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) < 2 {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		e := expectation{status: parts[1]}
		if len(parts) == 3 {
			e.reason = parts[2]
		}
		out[parts[0]] = e
	}
	return out, sc.Err()
}

// TestCorpus runs every script of the shared corpus against ustack and
// fails on a regression: a script expected to pass that does not, or one
// expected unsupported (it ran without a difference up to the unsupported
// feature, or to its end past Python blocks) that now fails. Scripts that
// improved are reported, so the expectations can be raised with -update.
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	if dir == "" {
		t.Skip("no shared/packetdrill directory above the package; skipping the corpus run")
	}
	runCorpus(t, dir, "testdata/expected.txt", "the shared packetdrill corpus")
}

// TestProjectScripts runs the project's own scripts (testdata/packetdrill at
// the repository root), each verified to pass on Linux 6.18 with the real
// packetdrill tool, with the same regression rules.
func TestProjectScripts(t *testing.T) {
	runCorpus(t, filepath.Join("..", "..", "testdata", "packetdrill"), "testdata/project-expected.txt",
		"the project's Linux-verified scripts (testdata/packetdrill)")
}

func runCorpus(t *testing.T, dir, expPath, title string) {
	files, err := findScripts(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{NewHarness: NewUstackHarness}
	var results []Result
	for _, f := range files {
		res := r.RunFile(f.path)
		res.Script = f.name
		results = append(results, res)
	}
	var table bytes.Buffer
	WriteTable(&table, results, false)
	t.Logf("%s:\n%s", title, table.String())

	exp, err := readExpected(expPath)
	if err != nil && !*update {
		t.Fatal(err)
	}
	if *update {
		var b strings.Builder
		fmt.Fprintf(&b, "# Expected results of %s against ustack.\n", title)
		b.WriteString("# script<TAB>pass|fail|unsupported<TAB>first difference. Regenerate: go test -run 'TestCorpus|TestProjectScripts' -update\n")
		sort.Slice(results, func(i, j int) bool { return results[i].Script < results[j].Script })
		for _, res := range results {
			if e, ok := exp[res.Script]; ok && strings.HasPrefix(e.reason, kernelNote) {
				// A deliberate expectation (Linux 6.18 itself differs from
				// the script) survives regeneration.
				fmt.Fprintf(&b, "%s\t%s\t%s\n", res.Script, e.status, e.reason)
				continue
			}
			fmt.Fprintf(&b, "%s\t%s\t%s\n", res.Script, res.Status, firstLine(res.Message()))
		}
		if err := os.WriteFile(expPath, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, res := range results {
		e, ok := exp[res.Script]
		switch {
		case !ok:
			t.Errorf("%s: not in %s (got %s)", res.Script, expPath, res.Status)
		case e.status == "pass" && res.Status != Pass:
			t.Errorf("REGRESSION %s: expected pass, got %s: %s", res.Script, res.Status, res.Message())
		case e.status == "unsupported" && res.Status == Fail:
			// It used to run up to its unsupported feature (or to the end,
			// past Python blocks) without a difference.
			t.Errorf("REGRESSION %s: expected unsupported (%s), got fail: %s", res.Script, e.reason, res.Message())
		case e.status != "pass" && res.Status == Pass && strings.HasPrefix(e.reason, kernelNote):
			t.Logf("%s passes, but Linux 6.18 does not (%s): ustack deviates from the kernel here", res.Script, e.reason)
		case e.status != "pass" && res.Status == Pass:
			t.Logf("%s now passes (expected %s); raise it with -update", res.Script, e.status)
		}
	}
}

// TestCorpusPythonParses checks that every %{ }% block of the corpus is
// inside the Python subset, so scripts end on what the stack reports, not
// on the interpreter.
func TestCorpusPythonParses(t *testing.T) {
	dir := corpusDir(t)
	if dir == "" {
		t.Skip("no shared/packetdrill directory above the package")
	}
	files, err := findScripts(dir)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, f := range files {
		s, err := script.ParseFile(f.path)
		if err != nil {
			continue // reported by TestCorpus
		}
		for _, ev := range s.Events {
			if ev.Code == nil {
				continue
			}
			blocks++
			if _, err := pycode.Parse(ev.Code.Text); err != nil {
				t.Errorf("%s:%d: %v", f.name, ev.Line, err)
			}
		}
	}
	t.Logf("%d blocks parsed", blocks)
}
