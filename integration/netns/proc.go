package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a program started inside a namespace. Every Proc is registered
// until it has been reaped, so a test can prove it left none running.
type Proc struct {
	Cmd *exec.Cmd

	done    chan struct{}
	waitErr error
}

var spawner struct {
	once sync.Once
	reqs chan func()
}

// onSpawner runs f on the spawner thread: locked, in the root namespace,
// never exiting.
func onSpawner(f func()) {
	spawner.once.Do(func() {
		spawner.reqs = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawner.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawner.reqs <- func() { f(); close(done) }
	<-done
}

var procs struct {
	mu sync.Mutex // guards m
	m  map[int]*Proc
}

// Start starts a command made by Command in its own process group, with
// SIGKILL as its parent-death signal so that even a test binary killed by
// `go test -timeout` takes its children with it. The caller must arrange
// Kill (t.Cleanup); Wait may be called any number of times.
func Start(cmd *exec.Cmd) (*Proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	var err error
	// The parent-death signal fires when the forking *thread* exits, not
	// the process, and Go destroys any thread a goroutine locked and never
	// unlocked (every Do). Forking from one locked thread that lives as
	// long as the process keeps children alive exactly as long as we are.
	onSpawner(func() { err = cmd.Start() })
	if err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	procs.mu.Lock()
	if procs.m == nil {
		procs.m = map[int]*Proc{}
	}
	procs.m[cmd.Process.Pid] = p
	procs.mu.Unlock()
	go func() {
		p.waitErr = cmd.Wait()
		procs.mu.Lock()
		delete(procs.m, cmd.Process.Pid)
		procs.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// StartIn is Start(n.Command(ctx, name, args...)).
func (n *NS) StartIn(ctx context.Context, name string, args ...string) (*Proc, error) {
	return Start(n.Command(ctx, name, args...))
}

// Done is closed when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit, at most d; it returns the exit error
// or an error saying it is still running.
func (p *Proc) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.waitErr
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return p.waitErr
	case <-t.C:
		return fmt.Errorf("%s still running after %v", strings.Join(p.Cmd.Args, " "), d)
	}
}

// Kill kills the process and its process group (by the group id the
// process got at Start, never by name) and waits for it to be reaped.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	pid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = p.Cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// Running lists the processes started by Start that have not been reaped.
func Running() []string {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	var out []string
	for pid, p := range procs.m {
		out = append(out, fmt.Sprintf("%d:%s", pid, strings.Join(p.Cmd.Args, " ")))
	}
	sort.Strings(out)
	return out
}

// OpenTUNs counts this process's open descriptors of /dev/net/tun: a TUN
// device lives as long as its descriptor, so a leaked one shows up here
// even after its namespace was deleted.
func OpenTUNs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == "/dev/net/tun" {
			n++
		}
	}
	return n
}

// ErrLeak is wrapped by CheckClean.
var ErrLeak = errors.New("netns: resources left behind")

// CheckClean reports namespaces, processes and TUN descriptors still held,
// beyond the baseline of TUN descriptors the caller already had.
func CheckClean(baseTUNs int) error {
	var parts []string
	if l := Leftovers(); len(l) > 0 {
		parts = append(parts, "namespaces "+strings.Join(l, ","))
	}
	if r := Running(); len(r) > 0 {
		parts = append(parts, "processes "+strings.Join(r, ","))
	}
	if n := OpenTUNs(); n > baseTUNs {
		parts = append(parts, fmt.Sprintf("%d TUN descriptors", n-baseTUNs))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrLeak, strings.Join(parts, "; "))
}
