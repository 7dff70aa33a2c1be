// Package interop is ustack's interoperability suite: real Linux programs
// (curl, wrk, socat, ncat, Go's net/http on kernel sockets) talk to a ustack
// instance over a TUN device inside a throwaway network namespace, on clean
// and impaired links, and the TIME-WAIT machinery of both sides is checked
// on the wire and in the counters.
//
// Every scenario is a named subtest that prints one SUMMARY line
// ("SUMMARY scenario=<name> bytes=<n> secs=<s> MiB/s=<x> ..."). Run as root:
//
//	go test ./integration/...            # about 2 minutes on 2 cores
//	go test -v -run 'TestTimeWait/rst' ./integration/interop/
//
// Environment:
//
//	USTACK_FULL=1       full sizes: 256 MiB on clean links, 100 MiB on impaired ones
//	                    (defaults 100 MiB and 16 MiB); the race detector divides by 16
//	USTACK_SUMMARY=f    also append the SUMMARY lines to file f
//	USTACK_ARTIFACTS=d  where failing scenarios write the pcap of their last
//	                    8192 TUN packets (default $TMPDIR/ustack-interop)
//
// Without root or /dev/net/tun every test skips; a scenario whose tool
// (curl, wrk, socat, ncat, nft) is missing skips with its name.
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
