package packetdrill

import (
	"os"
	"testing"
)

func TestRunScriptFromEnv(t *testing.T) {
	f := os.Getenv("PKT")
	if f == "" {
		t.Skip("set PKT=path/to/script.pkt to trace one script against ustack")
	}
	MainWith([]string{"-v", f}, os.Stdout, os.Stderr, NewUstackHarness)
}
