package harness

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ustack/ustack/integration/netns"
)

const childEnv = "USTACK_HARNESS_CHILD"

// TestChildFailingScenario is the failing scenario TestNoLeftovers runs in
// a child process: it builds a full Env (namespace, TUN, stack, listener,
// a process in the namespace) and then fails in the way the parent asks.
// Its first cleanup (which runs last) checks that nothing is left.
func TestChildFailingScenario(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("run by TestNoLeftovers")
	}
	base := netns.OpenTUNs()
	t.Cleanup(func() {
		if err := netns.CheckClean(base); err != nil {
			fmt.Printf("LEAK %v\n", err)
		} else {
			fmt.Printf("CLEAN\n")
		}
	})
	deadline := time.Minute
	if mode == "deadline" {
		deadline = time.Second
	}
	e := New(t, Config{Tag: "child", Deadline: deadline})
	e.ServeEcho(e.Listen(7))
	p := e.Start("sleep", "301")
	fmt.Printf("NS=%s PID=%d\n", e.NS.Name, p.Cmd.Process.Pid)
	switch mode {
	case "fatal":
		t.Fatal("scenario failure")
	case "panic":
		panic("scenario panic")
	case "deadline":
		// Blocks until the watchdog tears the Env down (which kills sleep).
		e.Staged("waiting for sleep to exit")
		<-p.Done()
		io.WriteString(os.Stdout, "unblocked by the watchdog\n")
	}
}

// TestNoLeftovers: a scenario that fails (t.Fatal), panics, or overruns its
// deadline leaves no namespace, TUN device or process behind.
func TestNoLeftovers(t *testing.T) {
	Skip(t)
	if os.Getenv(childEnv) != "" {
		t.Skip("child")
	}
	for _, mode := range []string{"fatal", "panic", "deadline"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildFailingScenario$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("child scenario passed:\n%s", out)
			}
			m := regexp.MustCompile(`NS=(\S+) PID=(\d+)`).FindStringSubmatch(string(out))
			if m == nil {
				t.Fatalf("child did not get to start its scenario:\n%s", out)
			}
			if !strings.Contains(string(out), "\nCLEAN\n") {
				t.Errorf("child's own leak check did not pass:\n%s", out)
			}
			if _, err := os.Stat("/var/run/netns/" + m[1]); !os.IsNotExist(err) {
				t.Errorf("namespace %s left behind", m[1])
			}
			if b, err := os.ReadFile("/proc/" + m[2] + "/cmdline"); err == nil && strings.Contains(string(b), "301") {
				t.Errorf("process %s (sleep 301) left behind", m[2])
			}
			if mode == "deadline" && !strings.Contains(string(out), `DEADLINE 1s exceeded in stage "waiting for sleep to exit"`) {
				t.Errorf("deadline report missing:\n%s", out)
			}
			Summary(t, 0, 0, "namespace_gone", true, "process_gone", true)
		})
	}
}
