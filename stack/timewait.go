package stack

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
	"github.com/ustack/ustack/timewait"
)

// twState owns the death row: the TIME-WAIT bucket limit, the records'
// timers and the TW/TWKilled/TWRecycled counters. Records themselves live
// in the established table; their mutable fields are guarded by their table
// shard's lock, their timer links by mu (lock order: shard -> tw).
type twState struct {
	s   *Stack
	cfg atomic.Pointer[timewait.Config] // replaced whole by reconfigure
	mu  sync.Mutex                      // guards dr and every record's timer link
	dr  *timewait.DeathRow
	out []*timewait.Record // Expire's result, reused under mu
}

func newTWState(s *Stack) *twState {
	t := &twState{s: s}
	cfg := s.o().timewaitConfig()
	t.cfg.Store(&cfg)
	t.dr = timewait.NewDeathRow(cfg.Profile, int64(s.now()), s.m)
	t.dr.SetMaxBuckets(s.o().TCPMaxTwBuckets)
	// Kernels since 3.x only count TCPTimeWaitOverflow; the old line is
	// kept (rate-limited by the death row) because operators search for it.
	t.dr.SetLogger(func(msg string) { s.logf("%s", msg) })
	return t
}

// reconfigure applies new options (SetOption); the peer cache of
// tcp_tw_recycle survives.
func (t *twState) reconfigure(o *Options) {
	cfg := o.timewaitConfig()
	if old := t.cfg.Load(); old.Peers != nil && cfg.Peers != nil {
		cfg.Peers = old.Peers
	}
	t.cfg.Store(&cfg)
	t.mu.Lock()
	t.dr.SetMaxBuckets(o.TCPMaxTwBuckets)
	t.mu.Unlock()
}

// newRecord is tcp_time_wait's allocation and scheduling (TW-ENTER-2..7):
// nil when the bucket limit refuses (TCPTimeWaitOverflow counted by
// Admit). The record is scheduled before it is hashed, so no segment can
// see it half-built.
func (t *twState) newRecord(c *conn, info *tcp.TimeWaitInfo, now tcp.Time) *timewait.Record {
	sub := timewait.SubstateTimeWait
	timeout := int64(0)
	if info.Substate == tcp.StateFinWait2 {
		sub = timewait.SubstateFinWait2
		timeout = int64(info.Timeout)
	}
	tsRecent, tsStamp := uint32(0), int32(0)
	if info.HasTS {
		tsRecent, tsStamp = info.TSRecent, int32(info.TSRecentStamp)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dr.Admit(int64(now)) {
		return nil
	}
	r := new(timewait.Record)
	r.Init(timewait.Tuple(c.tuple), sub, info.RcvNxt, info.SndNxt, info.RcvWnd, info.RcvWScale,
		tsRecent, tsStamp, info.TSOffset, int64(info.RTO), c.twFlags(), int64(now))
	timewait.EnterRecycle(r, t.cfg.Load(), int64(now))
	t.dr.Schedule(r, timeout, int64(now))
	t.s.timers.wake()
	return r
}

// kill destroys r early (TIMER-3).
func (t *twState) kill(r *timewait.Record) {
	t.mu.Lock()
	t.dr.Kill(r)
	t.mu.Unlock()
}

// next returns the death row's next deadline, 0 if none.
func (t *twState) next() tcp.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := t.dr.Next(); ok {
		return max(tcp.Time(n), 1)
	}
	return 0
}

// expire removes the records whose time has come (TIMER-1): out of the
// table and out of the port table, silently.
func (t *twState) expire(now tcp.Time) {
	t.mu.Lock()
	t.out = t.dr.Expire(int64(now), t.out[:0])
	recs := t.out
	t.out = nil
	t.mu.Unlock()
	for i, r := range recs {
		t.s.dropRecord(r)
		recs[i] = nil
	}
	t.mu.Lock()
	if t.out == nil {
		t.out = recs[:0]
	}
	t.mu.Unlock()
}

// dropRecord unhashes a dead record and releases its port.
func (s *Stack) dropRecord(r *timewait.Record) {
	k := tcp.Tuple(r.Tuple)
	sh := s.table.shard(s.flowHash(&k))
	sh.mu.Lock()
	removed := sh.removeRecordLocked(k, r)
	sh.mu.Unlock()
	// A record that a connect() takeover or a killing segment removed
	// first has released its port already; releasing again would drop
	// another live record's count.
	if removed {
		s.ports.release(k.LocalPort, r)
	}
}

// remaining returns how long r still lives, for ss.
func (t *twState) remaining(r *timewait.Record, now tcp.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at := t.dr.Expires(r); at > 0 {
		return max(time.Duration(at-int64(now)), 0)
	}
	return 0
}

func (t *twState) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dr.Len()
}

// inputTimeWait is tcp_v4_rcv's do_time_wait: run TIME-WAIT processing on
// the record the segment found and act on the verdict (TW-PROC-20). It
// returns false when the record vanished before the lock was taken, in
// which case the caller looks the segment up again.
func (s *Stack) inputTimeWait(h uint64, k tcp.Tuple, r *timewait.Record, seg *tcp.Segment, b *batch) bool {
	now := s.now()
	tws := timewait.Segment{
		Seq:        seg.Seq,
		Ack:        seg.Ack,
		Flags:      seg.Flags,
		PayloadLen: len(seg.Payload),
		HasOptions: seg.HasOptions,
		HasTS:      seg.Opts.HasTS,
		TSVal:      seg.Opts.TSVal,
		TSEcr:      seg.Opts.TSEcr,
	}
	// The listener is looked up before the shard lock (lock order).
	var ln *listener
	if seg.Flags&header.FlagSYN != 0 {
		ln = s.listeners.lookup(k.LocalAddr, k.LocalPort)
	}
	sh := s.table.shard(h)
	sh.mu.Lock()
	if e := sh.getLocked(k); e.tw != r {
		sh.mu.Unlock()
		return false
	}
	cfg := s.tw.cfg.Load()
	if cfg.Peers != nil {
		// The tw_recycle peer cache is shared by all shards.
		s.tw.mu.Lock()
	}
	v := timewait.Process(r, &tws, int64(now), cfg, s.m)
	if cfg.Peers != nil {
		s.tw.mu.Unlock()
	}
	// What a TW ACK carries, read under the lock (TW-RESP-1).
	sndNxt, rcvNxt, win, hasTS, tsval, tsecr, tos := r.SndNxt, r.RcvNxt, r.Window(), r.HasTS(), r.TSVal(int64(now)+s.tsSkew.Load()), r.TSRecent, r.TOS
	dead := false
	action := v.Action
	if action == timewait.ActionSYN {
		if ln != nil {
			// TW-PROC-20: destroy the record, the listener takes the SYN.
			s.tw.kill(r)
			dead = true
		} else {
			// No listener: TW ACK, record kept, not re-armed (SCN-14).
			action = timewait.ActionACK
		}
	} else {
		s.tw.mu.Lock()
		dead = s.tw.dr.Apply(r, v, int64(now)) || v.Kill
		s.tw.mu.Unlock()
	}
	if dead {
		sh.removeRecordLocked(k, r)
	}
	sh.mu.Unlock()
	if dead {
		s.ports.release(k.LocalPort, r)
	}

	switch action {
	case timewait.ActionACK:
		if v.OOW {
			tos &^= 3 // [6.18] ACK_OOW replies clear the ECN bits
		}
		b.ipID, b.tos = nil, tos
		tcp.SendTimeWaitACK(k, sndNxt, rcvNxt, win, hasTS, tsval, tsecr, b)
		b.tos = 0
		s.m.Inc(metrics.TcpOutSegs)
	case timewait.ActionRST:
		s.sendReset(k, seg, b)
	case timewait.ActionSYN:
		s.inputListen(ln, k, seg, v.ISN, b)
	}
	return true
}

// sendReset answers seg with a RST (TW-RESP-2) unless it is a RST itself.
func (s *Stack) sendReset(k tcp.Tuple, seg *tcp.Segment, b *batch) {
	if seg.Flags&header.FlagRST != 0 {
		return
	}
	b.ipID = nil
	tcp.SendReset(k, seg, b)
	s.m.Inc(metrics.TcpOutRsts)
	s.m.Inc(metrics.TcpOutSegs)
}

// reuseCheck decides, under the shard lock, whether connect() may take
// over record r (TW-REUSE-1..8).
func (s *Stack) reuseCheck(r *timewait.Record, now tcp.Time, bound bool) bool {
	delay := int(s.o().TCPTwReuseDelay / time.Millisecond)
	return timewait.CanReuseProfile(s.tw.cfg.Load().Profile, r, int64(now), s.o().TCPTwReuse, delay, false, bound)
}
