package netns

import (
	"errors"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	vnetns "github.com/vishvananda/netns"
)

// live holds the namespaces this process created and has not closed, so a
// signal handler can remove them before the process dies.
var live struct {
	mu sync.Mutex // guards m
	m  map[*NS]bool
}

func track(n *NS) {
	live.mu.Lock()
	if live.m == nil {
		live.m = map[*NS]bool{}
	}
	live.m[n] = true
	live.mu.Unlock()
}

func untrack(n *NS) {
	live.mu.Lock()
	delete(live.m, n)
	live.mu.Unlock()
}

// CloseAll kills every process started by Start that is still running and
// deletes every namespace this process created and has not closed.
func CloseAll() {
	procs.mu.Lock()
	ps := make([]*Proc, 0, len(procs.m))
	for _, p := range procs.m {
		ps = append(ps, p)
	}
	procs.mu.Unlock()
	for _, p := range ps {
		p.Kill()
	}
	live.mu.Lock()
	ns := make([]*NS, 0, len(live.m))
	for n := range live.m {
		ns = append(ns, n)
	}
	live.mu.Unlock()
	for _, n := range ns {
		n.Close()
	}
}

var signalOnce sync.Once

// CloseOnSignal makes SIGINT and SIGTERM (Ctrl-C, `timeout`) remove this
// process's namespaces and processes before it exits with status 2. A test
// binary killed by SIGKILL or by `go test -timeout` cannot clean up: its
// processes die with it (Pdeathsig) and SweepStale removes its namespaces
// on the next run.
func CloseOnSignal() {
	signalOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			<-ch
			CloseAll()
			os.Exit(2)
		}()
	})
}

// SweepStale deletes namespaces named by this package ("ustack-<tag>-<pid>-<n>")
// whose creating process no longer exists: leftovers of a test binary that
// was killed. Namespaces of live processes are never touched.
func SweepStale() []string {
	entries, err := os.ReadDir("/var/run/netns")
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, Prefix) {
			continue
		}
		parts := strings.Split(name, "-")
		if len(parts) < 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[len(parts)-2])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // the creator is alive
		}
		if err := vnetns.DeleteNamed(name); err == nil {
			removed = append(removed, name)
		}
	}
	return removed
}
