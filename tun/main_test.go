package tun

import (
	"testing"

	"go.uber.org/goleak"
)

// Faulty's scheduler and pump goroutines must end with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
