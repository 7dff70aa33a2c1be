// Package speccover checks that the spec ../shared/spec/linux-tcp-close.md
// is covered: every numbered rule and scenario is cited by a test somewhere
// in the project (a Go test or a Linux-verified packetdrill script), or is
// listed in notCovered with the reason.
package speccover

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	ruleDef  = regexp.MustCompile(`\*\*([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-[0-9]+[a-z]?)\*\*`)
	idToken  = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-[0-9]+`)
	scnToken = regexp.MustCompile(`(?i)\bscn-?([0-9]+)[a-z]?\b`)
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

func specPath(root string) string {
	for dir := root; ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "shared", "spec", "linux-tcp-close.md")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

func TestSpecRulesCovered(t *testing.T) {
	root := repoRoot(t)
	sp := specPath(filepath.Dir(root))
	if sp == "" {
		t.Skip("no shared/spec/linux-tcp-close.md beside the repository")
	}
	spec, err := os.ReadFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	seen := map[string]bool{}
	for _, m := range ruleDef.FindAllStringSubmatch(string(spec), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			rules = append(rules, m[1])
		}
	}
	if len(rules) < 100 {
		t.Fatalf("found only %d rule IDs in %s: the pattern no longer matches the spec", len(rules), sp)
	}

	// Every test source and every project packetdrill script.
	var corpus strings.Builder
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "speccover") {
			return filepath.SkipDir
		}
		// timewait/rules_test.go names rules it leaves to other packages;
		// a mention there is not a test.
		if d.Name() == "rules_test.go" {
			return nil
		}
		if strings.HasSuffix(p, "_test.go") || strings.HasSuffix(p, ".pkt") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			corpus.Write(b)
			corpus.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Collect every ID-shaped token once (upper case, and the scnNN form the
	// script names use), then look the rules up in that set.
	text := corpus.String()
	found := map[string]bool{}
	for _, m := range idToken.FindAllString(text, -1) {
		found[m] = true
	}
	for _, m := range scnToken.FindAllStringSubmatch(text, -1) {
		found["SCN-"+strings.TrimLeft(m[1], "0")] = true
	}
	cited := func(id string) bool { return found[id] }
	var missing, stale []string
	covered := 0
	for _, id := range rules {
		c := cited(id)
		_, listed := notCovered[id]
		switch {
		case c && listed:
			stale = append(stale, id)
		case c:
			covered++
		case !listed:
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	t.Logf("spec rules and scenarios: %d, cited by tests: %d, listed as not covered: %d", len(rules), covered, len(notCovered))
	for _, id := range sortedKeys(notCovered) {
		t.Logf("not covered: %-12s %s", id, notCovered[id])
	}
	if len(missing) > 0 {
		t.Errorf("rules neither cited by a test nor listed in notCovered with a reason: %s", strings.Join(missing, " "))
	}
	if len(stale) > 0 {
		t.Errorf("rules listed in notCovered but now cited by a test (remove them from the list): %s", strings.Join(stale, " "))
	}
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for id := range m {
		k = append(k, id)
	}
	sort.Strings(k)
	return k
}
