package stack

import (
	"errors"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
)

// TestOptionsSetGet: sysctl names in both spellings, the kernel's ranges
// (SYSCTL-1/2/9), and clear errors for unknown names and bad values.
// SYSCTL-2: tcp_tw_reuse_delay accepts 1..60000 ms (0 and 60001 rejected).
// SYSCTL-9: ip_local_port_range rejects high < low and low < 1024.
// SYSCTL-10: ip_local_reserved_ports takes a list of ports and ranges.
func TestOptionsSetGet(t *testing.T) {
	tests := []struct {
		name, value string
		wantErr     error
		get         string // expected Get afterwards ("" = skip)
	}{
		{"net.ipv4.tcp_tw_reuse", "1", nil, "1"},
		{"net/ipv4/tcp_tw_reuse", "0", nil, "0"},
		{"/proc/sys/net/ipv4/tcp_tw_reuse", "2", nil, "2"},
		{"net.ipv4.tcp_tw_reuse", "3", ErrInvalidValue, "2"},
		{"net.ipv4.tcp_tw_reuse_delay", "0", ErrInvalidValue, "1000"},
		{"net.ipv4.tcp_tw_reuse_delay", "60001", ErrInvalidValue, "1000"},
		{"net.ipv4.tcp_tw_reuse_delay", "60000", nil, "60000"},
		{"net.ipv4.ip_local_port_range", "40000 40015", nil, "40000\t40015"},
		{"net.ipv4.ip_local_port_range", "50000 40000", ErrInvalidValue, "40000\t40015"},
		{"net.ipv4.ip_local_port_range", "80 1000", ErrInvalidValue, "40000\t40015"},
		{"net.ipv4.ip_local_port_range", "1024", ErrInvalidValue, ""},
		{"net.ipv4.tcp_rmem", "4096 87380 6291456", nil, "4096\t87380\t6291456"},
		{"net.ipv4.tcp_fin_timeout", "30", nil, "30"},
		{"net.ipv4.tcp_fin_timeout", "x", ErrInvalidValue, "30"},
		{"net.ipv4.tcp_max_tw_buckets", "0", nil, "0"},
		{"net.ipv4.tcp_congestion_control", "reno", nil, "reno"},
		{"net.ipv4.tcp_congestion_control", "bbr", ErrInvalidValue, "reno"},
		{"net.core.somaxconn", "128", nil, "128"},
		{"ustack.timewait_profile", "linux-4.11", nil, "linux-4.11"},
		{"ustack.timewait_profile", "linux-5.0", ErrInvalidValue, "linux-4.11"},
		{"ustack.workers", "4", nil, "4"},
		{"net.ipv4.ip_local_reserved_ports", "8080, 40000-40010", nil, "8080,40000-40010"},
		{"net.ipv4.ip_local_reserved_ports", "9-3", ErrInvalidValue, "8080,40000-40010"},
		{"net.ipv4.tcp_no_such_thing", "1", ErrUnknownOption, ""},
	}
	o := DefaultOptions()
	for _, tt := range tests {
		err := o.Set(tt.name, tt.value)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("Set(%s, %q) = %v, want %v", tt.name, tt.value, err, tt.wantErr)
		}
		if tt.get == "" {
			continue
		}
		got, err := o.Get(tt.name)
		if err != nil || got != tt.get {
			t.Errorf("Get(%s) after Set(%q) = %q, %v; want %q", tt.name, tt.value, got, err, tt.get)
		}
	}
	if o.TCPFinTimeout != 30*time.Second || o.TCPTwReuseDelay != time.Minute {
		t.Errorf("typed fields not updated: %v %v", o.TCPFinTimeout, o.TCPTwReuseDelay)
	}
}

// TestOptionsDefaults: the Linux 6.18 defaults, read back through Get.
// CONST-2: tcp_fin_timeout 60 s. SYSCTL-3: tcp_max_tw_buckets 131072 (half
// the ehash of the modelled machine). SYSCTL-5: tcp_timestamps 1.
// SYSCTL-7: tcp_max_orphans 131072. SYSCTL-14: tcp_retries2 15.
// CONST-10: tcp_invalid_ratelimit 500 ms. SYSCTL-9: 32768 60999.
func TestOptionsDefaults(t *testing.T) {
	want := map[string]string{
		"net.ipv4.tcp_timestamps":         "1",
		"net.ipv4.tcp_sack":               "1",
		"net.ipv4.tcp_window_scaling":     "1",
		"net.ipv4.tcp_syn_retries":        "6",
		"net.ipv4.tcp_synack_retries":     "5",
		"net.ipv4.tcp_retries1":           "3",
		"net.ipv4.tcp_retries2":           "15",
		"net.ipv4.tcp_orphan_retries":     "0",
		"net.ipv4.tcp_fin_timeout":        "60",
		"net.ipv4.tcp_keepalive_time":     "7200",
		"net.ipv4.tcp_keepalive_intvl":    "75",
		"net.ipv4.tcp_keepalive_probes":   "9",
		"net.ipv4.tcp_wmem":               "4096\t16384\t4194304",
		"net.ipv4.tcp_congestion_control": "cubic",
		"net.ipv4.tcp_tw_reuse":           "2",
		"net.ipv4.tcp_tw_reuse_delay":     "1000",
		"net.ipv4.tcp_max_tw_buckets":     "131072",
		"net.ipv4.tcp_max_orphans":        "131072",
		"net.ipv4.tcp_rfc1337":            "0",
		"net.ipv4.tcp_invalid_ratelimit":  "500",
		"net.ipv4.ip_local_port_range":    "32768\t60999",
		"net.ipv4.tcp_abort_on_overflow":  "0",
		"net.ipv4.tcp_syncookies":         "1",
		"net.core.somaxconn":              "4096",
		"ustack.timewait_profile":         "linux-6.18",
	}
	o := DefaultOptions()
	for name, v := range want {
		if got, err := o.Get(name); err != nil || got != v {
			t.Errorf("%s = %q, %v; want %q", name, got, err, v)
		}
	}
	if len(o.List()) < len(want) {
		t.Errorf("List has %d names", len(o.List()))
	}
	for _, n := range o.List() {
		if _, err := o.Get(n); err != nil {
			t.Errorf("listed %s but Get fails: %v", n, err)
		}
	}
	cfg := o.tcpConfig(1500)
	if cfg.FinTimeout != 60*time.Second || cfg.Timestamps != 1 || cfg.CongestionControl != "cubic" {
		t.Errorf("tcp.Config not derived: %+v", cfg)
	}
	if tw := o.timewaitConfig(); tw.RFC1337 || tw.InvalidRateLimit != int64(500*time.Millisecond) {
		t.Errorf("timewait.Config not derived: %+v", tw)
	}
}

// TestSetOptionRuntime: sysctls written on a running stack take effect
// (here tcp_max_tw_buckets, TW-ENTER-2) and creation-time knobs refuse.
func TestSetOptionRuntime(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	if err := l.a.SetOption("ustack.workers", "3"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("changing workers at runtime: %v", err)
	}
	if err := l.a.SetOption("net/ipv4/tcp_max_tw_buckets", "0"); err != nil {
		t.Fatal(err)
	}
	if o := l.a.Options(); o.TCPMaxTwBuckets != 0 {
		t.Fatalf("Options after SetOption: %d", o.TCPMaxTwBuckets)
	}
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := connectPair(t, l, ln)
	closeFirst(t, c, s)
	if l.a.Sockstat().TW != 0 || l.a.Counters().Get(metrics.TcpExtTCPTimeWaitOverflow) != 1 {
		t.Errorf("runtime tcp_max_tw_buckets=0 not applied")
	}
}
