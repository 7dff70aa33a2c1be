package stack

import (
	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
)

const icmpCodeProtoUnreach = 2

// deliverICMP is icmp_rcv for the messages ustack acts on: echo requests
// are answered (icmp_echo); every other type is counted and ignored (no
// PMTU or soft-error propagation to TCP yet).
func (s *Stack) deliverICMP(h ipv4.IPv4, bcast bool, b *batch) {
	m := s.m
	msg := ipv4.ICMP(h.Payload())
	m.Inc(metrics.IcmpInMsgs)
	if len(msg) < ipv4.ICMPHeaderSize {
		m.Inc(metrics.IcmpInErrors)
		return
	}
	if !msg.Valid() {
		m.Inc(metrics.IcmpInCsumErrors)
		m.Inc(metrics.IcmpInErrors)
		return
	}
	switch msg.Type() {
	case ipv4.ICMPEcho:
		m.Inc(metrics.IcmpInEchos)
		// icmp_echo_ignore_broadcasts defaults to 1.
		if bcast || s.opts.ICMPEchoIgnoreAll != 0 {
			return
		}
		s.sendEchoReply(h, msg, b)
	case ipv4.ICMPEchoReply:
		m.Inc(metrics.IcmpInEchoReps)
	case ipv4.ICMPDestUnreach:
		m.Inc(metrics.IcmpInDestUnreachs)
	case ipv4.ICMPTimeExceeded:
		m.Inc(metrics.IcmpInTimeExcds)
	}
}

// sendEchoReply answers an echo request like icmp_reply: same identifier,
// sequence and data, TOS copied, no DF (the ICMP socket does not do PMTU
// discovery), a fresh IP ID.
func (s *Stack) sendEchoReply(h ipv4.IPv4, req ipv4.ICMP, b *batch) {
	n := len(req)
	if ipv4.MinSize+n > s.mtu {
		return // no fragmentation on output
	}
	buf := b.raw(n)
	copy(buf, req)
	ipv4.ICMP(buf).Encode(&ipv4.ICMPFields{Type: ipv4.ICMPEchoReply, ID: req.ID(), Seq: req.Seq()})
	b.tos = h.TOS()
	b.finish(h.Dst(), h.Src(), ipv4.ProtoICMP, n, false)
	b.tos = 0
	s.m.Inc(metrics.IcmpOutMsgs)
	s.m.Inc(metrics.IcmpOutEchoReps)
}

// sendICMPError sends an ICMP error quoting the IP header and the first 8
// bytes of the offending datagram (icmp_send). Errors are never sent about
// ICMP errors or fragments other than the first.
func (s *Stack) sendICMPError(h ipv4.IPv4, typ, code uint8, b *batch) {
	if h.FragOffset() != 0 {
		return
	}
	quote := min(len(h), h.IHL()+8)
	n := ipv4.ICMPHeaderSize + quote
	buf := b.raw(n)
	copy(buf[ipv4.ICMPHeaderSize:], h[:quote])
	ipv4.ICMP(buf).Encode(&ipv4.ICMPFields{Type: typ, Code: code})
	b.finish(h.Dst(), h.Src(), ipv4.ProtoICMP, n, false)
	s.m.Inc(metrics.IcmpOutMsgs)
	if typ == ipv4.ICMPDestUnreach {
		s.m.Inc(metrics.IcmpOutDestUnreachs)
	}
}
