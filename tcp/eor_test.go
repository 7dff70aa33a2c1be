package tcp

import (
	"testing"
	"time"

	"github.com/ustack/ustack/tcp/header"
)

// eorConn is the connection of the eor/ packetdrill scripts: the peer
// offers MSS 1000, SACK and window scale 10; initial cwnd 10.
func eorConn(t *testing.T) *harness {
	h := newHarness(t)
	h.passive(&header.Options{HasMSS: true, MSS: 1000, SACKPermitted: true, HasWScale: true, WScale: 10})
	return h
}

// expectData checks the next segment's flags, sequence and length.
func (h *harness) expectData(flags uint8, seq uint32, n int) {
	h.t.Helper()
	o := h.recv()
	if o.Flags != flags || o.Seq != seq || len(o.Payload) != n {
		h.t.Fatalf("got %v, want %s seq %d len %d", o, flagStr(flags), seq, n)
	}
}

func mustWrite(t *testing.T, h *harness, n int, f MsgFlags) {
	t.Helper()
	if k, err := h.c.WriteMsg(payload(n, byte(n)), f, h.now, h.e); k != n || err != nil {
		t.Fatalf("write %d: %d, %v", n, k, err)
	}
}

// TestEORNoCoalesce follows eor/no-coalesce-small and -subsequent: data
// written after an MSG_EOR record never shares a segment with it, the
// record's tail still takes the earlier unsent bytes, and a segment cut
// short by a record boundary is not held by Nagle and carries PSH.
func TestEORNoCoalesce(t *testing.T) {
	for _, records := range []int{1, 10} {
		h := eorConn(t)
		mustWrite(t, h, 10400, 0)
		for range records {
			mustWrite(t, h, 400, MsgEOR)
		}
		mustWrite(t, h, 10000, 0)
		for range 10 {
			h.recv() // the initial window: 1:10001
		}
		h.expectNone()
		h.send(mkSeg(rcv0, snd0+10000, fA, 514, nil, nil))
		seq := uint32(snd0 + 10000)
		h.expectData(fPA, seq, 800) // 400 left of the write + the first record
		seq += 800
		for range records - 1 {
			h.expectData(fPA, seq, 400)
			seq += 400
		}
		for i := range 10 {
			f := uint8(fA)
			if i == 9 {
				f = fPA
			}
			h.expectData(f, seq, 1000)
			seq += 1000
		}
		h.expectNone()
	}
}

// TestEORLargeRecordSegmentsAsUsual follows eor/no-coalesce-large: a large
// record is cut into MSS segments; only its end is a boundary.
func TestEORLargeRecordSegmentsAsUsual(t *testing.T) {
	h := eorConn(t)
	mustWrite(t, h, 10400, 0)
	mustWrite(t, h, 10400, MsgEOR)
	mustWrite(t, h, 2000, 0)
	for range 10 {
		h.recv()
	}
	h.send(mkSeg(rcv0, snd0+10000, fA, 514, nil, nil))
	seq := uint32(snd0 + 10000)
	for range 10 {
		h.expectData(fA, seq, 1000)
		seq += 1000
	}
	h.expectData(fPA, seq, 800) // the record ends at 20801
	seq += 800
	h.expectData(fA, seq, 1000) // the next write starts a new segment
	h.expectData(fPA, seq+1000, 1000)
}

// TestEORRetransmissionKeepsRecords follows eor/no-coalesce-retrans:
// retransmissions do not merge records either, and keep their PSH.
func TestEORRetransmissionKeepsRecords(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetNoDelay(true, h.now, h.e)
	for i := range 3 {
		mustWrite(t, h, 400, MsgEOR)
		h.expectData(fPA, snd0+uint32(400*i), 400)
	}
	h.advanceToTimer() // RTO
	h.expectData(fPA, snd0, 400)
	h.expectNone()
	h.send(mkSeg(rcv0, snd0+400, fA, 65535, nil, nil))
	h.expectData(fPA, snd0+400, 400)
	h.expectData(fPA, snd0+800, 400)
}

// A write that does not fit completely sets no record boundary (Linux
// marks EOR only on a complete sendmsg).
func TestEORPartialWriteSetsNoBoundary(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetSendBuffer(2304) // ring of 4608 bytes
	n, _ := h.c.WriteMsg(payload(100000, 0), MsgEOR, h.now, h.e)
	if n == 100000 || len(h.c.eor) != 0 {
		t.Fatalf("wrote %d, boundaries %v", n, h.c.eor)
	}
}

// The boundary list is reused: records acknowledged are dropped and a
// steady stream of records allocates nothing once warmed up.
func TestEORSteadyStateNoAllocs(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetNoDelay(true, h.now, h.e)
	p := payload(100, 0)
	e := &discardEmitter{}
	ack := mkSeg(rcv0, snd0, fA, 65535, nil, nil)
	step := func() {
		h.now += Time(time.Millisecond)
		h.c.WriteMsg(p, MsgEOR, h.now, e)
		h.c.WriteMsg(p, MsgEOR, h.now, e)
		ack.Ack += 200
		h.c.Input(ack, h.now, e)
	}
	for range 10 {
		step()
	}
	if a := testing.AllocsPerRun(200, step); a != 0 {
		t.Fatalf("%v allocs per record pair", a)
	}
	if len(h.c.eor)-h.c.eorHead > 2 {
		t.Fatalf("boundaries not trimmed: %v", h.c.eor[h.c.eorHead:])
	}
}

// TestMsgMoreCorksOnlyItsPush follows nagle/sendmsg_msg_more: MSG_MORE
// holds the partial segment for the write's own push only; the next ACK
// pushes it by the socket's Nagle setting (TCP_NODELAY here), without PSH.
func TestMsgMoreCorksOnlyItsPush(t *testing.T) {
	h := newHarness(t)
	h.passive(plainSYN())
	h.c.SetNoDelay(true, h.now, h.e)
	mustWrite(t, h, 3100, MsgMore)
	for i := range 3 {
		h.expectData(fA, snd0+uint32(1000*i), 1000)
	}
	mustWrite(t, h, 50, MsgMore)
	h.expectNone()
	h.send(mkSeg(rcv0, snd0+2000, fA, 65535, nil, nil))
	h.expectData(fA, snd0+3000, 150)
	h.expectNone()
}
