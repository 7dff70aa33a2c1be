package stack

import (
	"encoding/binary"
	"sync"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp"
)

// reassembler is ip_defrag: fragments are queued per (src, dst, id,
// protocol) until the datagram is complete, for at most ipfrag_time, with
// the memory of all queues bounded by ipfrag_high_thresh. Like Linux since
// 4.19, a fragment overlapping another discards the whole datagram
// (RFC 5722 applied to IPv4). Fragmentation is rare on TCP paths (DF), so
// this path allocates.
type reassembler struct {
	s  *Stack
	mu sync.Mutex // guards everything below
	qs map[fragKey]*fragQueue
	// mem is the fragment payload bytes held, checked against
	// ipfrag_high_thresh.
	mem int
}

type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

type fragQueue struct {
	frags    []frag // sorted by offset, non-overlapping
	total    int    // datagram payload length, -1 until the last fragment
	got      int    // payload bytes held
	hdr      []byte // IP header of the offset-0 fragment
	deadline tcp.Time
}

type frag struct {
	off  int
	data []byte
}

func (r *reassembler) init(s *Stack) {
	r.s = s
	r.qs = make(map[fragKey]*fragQueue)
}

const maxDatagram = 65535

// insert queues fragment h and returns the reassembled datagram when it
// completes it (done = true). Counters: ReasmReqds per fragment,
// ReasmOKs per datagram, ReasmFails per discarded datagram or refused
// fragment.
func (r *reassembler) insert(h ipv4.IPv4, now tcp.Time) (ipv4.IPv4, bool) {
	m := r.s.m
	m.Inc(metrics.IpReasmReqds)
	key := fragKey{src: h.Src(), dst: h.Dst(), id: h.ID(), proto: h.Protocol()}
	payload := h.Payload()
	off := h.FragOffset()
	end := off + len(payload)
	last := !h.MoreFragments()

	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked(now)
	q := r.qs[key]
	if q == nil {
		if r.mem+len(payload) > r.s.o().IPFragHighThresh {
			m.Inc(metrics.IpReasmFails)
			return nil, false
		}
		q = &fragQueue{total: -1, deadline: now + tcp.Time(r.s.o().IPFragTime)}
		r.qs[key] = q
		r.s.timers.wake() // a new deadline for the timer goroutine
	}
	bad := end > maxDatagram-ipv4.MinSize ||
		(!last && len(payload)%8 != 0) ||
		(last && q.total >= 0 && q.total != end) ||
		(q.total >= 0 && end > q.total) ||
		(last && q.maxEnd() > end) ||
		r.mem+len(payload) > r.s.o().IPFragHighThresh
	if !bad && len(payload) == 0 && !last {
		bad = true
	}
	// Find the insertion point and reject overlaps.
	i := 0
	for ; !bad && i < len(q.frags); i++ {
		f := q.frags[i]
		fend := f.off + len(f.data)
		if f.off == off && fend == end {
			// An exact duplicate is dropped, the queue kept.
			return nil, false
		}
		if off < fend && f.off < end {
			bad = true
			break
		}
		if f.off > off {
			break
		}
	}
	if bad {
		r.dropLocked(key, q)
		m.Inc(metrics.IpReasmFails)
		return nil, false
	}
	q.frags = append(q.frags, frag{})
	copy(q.frags[i+1:], q.frags[i:])
	q.frags[i] = frag{off: off, data: append([]byte(nil), payload...)}
	q.got += len(payload)
	r.mem += len(payload)
	if last {
		q.total = end
	}
	if off == 0 {
		q.hdr = append([]byte(nil), h[:h.IHL()]...)
	}
	if q.total < 0 || q.got != q.total || q.hdr == nil {
		return nil, false
	}
	// Complete: fragments are sorted and non-overlapping and cover total.
	ihl := len(q.hdr)
	out := make([]byte, ihl+q.total)
	copy(out, q.hdr)
	for _, f := range q.frags {
		copy(out[ihl+f.off:], f.data)
	}
	binary.BigEndian.PutUint16(out[2:], uint16(ihl+q.total))
	binary.BigEndian.PutUint16(out[6:], 0)
	ipv4.IPv4(out).SetChecksum(ipv4.IPv4(out).HeaderChecksum())
	r.dropLocked(key, q)
	m.Inc(metrics.IpReasmOKs)
	return ipv4.IPv4(out), true
}

func (r *reassembler) dropLocked(key fragKey, q *fragQueue) {
	r.mem -= q.got
	delete(r.qs, key)
}

// expireLocked discards queues whose ipfrag_time ran out (ip_expire:
// ReasmFails and ReasmTimeout; the ICMP time-exceeded Linux sends when the
// first fragment had arrived is not sent).
func (r *reassembler) expireLocked(now tcp.Time) {
	for k, q := range r.qs {
		if now >= q.deadline {
			r.dropLocked(k, q)
			r.s.m.Inc(metrics.IpReasmFails)
			r.s.m.Inc(metrics.IpReasmTimeout)
		}
	}
}

// nextDeadline returns the earliest queue expiry, 0 if none.
func (r *reassembler) nextDeadline() tcp.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next tcp.Time
	for _, q := range r.qs {
		if next == 0 || q.deadline < next {
			next = q.deadline
		}
	}
	return next
}

func (r *reassembler) run(now tcp.Time) {
	r.mu.Lock()
	if len(r.qs) > 0 {
		r.expireLocked(now)
	}
	r.mu.Unlock()
}

func (q *fragQueue) maxEnd() int {
	if len(q.frags) == 0 {
		return 0
	}
	f := q.frags[len(q.frags)-1]
	return f.off + len(f.data)
}
