package stack

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
	"github.com/ustack/ustack/tun"
)

// TestVirtualClock_NextDeadline: a runner can jump from event to event:
// after the SYN the next deadline is the initial RTO (1 s), and advancing
// exactly there retransmits the SYN with nothing earlier.
func TestVirtualClock_NextDeadline(t *testing.T) {
	p, _, syn, clk := startActive(t, nil, Dialer{})
	start := clk.Now()
	rto := start + tcp.Time(time.Second)
	// NextDeadline is never late but may be early (the timer wheel's
	// coarser levels round down); stepping from deadline to deadline
	// reaches the RTO in a few steps and fires it at its exact instant.
	var out [][]byte
	for steps := 0; len(out) == 0; steps++ {
		dl, ok := clk.NextDeadline()
		if !ok || dl > rto || steps > 20 {
			t.Fatalf("step %d: NextDeadline = %v %v, want at most the RTO %v", steps, dl, ok, rto)
		}
		clk.AdvanceTo(dl)
		out = drain(p.end)
		if len(out) > 0 && clk.Now() != rto {
			t.Fatalf("SYN retransmitted at %v, want %v", clk.Now()-start, rto-start)
		}
	}
	if r := parse(t, out[0]); r.tcp.Flags() != header.FlagSYN || r.tcp.Seq() != syn.tcp.Seq() {
		t.Errorf("retransmission flags %#x seq %d", r.tcp.Flags(), r.tcp.Seq())
	}
	if dl2, _ := clk.NextDeadline(); dl2 <= rto || dl2 > rto+tcp.Time(2*time.Second) {
		t.Errorf("next deadline %v after the RTO, want in (0, 2 s]", dl2-rto)
	}
	clk.AdvanceTo(rto - 5) // the past: nothing happens
	if clk.Now() != rto {
		t.Errorf("AdvanceTo into the past moved the clock")
	}
}

// manualSource is a time source owned by the test, outside the package's
// clocks.
type manualSource struct{ ns atomic.Int64 }

func (m *manualSource) Now() tcp.Time { return tcp.Time(m.ns.Load()) }

// TestExternalClock_Driven: a clock implemented outside the package, driven
// by its owner through NextDeadline and RunTimers.
func TestExternalClock_Driven(t *testing.T) {
	src := &manualSource{}
	src.ns.Store(int64(5 * time.Second))
	clk := NewExternalClock(src, true)
	ea, eb := tun.NewPipe(tun.PipeConfig{MTU: 1500, QueueLen: 64})
	o := DefaultOptions()
	o.Addrs = []netip.Addr{addrA}
	o.Clock = clk
	o.Manual = true
	s, err := New(ea, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := (&Dialer{Stack: s}).Start("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := len(drain(eb)); n != 1 {
		t.Fatalf("%d packets, want the SYN", n)
	}
	rto := tcp.Time(6 * time.Second)
	for steps := 0; ; steps++ {
		dl, ok := clk.NextDeadline()
		if !ok || dl > rto || steps > 20 {
			t.Fatalf("NextDeadline = %v %v, want at most the RTO", dl, ok)
		}
		src.ns.Store(int64(dl))
		clk.RunTimers(dl)
		if n := len(drain(eb)); n > 0 {
			if n != 1 || dl != rto {
				t.Fatalf("%d packets at %v, want the retransmitted SYN at %v", n, dl, rto)
			}
			return
		}
	}
}

// TestExternalClock_NotDriven: an undriven external clock leaves timers to
// the stack's own goroutine; attaching and closing must not leak it.
func TestExternalClock_NotDriven(t *testing.T) {
	clk := NewExternalClock(NewRealClock(), false)
	o := DefaultOptions()
	o.Addrs = []netip.Addr{addrA}
	o.Clock = clk
	o.Manual = true
	s, err := New(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := clk.NextDeadline(); ok {
		t.Errorf("an undriven clock reports deadlines")
	}
	s.Close()
}
