package stack

import (
	"errors"
	"testing"
)

// TestOptions_EngineKnobs: sysctls the engine has a knob for reach
// tcp.Config; ranges follow the kernel's handlers.
func TestOptions_EngineKnobs(t *testing.T) {
	o := DefaultOptions()
	cfg := o.TCPConfig(1500)
	if !cfg.SlowStartAfterIdle || !cfg.DSACK || cfg.Reordering != 3 || cfg.EarlyRetrans != 3 {
		t.Fatalf("defaults: %+v", cfg)
	}
	for _, kv := range [][2]string{
		{"net.ipv4.tcp_slow_start_after_idle", "0"},
		{"net.ipv4.tcp_dsack", "0"},
		{"net.ipv4.tcp_reordering", "10"},
		{"net/ipv4/tcp_early_retrans", "0"},
		{"net.ipv4.tcp_frto", "0"},
		{"net.ipv4.tcp_recovery", "0"},
		{"net.ipv4.tcp_notsent_lowat", "131072"},
		{"net.core.rmem_max", "4194304"},
		{"net.core.wmem_max", "4194304"},
	} {
		if err := o.Set(kv[0], kv[1]); err != nil {
			t.Fatalf("set %s: %v", kv[0], err)
		}
		if got, _ := o.Get(kv[0]); got != kv[1] {
			t.Errorf("%s reads %q, want %q", kv[0], got, kv[1])
		}
	}
	cfg = o.TCPConfig(1500)
	if cfg.SlowStartAfterIdle || cfg.DSACK || cfg.Reordering != 10 || cfg.EarlyRetrans != 0 || cfg.NotSentLowat != 131072 {
		t.Errorf("knobs did not reach tcp.Config: %+v", cfg)
	}
	def := DefaultOptions()
	if n := def.TCPConfig(1500).NotSentLowat; n != 0 {
		t.Errorf("default tcp_notsent_lowat reaches the engine as %d, want 0 (no limit)", n)
	}
	if got, _ := def.Get("net.ipv4.tcp_notsent_lowat"); got != "4294967295" {
		t.Errorf("tcp_notsent_lowat default %s, want UINT_MAX", got)
	}
	for _, kv := range [][2]string{
		{"net.ipv4.tcp_early_retrans", "5"},
		{"net.ipv4.tcp_notsent_lowat", "4294967296"},
		{"net.ipv4.tcp_notsent_lowat", "-1"},
		{"net.ipv4.tcp_reordering", "0"},
	} {
		if err := o.Set(kv[0], kv[1]); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("set %s=%s: %v, want ErrInvalidValue", kv[0], kv[1], err)
		}
	}
}

// TestOptions_RmemMaxCapsSetsockopt: SO_RCVBUF is capped at the stack's
// net.core.rmem_max before doubling.
func TestOptions_RmemMaxCapsSetsockopt(t *testing.T) {
	_, c, _ := establishActive(t, func(o *Options) { o.CoreRmemMax = 100000 }, Dialer{})
	c.SetReadBuffer(1 << 20)
	if v, _ := c.ReadBuffer(); v != 200000 {
		t.Errorf("SO_RCVBUF %d, want 2 * rmem_max = 200000", v)
	}
}
