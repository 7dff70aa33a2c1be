package stack

import (
	"sync"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp"
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
		if bcast || s.o().ICMPEchoIgnoreAll != 0 {
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
	if !s.icmpLimit.allow(s.now()) {
		s.m.Inc(metrics.IcmpOutRateLimitGlobal)
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

// icmpLimiter is icmp_global_allow: a token bucket of icmp_msgs_per_sec
// (1000) with icmp_msgs_burst (50) applied to the ICMP errors of
// icmp_ratemask. Echo replies are not limited. The per-destination
// icmp_ratelimit of inetpeer is not modelled.
type icmpLimiter struct {
	mu     sync.Mutex // guards tokens and last
	tokens int
	last   tcp.Time
	init   bool
}

const (
	icmpMsgsPerSec = 1000
	icmpMsgsBurst  = 50
)

func (l *icmpLimiter) allow(now tcp.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.init {
		l.tokens, l.last, l.init = icmpMsgsBurst, now, true
	}
	if add := int((now - l.last) / tcp.Time(1e9/icmpMsgsPerSec)); add > 0 {
		l.tokens = min(l.tokens+add, icmpMsgsBurst)
		l.last = now
	}
	if l.tokens == 0 {
		return false
	}
	l.tokens--
	return true
}
