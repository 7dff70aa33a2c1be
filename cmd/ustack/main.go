// Command ustack runs the ustack userspace TCP/IP stack over a TUN device:
// a self-contained demo, a server, a netcat-like client and the packetdrill
// conformance runner.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `ustack: a userspace TCP/IP stack over TUN that behaves like Linux's TCP.

Usage:
  ustack demo [-v]                      self-contained demo in a private network namespace (needs root)
  ustack serve -dev NAME -host HOSTADDR/PREFIX -addr STACKADDR -listen PORT=APP [-listen ...] [-o sysctl=value ...]
                                        serve echo, discard or http on a TUN device until SIGINT/SIGTERM
  ustack dial -dev NAME -host HOSTADDR/PREFIX -addr STACKADDR [-o ...] HOST:PORT
                                        connect out through the stack, copy stdin/stdout like nc
  ustack packetdrill [-v] FILE|DIR ...  run packetdrill scripts against ustack on a virtual clock
  ustack bench [-workers N] [-duration D]
                                        connection churn: ustack over TUN vs the kernel over veth, same run
  ustack sysctls                        list the options -o accepts, with their defaults
  ustack help [COMMAND]                 this text, or a command's flags

Run "ustack COMMAND -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "serve":
		return cmdServe(rest, stdout, stderr)
	case "dial":
		return cmdDial(rest, stdin, stdout, stderr)
	case "packetdrill":
		return cmdPacketdrill(rest, stdout, stderr)
	case "bench":
		return cmdBench(rest, stdout, stderr)
	case "sysctls":
		return cmdSysctls(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 && rest[0] != "help" {
			return run([]string{rest[0], "-h"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ustack: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func fail(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "ustack: "+format+"\n", a...)
	return 1
}
