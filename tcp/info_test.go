package tcp

import (
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/header"
)

// sackOpts builds a SACK option from start/end pairs.
func sackOpts(blocks ...uint32) *header.Options {
	o := &header.Options{}
	for i := 0; i < len(blocks); i += 2 {
		o.SACK[o.NumSACK] = header.SACKBlock{Start: blocks[i], End: blocks[i+1]}
		o.NumSACK++
	}
	return o
}

// TestInfoQueueCounts follows sack/sack-shift-sacked-2-6-8-3-9-nofack:
// tcpi_unacked, tcpi_sacked, tcpi_lost and tcpi_retrans count segments of
// the retransmission queue the way the kernel's skb accounting does.
func TestInfoQueueCounts(t *testing.T) {
	h := newHarness(t)
	h.passiveWithRTT(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true, HasWScale: true, WScale: 7}, 100*time.Millisecond)
	mustWrite(t, h, 10000, 0)
	for range 10 {
		h.recv()
	}
	in := h.c.InfoAt(h.now)
	if in.Unacked != 10 || in.Sacked != 0 || in.Lost != 0 || in.RetransOut != 0 || in.NotSentBytes != 0 {
		t.Fatalf("after the burst: %+v", in)
	}
	h.advance(100 * time.Millisecond)
	s := uint32(snd0)
	h.send(mkSeg(rcv0, s, fA, 257, nil, sackOpts(s+2000, s+3000)))
	h.now += Time(time.Millisecond)
	h.send(mkSeg(rcv0, s, fA, 257, nil, sackOpts(s+2000, s+3000, s+6000, s+7000)))
	h.now += Time(time.Millisecond)
	h.send(mkSeg(rcv0, s, fA, 257, nil, sackOpts(s+2000, s+3000, s+6000, s+7000, s+8000, s+9000)))
	h.expectData(fA, s, 1000)
	in = h.c.InfoAt(h.now)
	if in.CAState != 3 || in.Unacked != 10 || in.Sacked != 3 || in.Lost != 6 || in.RetransOut != 1 {
		t.Fatalf("in recovery: ca %v unacked %d sacked %d lost %d retrans %d", in.CAState, in.Unacked, in.Sacked, in.Lost, in.RetransOut)
	}
	h.send(mkSeg(rcv0, s+10000, fA, 257, nil, nil))
	in = h.c.InfoAt(h.now)
	if in.Unacked != 0 || in.Sacked != 0 || in.Lost != 0 || in.RetransOut != 0 {
		t.Fatalf("all acked: %+v", in)
	}
}

// passiveWithRTT is passive with the handshake's ACK arriving rtt after the
// SYN-ACK (the scripts' "+.1 < . 1:1(0) ack 1"), which seeds srtt.
func (h *harness) passiveWithRTT(synOpts *header.Options, rtt time.Duration) {
	h.t.Helper()
	syn := mkSeg(peerISN, 0, fS, 65535, nil, synOpts)
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	h.expect(fSA, ourISN, peerISN+1)
	h.now += Time(rtt)
	win := uint16(65535)
	if synOpts.HasWScale {
		win = 1000
	}
	h.send(mkSeg(peerISN+1, ourISN+1, fA, win, nil, nil))
	if h.c.State() != StateEstablished {
		h.t.Fatalf("state %v after handshake", h.c.State())
	}
	h.c.TakeEvents()
}

// TestInfoChronoRwndLimited follows tcp_info/tcp-info-rwnd-limited: the
// busy and receive-window-limited chronographs of tcp_chrono_start/stop,
// in whole jiffies.
func TestInfoChronoRwndLimited(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true})
	h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil)) // the peer's window closes
	if in := h.c.InfoAt(h.now); in.RwndLimited != 0 || in.BusyTime != 0 {
		t.Fatalf("idle: %+v", in)
	}
	mustWrite(t, h, 1000, 0)
	h.advance(100 * time.Millisecond)
	if in := h.c.InfoAt(h.now); in.RwndLimited != 100*time.Millisecond {
		t.Fatalf("rwnd limited %v after 100 ms", in.RwndLimited)
	}
	h.advance(100 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0, fA, 2000, nil, nil))
	if in := h.c.InfoAt(h.now); in.RwndLimited != 200*time.Millisecond {
		t.Fatalf("rwnd limited %v after 200 ms", in.RwndLimited)
	}
	h.advance(30 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0+1000, fA, 10, nil, nil))
	mustWrite(t, h, 1000, 0)
	h.advance(100 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0+1000, fA, 2000, nil, nil))
	in := h.c.InfoAt(h.now)
	if in.RwndLimited != 300*time.Millisecond || in.BusyTime != 330*time.Millisecond {
		t.Fatalf("rwnd limited %v busy %v, want 300 ms and 330 ms", in.RwndLimited, in.BusyTime)
	}
	h.advance(20 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0+2000, fA, 2000, nil, nil))
	h.advance(time.Second) // idle: nothing accrues
	if in := h.c.InfoAt(h.now); in.BusyTime != 350*time.Millisecond || in.SndbufLimited != 0 {
		t.Fatalf("busy %v sndbuf %v, want 350 ms and 0", in.BusyTime, in.SndbufLimited)
	}
}

// TestInfoChronoSndbufLimited: a writer that filled the send buffer while
// everything queued is in flight and cwnd is not the limit accrues
// sndbuf-limited time until an ACK makes room again.
func TestInfoChronoSndbufLimited(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true})
	h.c.SetSendBuffer(2304) // 4608 bytes of ring: five segments, cwnd 10
	n, _ := h.c.Write(payload(10000, 0), h.now, h.e)
	if n != 4608 || h.c.Writable() {
		t.Fatalf("wrote %d, writable %v", n, h.c.Writable())
	}
	h.advance(20 * time.Millisecond)
	h.send(mkSeg(rcv0, snd0+4608, fA, 65535, nil, nil))
	if ev := h.c.TakeEvents(); ev&EventWritable == 0 {
		t.Fatalf("events %b", ev)
	}
	in := h.c.InfoAt(h.now)
	if in.SndbufLimited != 20*time.Millisecond || in.BusyTime != 20*time.Millisecond || in.RwndLimited != 0 {
		t.Fatalf("sndbuf %v busy %v rwnd %v", in.SndbufLimited, in.BusyTime, in.RwndLimited)
	}
}

// TestInfoTimesAndRTT: tcpi_last_data_recv (tcp-info-last_data_recv),
// tcpi_rttvar = mdev_us >> 2 (250 ms before any sample, as tcp_init_sock
// sets it), tcpi_rto in whole jiffies.
func TestInfoTimesAndRTT(t *testing.T) {
	h := newHarness(t)
	syn := mkSeg(peerISN, 0, fS, 65535, nil, plainSYN())
	h.c = NewPassive(h.cfg, h.m, testTuple, syn, ourISN, h.now, h.e)
	h.recv()
	if in := h.c.InfoAt(h.now); in.RTTVar != 250*time.Millisecond || in.RTO != time.Second {
		t.Fatalf("before a sample: rttvar %v rto %v", in.RTTVar, in.RTO)
	}
	h.now += Time(30 * time.Millisecond)
	h.send(mkSeg(peerISN+1, ourISN+1, fA, 65535, nil, nil))
	in := h.c.InfoAt(h.now)
	if in.SRTT != 30*time.Millisecond || in.RTTVar != 15*time.Millisecond || in.RTO != 230*time.Millisecond {
		t.Fatalf("after 30 ms: srtt %v rttvar %v rto %v", in.SRTT, in.RTTVar, in.RTO)
	}
	if in.Delivered != 1 || in.Reordering != 3 || in.PMTU != 1500 || in.MinRTT != 30*time.Millisecond {
		t.Fatalf("delivered %d (the SYN-ACK counts) reordering %d pmtu %d min_rtt %v", in.Delivered, in.Reordering, in.PMTU, in.MinRTT)
	}
	h.advance(time.Second)
	if d := h.c.InfoAt(h.now).SinceLastDataRecv; d < 990*time.Millisecond || d > 1010*time.Millisecond {
		t.Fatalf("last data recv %v", d)
	}
	h.send(mkSeg(rcv0, snd0, fA, 300, payload(1000, 0), nil))
	in = h.c.InfoAt(h.now)
	if in.SinceLastDataRecv != 0 || in.DataSegsIn != 1 || in.BytesReceived != 1000 {
		t.Fatalf("after data: %v, segs %d bytes %d", in.SinceLastDataRecv, in.DataSegsIn, in.BytesReceived)
	}
	mustWrite(t, h, 500, 0)
	if in = h.c.InfoAt(h.now); in.DataSegsOut != 1 || in.BytesSent != 500 || in.BytesRetrans != 0 {
		t.Fatalf("sent: segs %d bytes %d retrans %d", in.DataSegsOut, in.BytesSent, in.BytesRetrans)
	}
	h.advanceToTimer()
	if in = h.c.InfoAt(h.now); in.BytesSent != 1000 || in.BytesRetrans != 500 || in.Retrans != 1 {
		t.Fatalf("retransmitted: bytes %d retrans %d retransmits %d", in.BytesSent, in.BytesRetrans, in.Retrans)
	}
}

// TestSendBufferSize: SO_SNDBUF reads back tcp_sndbuf_expand's sk_sndbuf
// (87040 for MSS 1460 and IW10, a value familiar from Linux hosts), or the
// doubled value the application set.
func TestSendBufferSize(t *testing.T) {
	h := newHarness(t)
	h.passive(linuxSYN(100))
	if got := h.c.SendBufferSize(); got != 87040 {
		t.Fatalf("default SO_SNDBUF %d, want 87040", got)
	}
	h.c.SetSendBuffer(10000)
	if got := h.c.SendBufferSize(); got != 20000 {
		t.Fatalf("SO_SNDBUF after setting 10000: %d", got)
	}
}

// TestNotSentLowat follows epoll/epoll_out_edge_notsent_lowat: writes
// queue unsent data only below the mark (in segment units), Writable needs
// the unsent bytes below half of it, and the ACK that sends the backlog
// raises EventWritable.
func TestNotSentLowat(t *testing.T) {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true, HasWScale: true, WScale: 7})
	h.c.SetNotSentLowat(4000)
	if h.c.NotSentLowat() != 4000 || !h.c.Writable() {
		t.Fatal("lowat not set or not writable")
	}
	n, err := h.c.Write(payload(20000, 0), h.now, h.e)
	if n != 14000 || err != nil {
		t.Fatalf("write: %d, %v; want 10000 sent + 4000 unsent", n, err)
	}
	if h.c.Writable() {
		t.Fatal("writable with 4000 unsent bytes and lowat 4000")
	}
	if n, _ := h.c.Write(payload(1, 0), h.now, h.e); n != 0 {
		t.Fatalf("write past lowat took %d", n)
	}
	h.c.TakeEvents()
	h.send(mkSeg(rcv0, snd0+5000, fA, 1000, nil, nil)) // 5 more segments go out, 0 unsent
	if ev := h.c.TakeEvents(); ev&EventWritable == 0 || !h.c.Writable() {
		t.Fatalf("events %b writable %v", ev, h.c.Writable())
	}
	if got := h.c.InfoAt(h.now).NotSentBytes; got != 0 {
		t.Fatalf("notsent %d", got)
	}
	h.c.SetNotSentLowat(0) // back to the sysctl: unlimited
	if n, _ := h.c.Write(payload(20000, 0), h.now, h.e); n != 20000 {
		t.Fatalf("unlimited write took %d", n)
	}
}

// TestOrphanLimitAtCloseSCN33 covers CLOSE-16 (SCN-33): with the orphan
// limit exceeded, a close that would leave an orphan ends in an active
// RST after the FIN tcp_send_fin already pushed; TCPAbortOnMemory +1 and
// the kernel's log line. Without the hook nothing changes.
func TestOrphanLimitAtCloseSCN33(t *testing.T) {
	for _, tooMany := range []bool{false, true} {
		h := newHarness(t)
		var logs []string
		var shifts []int
		if tooMany {
			h.cfg.TooManyOrphans = func(shift int) bool { shifts = append(shifts, shift); return true }
			h.cfg.Logf = func(f string, _ ...any) { logs = append(logs, f) }
		}
		h.passive(plainSYN())
		h.c.Close(h.now, h.e)
		h.expect(fFA, snd0, rcv0)
		if !tooMany {
			h.expectNone()
			if h.c.State() != StateFinWait1 {
				t.Fatalf("state %v", h.c.State())
			}
			continue
		}
		h.expect(fRA, snd0+1, rcv0)
		if h.c.State() != StateClose || h.m.Get(metrics.TcpExtTCPAbortOnMemory) != 1 ||
			len(shifts) != 1 || shifts[0] != 0 || len(logs) != 1 || logs[0] != "too many orphaned sockets" {
			t.Fatalf("state %v abort %d shifts %v logs %v", h.c.State(), h.m.Get(metrics.TcpExtTCPAbortOnMemory), shifts, logs)
		}
	}
}

// TestOrphanOutOfResourcesORPHAN6: at an orphan's retransmission timeout
// the limit is checked (shift 0 while alive and recently active); over it
// the orphan is reset and destroyed with TCPAbortOnMemory.
func TestOrphanOutOfResourcesORPHAN6(t *testing.T) {
	h := newHarness(t)
	limit := false
	var shifts []int
	h.cfg.TooManyOrphans = func(shift int) bool { shifts = append(shifts, shift); return limit }
	h.passive(plainSYN())
	h.c.Close(h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.advanceToTimer()
	h.expect(fFA, snd0, rcv0) // under the limit: an ordinary FIN retransmission
	limit = true
	h.advanceToTimer()
	h.expect(fRA, snd0+1, rcv0)
	h.expectNone()
	if h.c.State() != StateClose || h.m.Get(metrics.TcpExtTCPAbortOnMemory) != 1 || shifts[len(shifts)-1] != 0 {
		t.Fatalf("state %v abort %d shifts %v", h.c.State(), h.m.Get(metrics.TcpExtTCPAbortOnMemory), shifts)
	}
}

// TestUserTimeoutZeroWindowProbes: with TCP_USER_TIMEOUT a peer that keeps
// answering zero-window probes with a zero window is still given up on
// once the user timeout has passed since the first probe
// (icsk_probes_tstamp), the last probe interval clamped to the deadline;
// tcpi_probes counts unanswered probes.
func TestUserTimeoutZeroWindowProbes(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil))
	h.c.SetUserTimeout(3 * time.Second)
	mustWrite(t, h, 100, 0)
	h.expectNone()
	var first Time
	for i := 0; h.c.State() != StateClose; i++ {
		if i > 20 {
			t.Fatal("never gave up")
		}
		h.advanceToTimer()
		if h.c.State() == StateClose {
			break
		}
		p := h.expect(fA, snd0-1, rcv0) // the probe: snd_una - 1
		_ = p
		if first == 0 {
			first = h.now
		}
		if got := h.c.InfoAt(h.now).Probes; got != 1 {
			t.Fatalf("probes %d before the answer", got)
		}
		h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil)) // still zero
		if got := h.c.InfoAt(h.now).Probes; got != 0 {
			t.Fatalf("probes %d after the answer", got)
		}
	}
	if d := time.Duration(h.now - first); d != 3*time.Second {
		t.Fatalf("gave up %v after the first probe, want 3s", d)
	}
	if h.c.Err() != syscall.ETIMEDOUT {
		t.Fatalf("err %v", h.c.Err())
	}
}

// Without TCP_USER_TIMEOUT an answered zero-window probe series goes on.
func TestZeroWindowProbesWithoutUserTimeoutGoOn(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil))
	mustWrite(t, h, 100, 0)
	for range 30 {
		h.advanceToTimer()
		h.expect(fA, snd0-1, rcv0)
		h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil))
	}
	if h.c.State() != StateEstablished {
		t.Fatalf("state %v", h.c.State())
	}
}

// TestRingsAllocateOnDemand: a new connection has no buffer storage; a
// short exchange touches one small chunk per direction.
func TestRingsAllocateOnDemand(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	if h.c.sbuf.buf != nil || h.c.rbuf.buf != nil {
		t.Fatalf("storage at setup: %d/%d bytes", len(h.c.sbuf.buf), len(h.c.rbuf.buf))
	}
	h.send(mkSeg(rcv0, snd0, fPA, 65535, payload(200, 0), nil))
	mustWrite(t, h, 300, 0)
	if len(h.c.sbuf.buf) != minRingAlloc || len(h.c.rbuf.buf) != minRingAlloc {
		t.Fatalf("storage after a small exchange: %d/%d bytes", len(h.c.sbuf.buf), len(h.c.rbuf.buf))
	}
	if h.c.fullSpace() != h.c.rbuf.cap() || h.c.rbuf.cap() <= minRingAlloc {
		t.Fatalf("logical receive buffer %d", h.c.rbuf.cap())
	}
}

// TestRingModel drives a ring against a plain byte-slice model: appends,
// out-of-order stores beyond the held bytes, reads, discards and logical
// growth, across storage doublings and wraps.
func TestRingModel(t *testing.T) {
	r := newRing(3000)
	var model []byte // offset 0 = head; len = highest offset written
	seed := uint32(1)
	rnd := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	for step := range 20000 {
		switch rnd(6) {
		case 0, 1:
			p := payload(rnd(900), byte(step))
			k := r.write(p)
			want := min(len(p), r.size-(r.n-k))
			if k != want {
				t.Fatalf("step %d: write %d of %d, want %d", step, k, len(p), want)
			}
			off := r.n - k
			for len(model) < off+k {
				model = append(model, 0)
			}
			copy(model[off:], p[:k])
		case 2:
			off := r.n + rnd(500)
			p := payload(rnd(500), byte(step))
			k := r.writeAt(off, p)
			for len(model) < off+k {
				model = append(model, 0)
			}
			copy(model[off:], p[:k])
		case 3:
			k := rnd(r.n + 1)
			r.discard(k)
			model = model[min(k, len(model)):]
		case 4:
			if rnd(50) == 0 {
				r.grow(r.size + rnd(3000))
			}
		case 5:
			if r.n == 0 {
				continue
			}
			off := rnd(r.n)
			p := make([]byte, rnd(r.n-off)+1)
			r.readAt(off, p)
			for i := range p {
				if p[i] != model[off+i] {
					t.Fatalf("step %d: byte %d at offset %d is %d, want %d", step, i, off, p[i], model[off+i])
				}
			}
		}
		if len(r.buf) > r.size {
			t.Fatalf("storage %d beyond capacity %d", len(r.buf), r.size)
		}
	}
}

// A close that hands the connection to a FIN_WAIT2 record is no orphan:
// __tcp_close skips the limit check after tcp_time_wait (CLOSE-15/16).
func TestOrphanLimitNotCheckedForFW2Record(t *testing.T) {
	h := newHarness(t)
	calls := 0
	h.cfg.TooManyOrphans = func(int) bool { calls++; return true }
	h.passive(plainSYN())
	h.c.Shutdown(false, true, h.now, h.e)
	h.expect(fFA, snd0, rcv0)
	h.send(mkSeg(rcv0, snd0+1, fA, 65535, nil, nil))
	h.c.Close(h.now, h.e)
	h.expectNone()
	if calls != 0 || h.c.TakeEvents()&EventTimeWait == 0 {
		t.Fatalf("limit consulted %d times; want a FIN_WAIT2 record and no check", calls)
	}
}

// ORPHAN-6/7: the resource check also runs before each zero-window probe
// of an orphan, with a RST allowed.
func TestOrphanOutOfResourcesAtProbe(t *testing.T) {
	h := newHarness(t)
	limit := false
	h.cfg.TooManyOrphans = func(int) bool { return limit }
	h.passive(plainSYN())
	h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil))
	mustWrite(t, h, 100, 0)
	h.c.Close(h.now, h.e) // data and FIN wait for the window
	h.advanceToTimer()
	h.expect(fA, snd0-1, rcv0) // the zero-window probe
	limit = true
	h.advanceToTimer()
	h.expect(fRA, snd0, rcv0)
	if h.c.State() != StateClose || h.m.Get(metrics.TcpExtTCPAbortOnMemory) != 1 {
		t.Fatalf("state %v abort %d", h.c.State(), h.m.Get(metrics.TcpExtTCPAbortOnMemory))
	}
}

// tcp_rtx_probe0_timed_out: data in flight into a zero window is
// retransmitted while the peer keeps answering; with TCP_USER_TIMEOUT the
// retransmissions give up once they made no progress for that long.
func TestUserTimeoutRetransmitIntoZeroWindow(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	mustWrite(t, h, 100, 0)
	sent := h.now
	h.expectData(fPA, snd0, 100)
	h.c.SetUserTimeout(2 * time.Second)
	for h.c.State() != StateClose {
		if time.Duration(h.now-sent) > 10*time.Second {
			t.Fatal("never gave up")
		}
		h.advanceToTimer()
		for h.next < len(h.e.segs) {
			h.recv()
		}
		h.send(mkSeg(rcv0, snd0, fA, 0, nil, nil)) // alive, window closed
	}
	if d := time.Duration(h.now - sent); d < 2*time.Second || d > 3*time.Second || h.c.Err() != syscall.ETIMEDOUT {
		t.Fatalf("gave up after %v with %v", d, h.c.Err())
	}
}
