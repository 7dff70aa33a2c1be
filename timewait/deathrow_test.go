package timewait

import (
	"testing"
	"unsafe"

	"github.com/ustack/ustack/metrics"
)

// TestRecordSize: the record including its wheel entry stays within one
// 80-byte size class (brief: about 100 bytes, <= 128 with table and timer).
func TestRecordSize(t *testing.T) {
	t.Logf("Record %d bytes (entry %d, tuple %d)", unsafe.Sizeof(Record{}), unsafe.Offsetof(Record{}.Tuple), unsafe.Sizeof(Tuple{}))
	if s := unsafe.Sizeof(Record{}); s > 80 {
		t.Fatalf("Record is %d bytes, want <= 80", s)
	}
	if unsafe.Sizeof(Tuple{}) != 12 || unsafe.Offsetof(Tuple{}.RemotePort) != 10 {
		t.Fatal("Tuple layout differs from tcp.Tuple")
	}
}

func expire(d *DeathRow, now int64) []*Record { return d.Expire(now, nil) }

// TestDeathRowTimeWait60s: TIME_WAIT lives exactly 60 s (TW-ENTER-6,
// TIMER-1, SCN-1), on a virtual clock, whatever the RTO.
// CONST-1: TCP_TIMEWAIT_LEN is 60 s: not expired at 60 s - 1 ns, expired at 60 s.
func TestDeathRowTimeWait60s(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux618, t0, m)
	r := newRec(SubstateTimeWait, false)
	r.RTO = 120000 // RTO3.5 = 420 s: irrelevant for TIME_WAIT
	if !d.Admit(t0) {
		t.Fatal("not admitted")
	}
	if got := d.Schedule(r, 0, t0); got != TimeWaitLen {
		t.Fatalf("timeout %d", got)
	}
	if d.Len() != 1 || m.Get(metrics.TcpExtTW) != 1 || m.Get(metrics.TcpExtTWKilled) != 0 {
		t.Fatalf("len %d TW %d (MIB-1: counted at arming)", d.Len(), m.Get(metrics.TcpExtTW))
	}
	if n, ok := d.Next(); !ok || n > t0+TimeWaitLen {
		t.Fatalf("Next %d %v", n, ok)
	}
	if got := expire(d, t0+TimeWaitLen-1); len(got) != 0 {
		t.Fatal("expired early")
	}
	got := expire(d, t0+TimeWaitLen)
	if len(got) != 1 || got[0] != r || d.Len() != 0 || r.Scheduled() {
		t.Fatalf("did not expire at 60 s: %v", got)
	}
	if d.Kill(r) {
		t.Fatal("Kill of an expired record reported live")
	}
	if m.Get(metrics.TcpExtTW) != 1 {
		t.Fatal("expiry counted again")
	}
}

// TestDeathRowFinWait2Timeout: FIN_WAIT2 gets max(t, RTO3.5) (TW-ENTER-6,
// SCN-25) and a <= 4 s timeout counts TWKilled [6.18] (MIB-1, CONST-9).
func TestDeathRowFinWait2Timeout(t *testing.T) {
	cases := []struct {
		name    string
		timeout int64
		rtoMs   uint32
		want    int64
		killed  bool
	}{
		{"fin_timeout_30s", 30 * sec, 200, 30 * sec, false},
		{"fin_timeout_2s_short", 2 * sec, 200, 2 * sec, true},
		{"rto35_wins", 2 * sec, 1000, 3500 * ms, true},
		{"rto35_odd_jiffies", 0, 201, (4*201 - 100) * ms, true},
		{"exactly_4s_is_short", 4 * sec, 200, 4 * sec, true},
		{"just_over_4s", 4*sec + ms, 200, 4*sec + ms, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := metrics.New()
			d := NewDeathRow(Linux618, t0, m)
			r := newRec(SubstateFinWait2, false)
			r.RTO = c.rtoMs
			if got := d.Schedule(r, c.timeout, t0); got != c.want {
				t.Fatalf("timeout %d, want %d", got, c.want)
			}
			if k := m.Get(metrics.TcpExtTWKilled) == 1; k != c.killed || m.Get(metrics.TcpExtTW)+m.Get(metrics.TcpExtTWKilled) != 1 {
				t.Fatalf("TWKilled %v want %v", k, c.killed)
			}
			if len(expire(d, t0+c.want-1)) != 0 || len(expire(d, t0+c.want)) != 1 {
				t.Fatal("expiry time wrong")
			}
		})
	}
}

// TestDeathRowBucketLimit: TW-ENTER-2/3, SCN-34. SYSCTL-3: tcp_max_tw_buckets
// refuses a record when count >= limit, 0 refuses all. VER-10: a refusal
// counts TCPTimeWaitOverflow (the historical log line is only the optional
// operator log, rate-limited to one per 5 s).
func TestDeathRowBucketLimit(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux618, t0, m)
	var logs []string
	d.SetLogger(func(s string) { logs = append(logs, s) })
	d.SetMaxBuckets(0)
	for i := range 3 {
		if d.Admit(t0 + int64(i)*sec) {
			t.Fatal("max_tw_buckets=0 admitted a record")
		}
	}
	if m.Get(metrics.TcpExtTCPTimeWaitOverflow) != 3 {
		t.Fatalf("overflow %d", m.Get(metrics.TcpExtTCPTimeWaitOverflow))
	}
	if len(logs) != 1 || logs[0] != "TCP: time wait bucket table overflow" {
		t.Fatalf("logs %q: want one line per 5 s", logs)
	}
	d.Admit(t0 + 5*sec)
	if len(logs) != 2 {
		t.Fatal("no log line after 5 s")
	}
	d.SetMaxBuckets(2)
	var rs [3]*Record
	for i := range rs {
		rs[i] = newRec(SubstateTimeWait, false)
	}
	for i := range 2 {
		if !d.Admit(t0) {
			t.Fatal("refused below the limit")
		}
		d.Schedule(rs[i], 0, t0)
	}
	if d.Admit(t0) {
		t.Fatal("admitted at count == limit")
	}
	if !d.Kill(rs[0]) || d.Kill(rs[0]) {
		t.Fatal("Kill results")
	}
	if !d.Admit(t0) {
		t.Fatal("refused after a kill freed a bucket")
	}
}

// TestDeathRowRearm: TIMER-2: re-arming moves expiry to now + 60 s only if
// the timer is pending; re-arms are not counted.
func TestDeathRowRearm(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux618, t0, m)
	r := newRec(SubstateTimeWait, false)
	d.Schedule(r, 0, t0)
	d.Rearm(r, t0+50*sec)
	if len(expire(d, t0+TimeWaitLen)) != 0 {
		t.Fatal("re-armed record expired at the old time")
	}
	if len(expire(d, t0+110*sec)) != 1 {
		t.Fatal("re-armed record did not expire at now+60s")
	}
	d.Rearm(r, t0+111*sec) // no revival
	if r.Scheduled() || d.Len() != 0 {
		t.Fatal("Rearm revived an expired record")
	}
	if m.Get(metrics.TcpExtTW) != 1 {
		t.Fatal("re-arm counted")
	}
}

// TestDeathRowApply: verdicts drive Kill / Rearm.
func TestDeathRowApply(t *testing.T) {
	d := NewDeathRow(Linux618, t0, nil)
	r := newRec(SubstateTimeWait, false)
	d.Schedule(r, 0, t0)
	if d.Apply(r, Verdict{Action: ActionACK}, t0+sec) || r.When() != t0+TimeWaitLen {
		t.Fatal("plain ACK changed the timer")
	}
	if d.Apply(r, rearm, t0+sec) || r.When() != t0+sec+TimeWaitLen {
		t.Fatal("rearm not applied")
	}
	if !d.Apply(r, rstKill, t0+2*sec) || d.Len() != 0 || r.Scheduled() {
		t.Fatal("kill not applied")
	}
}

// TestDeathRowManyExpireInOrder: 100k records entering over 10 s all leave
// between 60 and 70 s, each exactly 60 s after entry, in microseconds of
// test time.
func TestDeathRowManyExpireInOrder(t *testing.T) {
	d := NewDeathRow(Linux618, t0, nil)
	const n = 100000
	recs := make([]Record, n)
	for i := range recs {
		recs[i].Init(testTuple, SubstateTimeWait, 1, 2, 3, 0, 0, 0, 0, 200*ms, 0, t0)
		recs[i].LocalPort = uint16(i)
		d.Schedule(&recs[i], 0, t0+int64(i)*100*1000) // every 100 us
	}
	var out []*Record
	total := 0
	for now := t0; now <= t0+71*sec; now += 250 * ms {
		out = d.Expire(now, out[:0])
		for _, r := range out {
			if r.When() > now || now-r.When() >= 250*ms {
				t.Fatalf("record due %d expired at %d", r.When(), now)
			}
		}
		total += len(out)
	}
	if total != n || d.Len() != 0 {
		t.Fatalf("expired %d of %d", total, n)
	}
}

// TestProfile411Counting: [4.11] TW/TWKilled at expiry by the last arm's
// timeout; early kills count nothing (MIB-1, TIMER-5).
func TestProfile411Counting(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux411, t0, m)
	a, b, c := newRec(SubstateTimeWait, false), newRec(SubstateFinWait2, false), newRec(SubstateTimeWait, false)
	d.Schedule(a, 0, t0)
	d.Schedule(b, 2*sec, t0)
	d.Schedule(c, 0, t0)
	if m.Get(metrics.TcpExtTW)+m.Get(metrics.TcpExtTWKilled) != 0 {
		t.Fatal("4.11 counted at arming")
	}
	d.Kill(c)
	expire(d, t0+TimeWaitLen)
	if m.Get(metrics.TcpExtTW) != 1 || m.Get(metrics.TcpExtTWKilled) != 1 {
		t.Fatalf("TW %d TWKilled %d", m.Get(metrics.TcpExtTW), m.Get(metrics.TcpExtTWKilled))
	}
}

// TestProfile411Recycle: RECYCLE-4, SCN-46, RECYCLE-1 (6.18 has no
// tcp_tw_recycle: the setting is ignored there): with tw_recycle a timestamped
// TIME_WAIT lasts RTO3.5 (700 ms at RTO 200 ms) and counts TWKilled.
func TestProfile411Recycle(t *testing.T) {
	m := metrics.New()
	cfg := DefaultConfig()
	cfg.Profile, cfg.TWRecycle, cfg.Peers = Linux411, true, NewPeerCache(64)
	d := NewDeathRow(Linux411, t0, m)
	r := newRec(SubstateTimeWait, false)
	EnterRecycle(r, &cfg, t0)
	if r.Flags&FlagRecycleOK == 0 {
		t.Fatal("recycle_ok not set")
	}
	if got := d.Schedule(r, 0, t0); got != 700*ms {
		t.Fatalf("timeout %d, want 700ms", got)
	}
	if len(expire(d, t0+699*ms)) != 0 || len(expire(d, t0+700*ms)) != 1 {
		t.Fatal("recycled record expiry")
	}
	if m.Get(metrics.TcpExtTWKilled) != 1 {
		t.Fatal("TWKilled not counted")
	}
	// Without timestamps there is no recycling.
	r2 := newRec(SubstateTimeWait, true)
	EnterRecycle(r2, &cfg, t0)
	if d.Schedule(r2, 0, t0) != TimeWaitLen {
		t.Fatal("recycle without timestamps")
	}
	// 6.18 ignores tw_recycle entirely.
	cfg.Profile = Linux618
	r3 := newRec(SubstateTimeWait, false)
	EnterRecycle(r3, &cfg, t0)
	if r3.Flags&FlagRecycleOK != 0 || NewDeathRow(Linux618, t0, nil).Schedule(r3, 0, t0) != TimeWaitLen {
		t.Fatal("6.18 recycled")
	}
}

// TestRecycle5FinRearm: RECYCLE-5: the FIN of a recycled FIN_WAIT2 record
// re-arms to RTO3.5 while the peer's cache entry exists; other re-arms 60 s.
func TestRecycle5FinRearm(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Profile, cfg.TWRecycle, cfg.Peers = Linux411, true, NewPeerCache(64)
	d := NewDeathRow(Linux411, t0, nil)
	r := newRec(SubstateFinWait2, false)
	EnterRecycle(r, &cfg, t0)
	d.Schedule(r, 30*sec, t0)
	s := seg(A|F, tR, 0, ts(tT+50))
	v := Process(r, &s, t0+sec, &cfg, nil)
	if !v.Rearm || v.RearmTimeout != 700*ms {
		t.Fatalf("verdict %+v, want rearm 700ms", v)
	}
	d.Apply(r, v, t0+sec)
	if r.When() != t0+sec+700*ms {
		t.Fatal("not re-armed to the recycle timeout")
	}
	// The cache now holds the FIN's TSval.
	if ts, _, ok := cfg.Peers.Fetch(r.LocalAddr, r.RemoteAddr, t0+2*sec); !ok || ts != tT+50 {
		t.Fatalf("cache ts %d %v", ts, ok)
	}
	k := seg(A, tR, 0, ts(tT+60))
	if v := Process(r, &k, t0+2*sec, &cfg, nil); v.RearmTimeout != TimeWaitLen {
		t.Fatal("bare ACK re-arm is not 60 s")
	}
}

// TestProfile310Cells: TIMER-7, CONST-13 (8 slow cells of 7.5 s) and
// TIMER-8: a 60 s record placed 7 cells ahead is reaped
// by the 8th hangman tick: between 52.5 and 60 s, exactly 60 s if the
// hangman was idle; counted TW (TIMER-9, MIB-1).
func TestProfile310Cells(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux310, t0, m)
	a := newRec(SubstateTimeWait, false)
	d.Schedule(a, 0, t0) // hangman idle: starts at t0+7.5 s
	if got := expire(d, t0+TimeWaitLen-ms); len(got) != 0 {
		t.Fatal("reaped early")
	}
	if got := expire(d, t0+TimeWaitLen); len(got) != 1 {
		t.Fatal("not reaped at 60 s")
	}
	if m.Get(metrics.TcpExtTW) != 1 || d.Len() != 0 {
		t.Fatal("count")
	}

	// With the hangman running, a record arriving just after a tick lives
	// 52.5 s + the remainder.
	d = NewDeathRow(Linux310, t0, m)
	keep := newRec(SubstateTimeWait, false)
	d.Schedule(keep, 0, t0)              // hangman ticks at t0 + k*7.5 s
	b := newRec(SubstateTimeWait, false) //
	d.Schedule(b, 0, t0+7500*ms+100*ms)  // just after the first tick
	out := expire(d, t0+TimeWaitLen)     // keep reaped at 60 s
	if len(out) != 1 || out[0] != keep {
		t.Fatalf("first reap %v", out)
	}
	out = expire(d, t0+TimeWaitLen+7500*ms) // b: 7 cells after the tick at 7.5 s
	if len(out) != 1 || out[0] != b {
		t.Fatal("b not reaped 7 cells later")
	}
	if life := t0 + TimeWaitLen + 7500*ms - (t0 + 7600*ms); life != 59900*ms {
		t.Fatalf("life %d", life)
	}

	// 30 s FIN_WAIT2: ceil(30/7.5) = 4 cells ahead: 30..37.5 s.
	d = NewDeathRow(Linux310, t0, m)
	f := newRec(SubstateFinWait2, false)
	d.Schedule(f, 30*sec, t0)
	if len(expire(d, t0+30*sec+ms)) != 0 || len(expire(d, t0+37500*ms)) != 1 {
		t.Fatal("30 s FIN_WAIT2 reaped at the wrong tick")
	}
}

// TestProfile310QuotaStall: TIMER-9, CONST-13 (kill quota 100 per tick): a
// cell with more than 100 records
// stalls the cell index, so every other cell waits one more period.
func TestProfile310QuotaStall(t *testing.T) {
	d := NewDeathRow(Linux310, t0, nil)
	big := make([]Record, 150)
	for i := range big {
		big[i] = *newRec(SubstateTimeWait, false)
		d.Schedule(&big[i], 0, t0) // all 7 cells ahead
	}
	late := newRec(SubstateTimeWait, false)
	d.Schedule(late, 0, t0+7600*ms) // one cell after the big one
	if got := expire(d, t0+TimeWaitLen); len(got) != 150 {
		t.Fatalf("big cell reaped %d", len(got))
	}
	// Without the stall late would go at 67.5 s; with it at 75 s.
	if got := expire(d, t0+67500*ms); len(got) != 0 {
		t.Fatal("stall did not delay the next cell")
	}
	if got := expire(d, t0+75*sec); len(got) != 1 {
		t.Fatal("late record not reaped after the stall")
	}
}

// TestProfile310Calendar: TIMER-10, TIMER-7, CONST-13: short timeouts use
// the fast calendar (128 ms ticks) and count TWKilled; early kills count nothing.
func TestProfile310Calendar(t *testing.T) {
	m := metrics.New()
	d := NewDeathRow(Linux310, t0, m)
	r := newRec(SubstateFinWait2, false)
	if d.Schedule(r, 1*sec, t0) != 1*sec {
		t.Fatal("timeout")
	}
	// ceil(1000/128) = 8 slots = 1024 ms.
	if len(expire(d, t0+1023*ms)) != 0 || len(expire(d, t0+1024*ms)) != 1 {
		t.Fatal("calendar expiry")
	}
	if m.Get(metrics.TcpExtTWKilled) != 1 || m.Get(metrics.TcpExtTW) != 0 {
		t.Fatal("calendar counter")
	}
	if _, ok := d.Next(); ok {
		t.Fatal("hangman still running with no records")
	}
	x := newRec(SubstateTimeWait, false)
	d.Schedule(x, 0, t0+2*sec)
	if !d.Kill(x) || d.Len() != 0 {
		t.Fatal("kill")
	}
	if _, ok := d.Next(); ok {
		t.Fatal("hangman not stopped at zero (inet_twsk_deschedule)")
	}
	if m.Get(metrics.TcpExtTW) != 0 {
		t.Fatal("early kill counted")
	}
}

// TestProfile310Rearm: a re-armed record is re-filed 7 cells ahead of the
// current cell.
func TestProfile310Rearm(t *testing.T) {
	d := NewDeathRow(Linux310, t0, nil)
	other := newRec(SubstateTimeWait, false)
	d.Schedule(other, 0, t0)
	r := newRec(SubstateTimeWait, false)
	d.Schedule(r, 0, t0)
	// After the ticks at 7.5 and 15 s the next cell is 2; 7 ahead is cell 1,
	// reaped by the 8th tick after 20 s: at 75 s (a 55 s TIME-WAIT).
	d.Rearm(r, t0+20*sec)
	out := expire(d, t0+TimeWaitLen)
	if len(out) != 1 || out[0] != other {
		t.Fatal("other")
	}
	if len(expire(d, t0+75*sec-ms)) != 0 || len(expire(d, t0+75*sec)) != 1 {
		t.Fatal("re-armed record reaped at the wrong tick")
	}
}

func TestParseProfile(t *testing.T) {
	for _, p := range []Profile{Linux618, Linux411, Linux310} {
		if q, err := ParseProfile(p.String()); err != nil || q != p {
			t.Fatal(p)
		}
	}
	if p, err := ParseProfile(""); err != nil || p != Linux618 {
		t.Fatal("default")
	}
	if _, err := ParseProfile("linux-2.4"); err == nil {
		t.Fatal("accepted unknown")
	}
}
