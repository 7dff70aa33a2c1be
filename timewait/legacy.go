package timewait

import "github.com/ustack/ustack/metrics"

// The Linux 3.10 central death row (TIMER-7..10, CONST-13), emulated for the
// linux-3.10 profile: a slow wheel of 8 cells reaped by one "hangman" tick
// every 7.5 s with a kill quota, and a fast calendar for timeouts under
// about 4 s. The cells are unordered intrusive lists; calendar records sit
// in the 1 ms wheel at now + ceil(t/128 ms)*128 ms, which is the kernel's
// expiry when its calendar was idle and within one 128 ms slot otherwise.
//
// The kernel's timers fire by themselves; here hangman ticks run inside
// Expire. Schedule and Rearm first run the ticks that are due (catchUp), so
// a record is filed relative to the right cell even if the caller was late
// to call Expire; records reaped that way come out of the next Expire.

// catchUp runs the calendar and hangman ticks due by now.
func (d *DeathRow) catchUp(now int64) {
	d.pending = d.expireLegacy(now, d.pending)
}

// armLegacy is inet_twsk_schedule. The caller has already counted r live
// (and, for a re-arm, unlinked it): the hangman starts when the count goes
// from 0 to 1, exactly like tw_count++ == 0, even on a re-arm.
func (d *DeathRow) armLegacy(r *Record, timeout, now int64) {
	j := max(timeout, 0) / 1e6 // jiffies at HZ=1000
	n := (j + legacyCalTick/1e6 - 1) / (legacyCalTick / 1e6)
	if n >= legacyCalSlots {
		var k int64 = legacyCells - 1
		if timeout < TimeWaitLen {
			pj := legacyPeriod / 1e6
			k = min((j+pj-1)/pj, legacyCells-1)
		}
		c := (d.slot + int(k)) & (legacyCells - 1)
		d.cells[c].Push(&r.Entry, now+timeout)
		r.dr = drCell0 + uint8(c)
	} else {
		d.wheel.Schedule(&r.Entry, now+n*legacyCalTick)
		r.dr = drCalendar
	}
	if d.count == 1 { // tw_count++ == 0: (re)start the hangman
		d.hangmanOn, d.hangmanAt = true, now+legacyPeriod
	}
}

// unlinkLegacy takes r out of its cell or the calendar without changing the
// live count.
func (d *DeathRow) unlinkLegacy(r *Record) {
	if r.dr == drCalendar {
		d.wheel.Cancel(&r.Entry)
	} else {
		d.cells[r.dr-drCell0].Remove(&r.Entry)
	}
	r.dr = drNone
}

// expireLegacy runs the calendar (TWKilled) and every hangman tick due by
// now (TW). A hangman tick that kills more than the quota does not advance
// the cell index, so the next tick reaps the same cell again and every other
// cell waits 7.5 s longer (TIMER-9). The kernel hands the surplus of such a
// cell to a workqueue that kills it moments later; here it dies in the tick.
func (d *DeathRow) expireLegacy(now int64, out []*Record) []*Record {
	for {
		next, ok := d.wheel.Next()
		hang := d.hangmanOn && d.hangmanAt <= now
		cal := ok && next <= now
		if !hang && !cal {
			return out
		}
		if cal && (!hang || next <= d.hangmanAt) {
			out = d.calendarTick(next, out)
			continue
		}
		out = d.hangmanTick(out)
	}
}

func (d *DeathRow) calendarTick(at int64, out []*Record) []*Record {
	d.buf = d.wheel.Advance(at, d.buf[:0])
	for _, e := range d.buf {
		r := e.Owner()
		r.dr = drNone
		inc(d.m, metrics.TcpExtTWKilled)
		out = append(out, r)
	}
	d.count -= len(d.buf)
	if len(d.buf) > 0 && d.count == 0 {
		d.hangmanOn = false // del_timer(&tw_timer)
	}
	clear(d.buf)
	return out
}

func (d *DeathRow) hangmanTick(out []*Record) []*Record {
	if d.count == 0 {
		d.hangmanOn = false
		return out
	}
	d.buf = d.cells[d.slot].Drain(d.buf[:0])
	for _, e := range d.buf {
		r := e.Owner()
		r.dr = drNone
		out = append(out, r)
	}
	killed := len(d.buf)
	clear(d.buf)
	d.count -= killed
	if d.m != nil && killed > 0 {
		d.m.Add(metrics.TcpExtTW, uint64(killed))
	}
	need := true
	if killed > legacyQuota {
		// Quota exceeded: the cell index stays (TIMER-9).
	} else {
		need = d.count > 0
		d.slot = (d.slot + 1) & (legacyCells - 1)
	}
	if need {
		d.hangmanAt += legacyPeriod
	} else {
		d.hangmanOn = false
	}
	return out
}
