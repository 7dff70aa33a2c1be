package stack

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// deliverTCP is tcp_v4_rcv up to the socket lookup: header sanity and
// checksum (counted like the kernel), then demux.
func (s *Stack) deliverTCP(h ipv4.IPv4, b *batch) {
	m := s.m
	m.Inc(metrics.TcpInSegs)
	raw := h.Payload()
	if len(raw) < header.TCPMinSize {
		return // pskb_may_pull failure: discard_it, no counter
	}
	th := header.TCP(raw)
	if th.DataOffset() < header.TCPMinSize {
		m.Inc(metrics.TcpInErrs) // bad_packet
		return
	}
	if th.DataOffset() > len(raw) {
		return
	}
	src, dst := h.Src(), h.Dst()
	if !header.VerifyTCPChecksum(src, dst, raw) {
		m.Inc(metrics.TcpInCsumErrors)
		m.Inc(metrics.TcpInErrs)
		return
	}
	var seg tcp.Segment
	if err := tcp.ParseSegment(raw, &seg); err != nil {
		m.Inc(metrics.TcpInErrs)
		return
	}
	k := tcp.Tuple{LocalAddr: dst, RemoteAddr: src, LocalPort: th.DstPort(), RemotePort: th.SrcPort()}
	s.demux(s.flowHash(&k), k, &seg, b)
}

// demux finds the segment's owner: the established table (a connection or
// a TIME-WAIT record, TW-LOOKUP-1), then the listeners (TW-LOOKUP-5), else
// a RST (TW-LOOKUP-6). An entry that disappears between the lookup and its
// lock is looked up again.
func (s *Stack) demux(h uint64, k tcp.Tuple, seg *tcp.Segment, b *batch) {
	for range 4 {
		e := s.table.lookup(h, k)
		switch {
		case e.c != nil:
			if s.inputConn(e.c, seg, b) {
				return
			}
			continue
		case e.tw != nil:
			if s.inputTimeWait(h, k, e.tw, seg, b) {
				return
			}
			continue
		}
		if ln := s.listeners.lookup(k.LocalAddr, k.LocalPort); ln != nil {
			s.inputListen(ln, k, seg, 0, b)
			return
		}
		s.sendReset(k, seg, b)
		return
	}
}

// inputConn runs the engine on a segment for c. It returns false if c was
// unhashed before its lock was taken (the caller looks up again).
func (s *Stack) inputConn(c *conn, seg *tcp.Segment, b *batch) bool {
	c.mu.Lock()
	if !c.hashed {
		c.mu.Unlock()
		return false
	}
	c.prepare(b)
	c.tc.Input(seg, s.now(), b)
	s.afterEngine(c, b)
	c.mu.Unlock()
	return true
}
