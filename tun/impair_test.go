package tun

import (
	"strings"
	"testing"
	"time"
)

func TestParseImpair(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		in      string
		wantIn  Faults
		wantOut Faults
		seed    uint64
		limit   int
	}{
		{in: ""},
		{in: "  "},
		{in: "loss=2%", wantIn: Faults{Loss: 0.02}, wantOut: Faults{Loss: 0.02}},
		{in: "loss=0.02", wantIn: Faults{Loss: 0.02}, wantOut: Faults{Loss: 0.02}},
		{in: "loss=2%,reorder=5%,dup=1%,delay=20ms,jitter=5ms,seed=42", seed: 42,
			wantIn:  Faults{Loss: 0.02, Reorder: 0.05, Duplicate: 0.01, Delay: 20 * ms, Jitter: 5 * ms},
			wantOut: Faults{Loss: 0.02, Reorder: 0.05, Duplicate: 0.01, Delay: 20 * ms, Jitter: 5 * ms}},
		{in: " Loss = 100% , duplicate=0 ", wantIn: Faults{Loss: 1}, wantOut: Faults{Loss: 1}},
		{in: "in.loss=1%,out.delay=5ms", wantIn: Faults{Loss: 0.01}, wantOut: Faults{Delay: 5 * ms}},
		// Prefixed keys win over unprefixed ones wherever they appear.
		{in: "in.loss=1%,loss=3%", wantIn: Faults{Loss: 0.01}, wantOut: Faults{Loss: 0.03}},
		{in: "out.duplicate=50%,limit=10,seed=0x10", wantOut: Faults{Duplicate: 0.5}, seed: 16, limit: 10},
	}
	for _, tt := range tests {
		cfg, err := ParseImpair(tt.in)
		if err != nil {
			t.Errorf("ParseImpair(%q): %v", tt.in, err)
			continue
		}
		if cfg.In != tt.wantIn || cfg.Out != tt.wantOut || cfg.Seed != tt.seed || cfg.Limit != tt.limit {
			t.Errorf("ParseImpair(%q) = %+v", tt.in, cfg)
		}
	}
}

func TestParseImpairErrors(t *testing.T) {
	tests := []struct{ in, wantSub string }{
		{"loss", "want key=value"},
		{"loss=", "want key=value"},
		{"=1%", "want key=value"},
		{"loss=2", "out of range"},
		{"loss=-1%", "out of range"},
		{"loss=101%", "out of range"},
		{"loss=abc", "not a number"},
		{"loss=NaN", "not a number"},
		{"delay=20", "duration"},
		{"delay=-5ms", "duration"},
		{"delay=2h", "duration"},
		{"seed=-1", "unsigned integer"},
		{"limit=0", "limit"},
		{"bogus=1", `unknown key "bogus"`},
		{"in.seed=1", `unknown key "seed"`},
		{"sideways.loss=1%", "unknown key"},
		{"loss=1%,loss=2%", "given twice"},
		{"dup=1%,duplicate=2%", "given twice"},
		{"loss=1%,,dup=1%", "empty item"},
		{"loss=1%,", "empty item"},
	}
	for _, tt := range tests {
		_, err := ParseImpair(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("ParseImpair(%q) error %v, want it to mention %q", tt.in, err, tt.wantSub)
		}
	}
}

func TestFaultConfigStringRoundTrip(t *testing.T) {
	cfg, err := ParseImpair("loss=2%,in.reorder=5%,out.dup=1%,delay=20ms,jitter=5ms,seed=42,limit=7")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseImpair(cfg.String())
	if err != nil || back != cfg {
		t.Fatalf("%q -> %+v, %v", cfg.String(), back, err)
	}
}

func FuzzParseImpair(f *testing.F) {
	for _, s := range []string{
		"", "loss=2%,reorder=5%,dup=1%,delay=20ms,jitter=5ms,seed=42",
		"in.loss=1%,out.loss=0.5", "delay=1h", "loss=1e-3,limit=5", "seed=0xffffffffffffffff",
		"loss=2", ",", "in.=1", "loss=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseImpair(s)
		if err != nil {
			return
		}
		for _, d := range []Faults{cfg.In, cfg.Out} {
			for _, r := range []float64{d.Loss, d.Duplicate, d.Reorder} {
				if !(r >= 0 && r <= 1) {
					t.Fatalf("%q: rate %v out of [0,1]", s, r)
				}
			}
			if d.Delay < 0 || d.Jitter < 0 {
				t.Fatalf("%q: negative duration", s)
			}
		}
		back, err := ParseImpair(cfg.String())
		if err != nil || back != cfg {
			t.Fatalf("%q: String %q reparsed as %+v, %v; want %+v", s, cfg.String(), back, err, cfg)
		}
	})
}
