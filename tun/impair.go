package tun

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Faults is what the injector does to one direction of traffic. Rates are
// probabilities in [0, 1], decided independently per packet.
type Faults struct {
	Loss      float64       // drop the packet
	Duplicate float64       // deliver it twice
	Reorder   float64       // hold it back until the next packet of the direction has gone
	Delay     time.Duration // added to every packet
	Jitter    time.Duration // uniform in [-Jitter, +Jitter] on top of Delay (clamped at 0)
}

// Active reports whether f changes traffic at all.
func (f Faults) Active() bool { return f != Faults{} }

// FaultConfig configures NewFaulty.
type FaultConfig struct {
	In  Faults // applied to packets returned by Read (inbound)
	Out Faults // applied to packets given to Write (outbound)
	// Seed selects the random decisions; the same seed and the same packet
	// sequence give the same drops, duplicates, reorders and delays.
	Seed uint64
	// Limit is the number of packets each direction may hold (delayed or
	// reordered) before further ones are dropped and counted; 0 means
	// DefaultFaultLimit.
	Limit int
	// ReorderHold bounds how long a reordered packet waits for a successor
	// before it is released anyway; 0 means DefaultReorderHold.
	ReorderHold time.Duration
	// Clock drives delays; nil means the system clock.
	Clock Clock
}

// Defaults for FaultConfig.
const (
	DefaultFaultLimit  = 1024
	DefaultReorderHold = 10 * time.Millisecond
)

// ParseImpair parses a netem-like impairment spec such as
//
//	loss=2%,reorder=5%,dup=1%,delay=20ms,jitter=5ms,seed=42
//
// Unprefixed keys apply to both directions; "in." and "out." prefixes
// (in.loss=1%, out.delay=5ms) set one direction and take precedence over the
// unprefixed form wherever they appear. Keys: loss, dup (or duplicate),
// reorder, delay, jitter, seed, limit. Rates are "N%" or a fraction in
// [0, 1]; durations use time.ParseDuration syntax. Items are separated by
// commas (surrounding spaces ignored); the empty string means no faults.
func ParseImpair(s string) (FaultConfig, error) {
	var cfg FaultConfig
	seen := make(map[string]bool)
	type dirItem struct{ key, val, item string }
	var prefixed []dirItem
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			if strings.TrimSpace(s) == "" {
				continue
			}
			return FaultConfig{}, fmt.Errorf("tun: impair %q: empty item", s)
		}
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return FaultConfig{}, fmt.Errorf("tun: impair item %q: want key=value", item)
		}
		if key == "duplicate" {
			key = "dup"
		} else if k, ok := strings.CutSuffix(key, ".duplicate"); ok {
			key = k + ".dup"
		}
		if seen[key] {
			return FaultConfig{}, fmt.Errorf("tun: impair item %q: %s given twice", item, key)
		}
		seen[key] = true
		switch key {
		case "seed":
			v, err := strconv.ParseUint(val, 0, 64)
			if err != nil {
				return FaultConfig{}, fmt.Errorf("tun: impair item %q: seed must be an unsigned integer", item)
			}
			cfg.Seed = v
			continue
		case "limit":
			v, err := strconv.Atoi(val)
			if err != nil || v <= 0 || v > 1<<20 {
				return FaultConfig{}, fmt.Errorf("tun: impair item %q: limit must be an integer in [1, %d]", item, 1<<20)
			}
			cfg.Limit = v
			continue
		}
		if k, ok := strings.CutPrefix(key, "in."); ok {
			prefixed = append(prefixed, dirItem{"in" + k, val, item})
			continue
		}
		if k, ok := strings.CutPrefix(key, "out."); ok {
			prefixed = append(prefixed, dirItem{"out" + k, val, item})
			continue
		}
		if err := setFault(&cfg.In, key, val, item); err != nil {
			return FaultConfig{}, err
		}
		setFault(&cfg.Out, key, val, item)
	}
	for _, p := range prefixed {
		f, k := &cfg.In, strings.TrimPrefix(p.key, "in")
		if strings.HasPrefix(p.key, "out") {
			f, k = &cfg.Out, strings.TrimPrefix(p.key, "out")
		}
		if err := setFault(f, k, p.val, p.item); err != nil {
			return FaultConfig{}, err
		}
	}
	return cfg, nil
}

func setFault(f *Faults, key, val, item string) error {
	switch key {
	case "loss", "dup", "reorder":
		r, err := parseRate(val)
		if err != nil {
			return fmt.Errorf("tun: impair item %q: %v", item, err)
		}
		switch key {
		case "loss":
			f.Loss = r
		case "dup":
			f.Duplicate = r
		default:
			f.Reorder = r
		}
	case "delay", "jitter":
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 || d > time.Hour {
			return fmt.Errorf("tun: impair item %q: want a duration in [0, 1h] like 20ms", item)
		}
		if key == "delay" {
			f.Delay = d
		} else {
			f.Jitter = d
		}
	default:
		return fmt.Errorf("tun: impair item %q: unknown key %q (want loss, dup, reorder, delay, jitter, seed, limit, optionally prefixed in./out.)", item, key)
	}
	return nil
}

func parseRate(val string) (float64, error) {
	pct := strings.HasSuffix(val, "%")
	num := strings.TrimSpace(strings.TrimSuffix(val, "%"))
	r, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, fmt.Errorf("rate %q is not a number", val)
	}
	if pct {
		r /= 100
	}
	if r < 0 || r > 1 {
		return 0, fmt.Errorf("rate %q out of range; use N%% (0-100%%) or a fraction in [0, 1]", val)
	}
	return r, nil
}

// String formats cfg in ParseImpair syntax (always with in./out. prefixes;
// Clock and ReorderHold are not represented).
func (cfg FaultConfig) String() string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	for _, d := range []struct {
		p string
		f Faults
	}{{"in.", cfg.In}, {"out.", cfg.Out}} {
		if d.f.Loss != 0 {
			add(d.p+"loss", strconv.FormatFloat(d.f.Loss, 'g', -1, 64))
		}
		if d.f.Duplicate != 0 {
			add(d.p+"dup", strconv.FormatFloat(d.f.Duplicate, 'g', -1, 64))
		}
		if d.f.Reorder != 0 {
			add(d.p+"reorder", strconv.FormatFloat(d.f.Reorder, 'g', -1, 64))
		}
		if d.f.Delay != 0 {
			add(d.p+"delay", d.f.Delay.String())
		}
		if d.f.Jitter != 0 {
			add(d.p+"jitter", d.f.Jitter.String())
		}
	}
	if cfg.Seed != 0 {
		add("seed", strconv.FormatUint(cfg.Seed, 10))
	}
	if cfg.Limit != 0 {
		add("limit", strconv.Itoa(cfg.Limit))
	}
	return b.String()
}
