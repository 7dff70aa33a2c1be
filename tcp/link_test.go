package tcp

import (
	"bytes"
	"math/rand"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// linkEmitter queues segments on a simulated link with seeded loss,
// reordering (extra delay) and a fixed one-way delay.
type pkt struct {
	at  Time
	toB bool
	b   []byte
	n   int // tie-breaker: send order
}

type link struct {
	rng     *rand.Rand
	delay   time.Duration
	loss    float64
	reorder float64
	q       []pkt
	seq     int
	now     *Time
	sent    int
	dropped int
}

type linkEnd struct {
	l   *link
	toB bool
	buf [1 << 16]byte
}

func (e *linkEnd) Buffer(n int) []byte { return e.buf[:n] }
func (e *linkEnd) Send(t Tuple, seg []byte) {
	l := e.l
	l.sent++
	if l.rng.Float64() < l.loss {
		l.dropped++
		return
	}
	d := l.delay
	if l.rng.Float64() < l.reorder {
		d += time.Duration(l.rng.Int63n(int64(3 * l.delay)))
	}
	l.seq++
	l.q = append(l.q, pkt{at: l.now.add(d), toB: e.toB, b: append([]byte(nil), seg...), n: l.seq})
}

func (l *link) pop(upTo Time) (pkt, bool) {
	best := -1
	for i, p := range l.q {
		if p.at <= upTo && (best < 0 || p.at < l.q[best].at || (p.at == l.q[best].at && p.n < l.q[best].n)) {
			best = i
		}
	}
	if best < 0 {
		return pkt{}, false
	}
	p := l.q[best]
	l.q = append(l.q[:best], l.q[best+1:]...)
	return p, true
}

func (l *link) next() Time {
	var t Time
	for _, p := range l.q {
		if t == 0 || p.at < t {
			t = p.at
		}
	}
	return t
}

type transferResult struct {
	gotAtB, gotAtA []byte
	a, b           *Conn
	now            Time
	m              *metrics.Counters
}

// runTransfer pushes nA bytes from A to B and nB bytes from B to A over a
// lossy link, then both close. It fails the test on any stall.
func runTransfer(t *testing.T, seed int64, loss, reorder float64, nA, nB int, sack, ts bool) transferResult {
	t.Helper()
	return runTransferISN(t, seed, loss, reorder, nA, nB, sack, ts, 0, 0)
}

// runTransferISN is runTransfer with chosen ISNs (0 = secure ISN).
func runTransferISN(t *testing.T, seed int64, loss, reorder float64, nA, nB int, sack, ts bool, isnA, isnB uint32) transferResult {
	t.Helper()
	cfg := testConfig()
	cfg.NoTimeWaitRecords = true // the test plays no TIME-WAIT record
	cfg.SACK = sack
	if !ts {
		cfg.Timestamps = 0
	}
	m := metrics.New()
	now := Time(time.Second)
	l := &link{rng: rand.New(rand.NewSource(seed)), delay: 10 * time.Millisecond, loss: loss, reorder: reorder, now: &now}
	ea := &linkEnd{l: l, toB: true}
	eb := &linkEnd{l: l, toB: false}
	ta := Tuple{LocalAddr: localAddr, RemoteAddr: remoteAddr, LocalPort: 40000, RemotePort: 80}
	tb := Tuple{LocalAddr: remoteAddr, RemoteAddr: localAddr, LocalPort: 80, RemotePort: 40000}
	dataA := payload(nA, 1)
	dataB := payload(nB, 99)
	a := NewActive(cfg, m, ta, ActiveOpts{ISN: isnA, HasISN: isnA != 0}, now, ea)
	var b *Conn
	var gotA, gotB []byte
	sentA, sentB := 0, 0
	closedA, closedB := false, false
	buf := make([]byte, 7000)
	deadline := now.add(600 * time.Second)
	var seg Segment
	for step := 0; ; step++ {
		if now > deadline || step > 2_000_000 {
			t.Fatalf("stalled: A %v (sent %d/%d, got %d/%d) B %v; sndUna-sndNxt A %d/%d", a.State(), sentA, nA, len(gotA), nB, stateOf(b), a.sndUna, a.sndNxt)
		}
		// Applications.
		if a.State() == StateEstablished || a.State() == StateCloseWait {
			for sentA < nA {
				k, err := a.Write(dataA[sentA:min(nA, sentA+5000)], now, ea)
				if err != nil {
					t.Fatal(err)
				}
				if k == 0 {
					break
				}
				sentA += k
			}
		}
		for {
			k, err := a.Read(buf, now, ea)
			gotA = append(gotA, buf[:k]...)
			if k == 0 || err != nil {
				break
			}
		}
		if b != nil {
			if b.State() == StateEstablished || b.State() == StateCloseWait {
				for sentB < nB {
					k, _ := b.Write(dataB[sentB:min(nB, sentB+3000)], now, eb)
					if k == 0 {
						break
					}
					sentB += k
				}
			}
			for {
				k, err := b.Read(buf, now, eb)
				gotB = append(gotB, buf[:k]...)
				if k == 0 || err != nil {
					break
				}
			}
		}
		if !closedA && sentA == nA && len(gotA) == nB && a.State() != StateSynSent {
			a.Close(now, ea)
			closedA = true
		}
		if b != nil && !closedB && sentB == nB && len(gotB) == nA && b.finRcvd {
			b.Close(now, eb)
			closedB = true
		}
		a.TakeEvents()
		if b != nil {
			b.TakeEvents()
		}
		if closedA && closedB && (a.State() == StateClose || a.State() == StateTimeWait) && b.State() == StateClose {
			break
		}
		// Next event.
		next := l.next()
		for _, c := range []*Conn{a, b} {
			if c != nil {
				if nt := c.NextTimer(); nt != 0 && (next == 0 || nt < next) {
					next = nt
				}
			}
		}
		if next == 0 {
			t.Fatalf("deadlock: A %v B %v gotB %d/%d gotA %d/%d", a.State(), stateOf(b), len(gotB), nA, len(gotA), nB)
		}
		if next > now {
			now = next
		}
		if p, ok := l.pop(now); ok {
			if err := ParseSegment(p.b, &seg); err != nil {
				t.Fatal(err)
			}
			if p.toB {
				if b == nil {
					if seg.Flags == header.FlagSYN {
						b = NewPassive(cfg, m, tb, &seg, isnB, now, eb)
					}
				} else {
					b.Input(&seg, now, eb)
				}
			} else {
				a.Input(&seg, now, ea)
			}
			continue
		}
		if a.NextTimer() != 0 && a.NextTimer() <= now {
			a.OnTimer(now, ea)
		}
		if b != nil && b.NextTimer() != 0 && b.NextTimer() <= now {
			b.OnTimer(now, eb)
		}
	}
	if !bytes.Equal(gotB, dataA) {
		t.Fatalf("B received %d bytes, differs from A's %d", len(gotB), nA)
	}
	if !bytes.Equal(gotA, dataB) {
		t.Fatalf("A received %d bytes, differs from B's %d", len(gotA), nB)
	}
	t.Logf("seed %d: %v simulated, %d sent, %d dropped, retrans %d, timeouts %d, recoveries %d/%d",
		seed, time.Duration(now), l.sent, l.dropped, m.Get(metrics.TcpRetransSegs), m.Get(metrics.TcpExtTCPTimeouts),
		m.Get(metrics.TcpExtTCPSackRecovery), m.Get(metrics.TcpExtTCPRenoRecovery))
	return transferResult{gotAtB: gotB, gotAtA: gotA, a: a, b: b, now: now, m: m}
}

func stateOf(c *Conn) State {
	if c == nil {
		return 0
	}
	return c.State()
}

func TestTransferClean(t *testing.T) {
	r := runTransfer(t, 1, 0, 0, 300_000, 50_000, true, true)
	if !r.a.wantTW || r.a.twSubstate != StateTimeWait {
		t.Errorf("active closer did not enter TIME-WAIT: %+v", r.a.twInfo)
	}
	if r.b.rbuf.cap() <= 65536 || r.b.winClamp <= 65536 {
		t.Errorf("receive buffer did not autotune: %d", r.b.rbuf.cap())
	}
	if r.m.Get(metrics.TcpRetransSegs) != 0 {
		t.Errorf("retransmissions on a clean link: %d", r.m.Get(metrics.TcpRetransSegs))
	}
}

func TestTransferLossSACK(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		r := runTransfer(t, seed, 0.03, 0.05, 400_000, 100_000, true, true)
		if r.m.Get(metrics.TcpRetransSegs) == 0 {
			t.Errorf("seed %d: no retransmissions with loss", seed)
		}
	}
}

func TestTransferLossNewReno(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		runTransfer(t, seed, 0.03, 0.05, 200_000, 30_000, false, false)
	}
}

func TestTransferHeavyLoss(t *testing.T) {
	for seed := int64(7); seed <= 9; seed++ {
		runTransfer(t, seed, 0.15, 0.1, 60_000, 20_000, true, true)
	}
}

// Sequence numbers wrap through 2^32 in both directions, with loss.
func TestTransferSequenceWrap(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		runTransferISN(t, seed, 0.02, 0.05, 300_000, 300_000, seed != 2, seed != 3, 0xffff0000, 0xfffe8000)
	}
}
