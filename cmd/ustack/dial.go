package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ustack/ustack/stack"
)

func cmdDial(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf netFlags
	nf.register(fs)
	timeout := fs.Duration("timeout", 75*time.Second, "give up connecting after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ustack dial -dev NAME -host HOSTADDR/PREFIX -addr STACKADDR [-o sysctl=value ...] HOST:PORT\n\n"+
			"Connects from the stack to a server on the kernel side and copies stdin to the connection and the\n"+
			"connection to stdout, like nc; EOF on stdin half-closes the connection (FIN).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "ustack dial: exactly one HOST:PORT is required")
		fs.Usage()
		return 2
	}
	p, err := nf.parse()
	if err != nil {
		fmt.Fprintf(stderr, "ustack dial: %v\n", err)
		return 2
	}
	s, cleanup, err := nf.openStack(p)
	if err != nil {
		return fail(stderr, "dial: %v", err)
	}
	defer cleanup()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dctx, cancel := context.WithTimeout(ctx, *timeout)
	c, err := s.DialContext(dctx, "tcp", fs.Arg(0))
	cancel()
	if err != nil {
		return fail(stderr, "dial: %v", err)
	}
	tc := c.(*stack.TCPConn)
	done := make(chan error, 2)
	go func() {
		_, err := io.Copy(tc, stdin)
		tc.CloseWrite()
		done <- err
	}()
	go func() {
		_, err := io.Copy(stdout, tc)
		done <- err
	}()
	var rerr error
	select {
	case rerr = <-done:
		// Whichever finished first: if the peer closed, stop; if stdin
		// ended, wait for the peer's side too.
		select {
		case err := <-done:
			if rerr == nil {
				rerr = err
			}
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	tc.Close()
	if rerr != nil {
		return fail(stderr, "dial: %v", rerr)
	}
	if os.Getenv("USTACK_DIAL_STATS") != "" {
		printSummary(stderr, s)
	}
	return 0
}
