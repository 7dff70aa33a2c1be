package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/ustack/ustack/stack"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf netFlags
	nf.register(fs)
	var listens multiFlag
	fs.Var(&listens, "listen", "serve an app on a port, PORT=APP with APP one of echo, discard, http; repeatable (required)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ustack serve -dev NAME -host HOSTADDR/PREFIX -addr STACKADDR -listen PORT=APP [-listen ...] [-o sysctl=value ...]\n\n"+
			"Creates the TUN device NAME in the current network namespace, gives the kernel side HOSTADDR/PREFIX,\n"+
			"answers as STACKADDR and serves until SIGINT or SIGTERM.\n"+
			"Example: ustack serve -dev ut0 -host 192.0.2.1/24 -addr 192.0.2.2 -listen 80=http -listen 7=echo\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(listens) == 0 {
		fmt.Fprintln(stderr, "ustack serve: at least one -listen PORT=APP is required")
		fs.Usage()
		return 2
	}
	p, err := nf.parse()
	if err != nil {
		fmt.Fprintf(stderr, "ustack serve: %v\n", err)
		return 2
	}
	type svc struct {
		port uint16
		app  string
	}
	var svcs []svc
	for _, l := range listens {
		port, a, err := parseListen(l)
		if err != nil {
			fmt.Fprintf(stderr, "ustack serve: %v\n", err)
			return 2
		}
		svcs = append(svcs, svc{port, a})
	}
	s, cleanup, err := nf.openStack(p)
	if err != nil {
		return fail(stderr, "serve: %v", err)
	}
	defer cleanup()

	var wg sync.WaitGroup
	var lns []net.Listener
	for _, sv := range svcs {
		l, err := s.Listen("tcp", fmt.Sprintf("%s:%d", p.addr, sv.port))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fail(stderr, "serve: listen on port %d: %v", sv.port, err)
		}
		lns = append(lns, l)
		a, _ := newApp(sv.app)
		wg.Add(1)
		go func() { defer wg.Done(); a.serve(l) }()
		fmt.Fprintf(stdout, "ustack: serving %s on %s:%d\n", sv.app, p.addr, sv.port)
	}
	fmt.Fprintf(stdout, "ustack: device %s, kernel side %s; SIGINT or SIGTERM stops\n", nf.dev, p.host)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	signal.Stop(sig)
	for _, l := range lns {
		l.Close()
	}
	wg.Wait()
	printSummary(stdout, s)
	return 0
}

// printSummary prints the counters a user of ustack looks at first.
func printSummary(w io.Writer, s *stack.Stack) {
	fmt.Fprintln(w, "ustack: counters (nstat format, non-zero):")
	s.Counters().WriteNstat(w, false)
	st := s.Sockstat()
	fmt.Fprintf(w, "ustack: sockstat: %s\n", st)
}
