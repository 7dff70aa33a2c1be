// Package interop is ustack's interoperability suite: real Linux programs
// (curl, wrk, socat, ncat, Go's net/http on kernel sockets) talk to a ustack
// instance over a TUN device inside a throwaway network namespace, on clean
// and impaired links, and the TIME-WAIT machinery of both sides is checked
// on the wire and in the counters.
//
// Every scenario is a named subtest that prints one SUMMARY line. Run as
// root: go test ./integration/... (-v to see the summaries). USTACK_FULL=1
// uses the full sizes everywhere (256 MiB bulk, 100 MiB impaired); the race
// detector shrinks them.
package interop

import (
	"os"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// full reports whether USTACK_FULL=1 asks for the full sizes.
func full() bool { return os.Getenv("USTACK_FULL") == "1" }

// size scales a transfer: n under USTACK_FULL, else min(n, normal), and a
// sixteenth of that (at least 1 MiB) under the race detector.
func size(n, normal int64) int64 {
	if !full() {
		n = min(n, normal)
	}
	if raceEnabled {
		n = max(n/16, 1*mib)
	}
	return n
}
