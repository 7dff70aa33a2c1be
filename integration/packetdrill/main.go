package packetdrill

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// Main is `ustack packetdrill [-v] FILE|DIR ...`: it runs every script
// given (directories are walked for *.pkt), prints a table of results and a
// summary line, and returns 0 when nothing failed, 1 when a script failed,
// 2 on a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	return MainWith(args, stdout, stderr, NewUstackHarness)
}

// MainWith is Main with another system under test.
func MainWith(args []string, stdout, stderr io.Writer, newHarness HarnessFactory) int {
	fs := flag.NewFlagSet("packetdrill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "print notes and a trace for every script")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ustack packetdrill [-v] FILE|DIR ...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var files []scriptFile
	for _, a := range fs.Args() {
		fl, err := findScripts(a)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		files = append(files, fl...)
	}
	r := &Runner{NewHarness: newHarness, Verbose: *verbose}
	var results []Result
	for _, f := range files {
		res := r.RunFile(f.path)
		res.Script = f.name
		results = append(results, res)
	}
	WriteTable(stdout, results, *verbose)
	for _, res := range results {
		if res.Status == Fail {
			return 1
		}
	}
	return 0
}

type scriptFile struct{ path, name string }

// findScripts expands a file or directory argument; names are relative to
// the directory given.
func findScripts(arg string) ([]scriptFile, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []scriptFile{{arg, arg}}, nil
	}
	var out []scriptFile
	err = filepath.WalkDir(arg, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".pkt") {
			rel, _ := filepath.Rel(arg, p)
			out = append(out, scriptFile{p, filepath.ToSlash(rel)})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}

// WriteTable prints one line per script and the summary line
// "N passed, N failed, N unsupported".
func WriteTable(w io.Writer, results []Result, verbose bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "script\tresult\tfirst difference")
	var pass, fail, unsup int
	for _, r := range results {
		switch r.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		default:
			unsup++
		}
		msg := r.Message()
		if !verbose {
			msg = firstLine(msg)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Script, r.Status, strings.ReplaceAll(msg, "\n", "\n\t\t"))
		if verbose {
			for _, n := range r.Notes {
				fmt.Fprintf(tw, "\t\t  %s\n", n)
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%d passed, %d failed, %d unsupported\n", pass, fail, unsup)
	writeNeeds(w, results)
}

// writeNeeds totals what the unsupported scripts lack, most wanted first.
func writeNeeds(w io.Writer, results []Result) {
	count := map[string]int{}
	for _, r := range results {
		for _, n := range r.Needs {
			count[n]++
		}
	}
	if len(count) == 0 {
		return
	}
	needs := make([]string, 0, len(count))
	for n := range count {
		needs = append(needs, n)
	}
	sort.Slice(needs, func(i, j int) bool {
		if count[needs[i]] != count[needs[j]] {
			return count[needs[i]] > count[needs[j]]
		}
		return needs[i] < needs[j]
	})
	fmt.Fprintln(w, "missing (unsupported scripts needing it):")
	for _, n := range needs {
		fmt.Fprintf(w, "  %3d  %s\n", count[n], n)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
