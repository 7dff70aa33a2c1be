package stack

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
)

// DeliverPacket processes one IPv4 packet as if it had been read from the
// device, on the caller's goroutine, and writes whatever the stack answers
// to the device before returning. pkt is not retained. It is the entry
// point of Manual mode and of the fuzz target; with workers running it is
// also safe, but it bypasses the per-flow ordering the workers provide.
func (s *Stack) DeliverPacket(pkt []byte) {
	b := s.getBatch()
	s.deliverIP(pkt, b, false)
	s.putBatch(b)
}

// deliverIP is ip_rcv + ip_local_deliver: validate, drop what is not ours,
// reassemble, and hand the payload to the transport. Every drop is counted;
// nothing here panics on malformed input or allocates for an unfragmented
// datagram.
func (s *Stack) deliverIP(pkt []byte, b *batch, fromLoop bool) {
	m := s.m
	m.Inc(metrics.IpInReceives)
	h := ipv4.IPv4(pkt)
	switch err := h.Validate(); err {
	case nil:
	case ipv4.ErrChecksum:
		// ip_rcv_core csum_error: both counters.
		m.Inc(metrics.IpExtInCsumErrors)
		m.Inc(metrics.IpInHdrErrors)
		return
	case ipv4.ErrTruncated:
		m.Inc(metrics.IpExtInTruncatedPkts)
		return
	default:
		m.Inc(metrics.IpInHdrErrors)
		return
	}
	h = h[:h.TotalLength()]
	dst := h.Dst()
	if !fromLoop && (isLoopbackAddr(dst) || isLoopbackAddr(h.Src())) {
		// 127.0.0.0/8 from the wire is martian (ip_route_input_slow).
		m.Inc(metrics.IpInAddrErrors)
		return
	}
	bcast := false
	if !s.isOwn(dst) {
		if !isBroadcast(dst) {
			// Not ours and we do not forward: ip_route_input ends in
			// ip_error(EHOSTUNREACH) -> InAddrErrors.
			m.Inc(metrics.IpInAddrErrors)
			return
		}
		bcast = true
	}
	// TTL is not checked: ip_rcv_core leaves it to the forwarding path, a
	// TTL of 0 is delivered locally. IP options are accepted and ignored.
	if h.IsFragment() {
		var done bool
		h, done = s.frag.insert(h, s.now())
		if !done {
			return
		}
	}
	switch h.Protocol() {
	case ipv4.ProtoTCP:
		m.Inc(metrics.IpInDelivers)
		if bcast {
			return // tcp_v4_rcv: pkt_type != PACKET_HOST -> discard
		}
		s.deliverTCP(h, b)
	case ipv4.ProtoICMP:
		m.Inc(metrics.IpInDelivers)
		s.deliverICMP(h, bcast, b)
	default:
		m.Inc(metrics.IpInUnknownProtos)
		if !bcast {
			s.sendICMPError(h, ipv4.ICMPDestUnreach, icmpCodeProtoUnreach, b)
		}
	}
}
