package timewait

import (
	"testing"

	"github.com/ustack/ustack/metrics"
)

var (
	hostK = [4]byte{10, 0, 0, 1}
	natX  = [4]byte{198, 51, 100, 7}
)

// TestRecycle3RememberRule: the cache keeps the newer TSval, or replaces a
// stale (> 60 s) one that is not newer in time (RECYCLE-3).
func TestRecycle3RememberRule(t *testing.T) {
	c := NewPeerCache(16)
	now := t0
	if !c.Remember(hostK, natX, 5000000, SecClock(now), now) {
		t.Fatal("recycle_ok false")
	}
	c.Remember(hostK, natX, 1000, SecClock(now)+1, now+sec) // older TSval, fresh entry: kept
	if ts, _, _ := c.Fetch(hostK, natX, now+sec); ts != 5000000 {
		t.Fatalf("older TSval overwrote the cache: %d", ts)
	}
	later := now + 61*sec
	c.Remember(hostK, natX, 1000, SecClock(later), later) // entry > 60 s old: replaced
	if ts, st, ok := c.Fetch(hostK, natX, later); !ok || ts != 1000 || st != SecClock(later) {
		t.Fatalf("stale entry not replaced: %d %d %v", ts, st, ok)
	}
}

// TestRecycle6PassiveReject: SCN-45, RECYCLE-6, RECYCLE-9 (NAT breakage:
// one address, two TS clocks), VER-7 (recycle only in 4.11/3.10, the no-TS
// rejection not in 3.10), CONST-5 (TCP_PAWS_WINDOW 1: TSval one below the
// cache passes, two below is dropped): after host A behind NAT X
// closed with TSval 5e6, host B's SYN with TSval 1000 is dropped silently
// for 60 s; a SYN without timestamps too [4.11] but not [3.10].
func TestRecycle6PassiveReject(t *testing.T) {
	c := NewPeerCache(16)
	m := metrics.New()
	c.Remember(hostK, natX, 5000000, SecClock(t0), t0)
	cases := []struct {
		name  string
		p     Profile
		hasTS bool
		tsval uint32
		at    int64
		want  bool
	}{
		{"RECYCLE-6_older_ts_dropped", Linux411, true, 1000, sec, true},
		{"RECYCLE-6_within_paws_window_ok", Linux411, true, 4999999, sec, false},
		{"RECYCLE-6_two_behind_dropped", Linux411, true, 4999998, sec, true},
		{"RECYCLE-6_newer_ok", Linux411, true, 5000100, sec, false},
		{"RECYCLE-6_no_ts_dropped_4.11", Linux411, false, 0, sec, true},
		{"RECYCLE-6_no_ts_not_checked_3.10", Linux310, false, 0, sec, false},
		{"RECYCLE-6_3.10_older_ts_dropped", Linux310, true, 1000, sec, true},
		{"RECYCLE-6_after_60s_ok", Linux411, true, 1000, 60 * sec, false},
		{"RECYCLE-6_59s_dropped", Linux411, true, 1000, 59 * sec, true},
		{"RECYCLE-10_6.18_never", Linux618, true, 1000, sec, false},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			if got := c.PassiveReject(cs.p, hostK, natX, cs.hasTS, cs.tsval, t0+cs.at, m); got != cs.want {
				t.Fatalf("reject = %v, want %v", got, cs.want)
			}
		})
	}
	if got := m.Get(metrics.TcpExtListenDrops); got != 5 {
		t.Fatalf("ListenDrops %d, want 5", got)
	}
	if id, ok := metrics.Lookup("TcpExtPAWSPassive"); ok && m.Get(id) != 5 {
		t.Fatalf("PAWSPassive %d", m.Get(id))
	}
	if c.PassiveReject(Linux411, hostK, [4]byte{1, 2, 3, 4}, true, 0, t0, m) {
		t.Fatal("unknown peer rejected")
	}
}

// TestRecycle7Fetch: the connecting side copies a cached stamp at most 60 s
// old. RECYCLE-2: the cache is keyed by (local address, remote address)
// and an unknown pair has no entry.
func TestRecycle7Fetch(t *testing.T) {
	c := NewPeerCache(16)
	c.Remember(hostK, natX, 77, SecClock(t0), t0)
	if ts, st, ok := c.Fetch(hostK, natX, t0+60*sec); !ok || ts != 77 || st != SecClock(t0) {
		t.Fatal("fetch at 60 s")
	}
	if _, _, ok := c.Fetch(hostK, natX, t0+61*sec); ok {
		t.Fatal("fetch after 60 s")
	}
	if _, _, ok := c.Fetch(natX, hostK, t0); ok {
		t.Fatal("key is ordered (local, remote)")
	}
}

// TestPeerCacheBounded: the cache never grows beyond its capacity and
// keeps the most recently touched hosts of a set.
func TestPeerCacheBounded(t *testing.T) {
	c := NewPeerCache(64)
	if c.Cap() != 64 {
		t.Fatalf("cap %d", c.Cap())
	}
	for i := range 100000 {
		remote := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		c.Remember(hostK, remote, uint32(i), SecClock(t0), t0+int64(i))
	}
	i := 99999
	last := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
	if ts, _, ok := c.Fetch(hostK, last, t0+sec); !ok || ts != 99999 {
		t.Fatal("most recent host evicted")
	}
	n := 0
	for i := range c.sets {
		for j := range c.sets[i] {
			if c.sets[i][j].used {
				n++
			}
		}
	}
	if n > 64 {
		t.Fatalf("%d entries", n)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		c.Remember(hostK, natX, 1, 1, t0)
		c.PassiveReject(Linux411, hostK, natX, true, 0, t0, nil)
	}); allocs != 0 {
		t.Fatalf("%v allocs", allocs)
	}
}
