package tcp

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp/header"
)

// checkInvariants verifies the sequence bookkeeping a corrupted state
// would break first.
func checkInvariants(t *testing.T, c *Conn) {
	t.Helper()
	if c == nil || c.State() == StateClose || c.State() == StateSynSent {
		return
	}
	if after(c.sndUna, c.sndNxt) || after(c.sndNxt, c.writeSeq) {
		t.Fatalf("%v: snd_una %d snd_nxt %d write_seq %d", c.State(), c.sndUna, c.sndNxt, c.writeSeq)
	}
	syn := uint32(0)
	if c.synPending {
		syn = 1
	}
	if c.sndUna != c.writeSeq && c.sbuf.n != int(c.dataEnd()-c.sndUna-syn) {
		t.Fatalf("%v: send ring %d, sequence space %d", c.State(), c.sbuf.n, c.dataEnd()-c.sndUna)
	}
	fin := uint32(0)
	if c.finRcvd {
		fin = 1
	}
	if c.rbuf.n != int(c.rcvNxt-c.copiedSeq-fin) {
		t.Fatalf("%v: receive ring %d, rcv_nxt-copied %d", c.State(), c.rbuf.n, c.rcvNxt-c.copiedSeq)
	}
	for i := 1; i < c.ooo.n; i++ {
		if !after(c.ooo.r[i].start, c.ooo.r[i-1].end) {
			t.Fatalf("ooo ranges overlap: %v", c.ooo.r[:c.ooo.n])
		}
	}
}

// TestChaos runs two connections over a link that loses, reorders and
// duplicates, injects forged segments, and lets the applications close,
// shut down or abort at random. Nothing may panic, invariants must hold and
// both sides must reach CLOSE eventually.
func TestChaos(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { chaosRun(t, seed) })
	}
}

func chaosRun(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	cfg := testConfig()
	cfg.NoTimeWaitRecords = true
	cfg.SACK = rng.Intn(2) == 0
	if rng.Intn(2) == 0 {
		cfg.Timestamps = 0
	}
	now := Time(time.Second)
	l := &link{rng: rng, delay: time.Duration(1+rng.Intn(20)) * time.Millisecond, loss: rng.Float64() * 0.2, reorder: rng.Float64() * 0.2, now: &now}
	ea := &linkEnd{l: l, toB: true}
	eb := &linkEnd{l: l, toB: false}
	ta := Tuple{LocalAddr: localAddr, RemoteAddr: remoteAddr, LocalPort: 40000, RemotePort: 80}
	tb := Tuple{LocalAddr: remoteAddr, RemoteAddr: localAddr, LocalPort: 80, RemotePort: 40000}
	a := NewActive(cfg, nil, ta, ActiveOpts{}, now, ea)
	var b *Conn
	buf := make([]byte, 9000)
	data := payload(9000, 3)
	var seg Segment
	end := now.add(30 * time.Minute)
	for step := 0; step < 200000 && now < end; step++ {
		// Random application actions.
		for _, c := range []*Conn{a, b} {
			if c == nil {
				continue
			}
			e := Emitter(ea)
			if c == b {
				e = eb
			}
			switch r := rng.Intn(20000); {
			case r < 6000:
				c.Write(data[:rng.Intn(len(data))], now, e)
			case r < 12000:
				c.Read(buf[:rng.Intn(len(buf))+1], now, e)
			case r == 12000:
				c.Close(now, e)
			case r == 12001:
				c.Shutdown(rng.Intn(2) == 0, true, now, e)
			case r == 12002 && rng.Intn(5) == 0:
				c.Abort(now, e)
			case r == 12003:
				c.SetNoDelay(rng.Intn(2) == 0, now, e)
			case r < 12100:
				// Forge a segment near the connection's sequence space.
				f := mkSeg(c.rcvNxt+uint32(rng.Intn(200000)-100000), c.sndUna+uint32(rng.Intn(200000)-100000),
					uint8(rng.Intn(64)), uint16(rng.Intn(65536)), data[:rng.Intn(3000)], nil)
				if rng.Intn(2) == 0 {
					f.Opts = header.Options{HasTS: true, TSVal: rng.Uint32(), TSEcr: rng.Uint32(), NumSACK: rng.Intn(5)}
					for i := range f.Opts.NumSACK {
						s := c.sndUna + uint32(rng.Intn(100000))
						f.Opts.SACK[i] = header.SACKBlock{Start: s, End: s + uint32(rng.Intn(20000)) - 100}
					}
				}
				c.Input(f, now, e)
			}
			c.TakeEvents()
			checkInvariants(t, c)
		}
		if a.State() == StateClose && b != nil && b.State() == StateClose {
			if testing.Verbose() && seed <= 10 {
				t.Logf("seed %d: %d steps, %v, A got %d B got %d, errs %v %v", seed, step, time.Duration(now), a.copiedSeq-a.irs, b.copiedSeq-b.irs, a.Err(), b.Err())
			}
			return
		}
		next := l.next()
		for _, c := range []*Conn{a, b} {
			if c != nil {
				if nt := c.NextTimer(); nt != 0 && (next == 0 || nt < next) {
					next = nt
				}
			}
		}
		if next == 0 {
			next = now.add(time.Second)
		}
		if next > now {
			now = min(next, now.add(time.Duration(rng.Intn(50))*time.Millisecond+time.Millisecond))
		}
		if p, ok := l.pop(now); ok {
			if rng.Intn(50) == 0 {
				l.q = append(l.q, p) // duplicate
			}
			if ParseSegment(p.b, &seg) != nil {
				t.Fatal("bad segment emitted")
			}
			if p.toB {
				if b == nil {
					if seg.Flags == header.FlagSYN {
						b = NewPassive(cfg, nil, tb, &seg, 0, now, eb)
					}
				} else {
					b.Input(&seg, now, eb)
				}
			} else {
				a.Input(&seg, now, ea)
			}
		}
		for _, c := range []*Conn{a, b} {
			if c != nil && c.NextTimer() != 0 && c.NextTimer() <= now {
				e := Emitter(ea)
				if c == b {
					e = eb
				}
				c.OnTimer(now, e)
			}
			checkInvariants(t, c)
		}
	}
}
