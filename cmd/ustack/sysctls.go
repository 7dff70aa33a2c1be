package main

import (
	"fmt"
	"io"

	"github.com/ustack/ustack/stack"
)

func cmdSysctls(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "Usage: ustack sysctls\n\nLists every option -o accepts (kernel sysctl names), with its default.")
		if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	o := stack.DefaultOptions()
	for _, name := range o.List() {
		v, _ := o.Get(name)
		fmt.Fprintf(stdout, "%s = %s\n", name, v)
	}
	return 0
}
