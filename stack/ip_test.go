package stack

import (
	"encoding/binary"
	"testing"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp/header"
)

// rstProbe is a SYN to a closed port: if it reaches TCP, the stack answers
// with a RST, so "dropped" is observable as silence.
func rstProbe() []byte {
	return seg{src: peerAddr, dst: addrA, sport: 999, dport: 7, seq: 1, flags: header.FlagSYN}.build()
}

func fixIPChecksum(p []byte) {
	h := ipv4.IPv4(p)
	h.SetChecksum(h.HeaderChecksum())
}

// TestIPInput_DropsAndCounts checks ip_rcv_core's validation: every bad
// packet is dropped silently and counted in the right MIB.
func TestIPInput_DropsAndCounts(t *testing.T) {
	tests := []struct {
		name    string
		mangle  func(p []byte) []byte
		counter metrics.ID
	}{
		{"short", func(p []byte) []byte { return p[:19] }, metrics.IpInHdrErrors},
		{"empty", func(p []byte) []byte { return p[:0] }, metrics.IpInHdrErrors},
		{"version6", func(p []byte) []byte { p[0] = 0x65; fixIPChecksum(p); return p }, metrics.IpInHdrErrors},
		{"ihl4", func(p []byte) []byte { p[0] = 0x44; fixIPChecksum(p); return p }, metrics.IpInHdrErrors},
		{"ihl_past_end", func(p []byte) []byte { p[0] = 0x4f; return p[:40] }, metrics.IpInHdrErrors},
		{"bad_checksum", func(p []byte) []byte { p[10] ^= 0xff; return p }, metrics.IpExtInCsumErrors},
		{"truncated", func(p []byte) []byte { return p[:len(p)-4] }, metrics.IpExtInTruncatedPkts},
		{"totlen_below_ihl", func(p []byte) []byte { binary.BigEndian.PutUint16(p[2:], 16); fixIPChecksum(p); return p }, metrics.IpInHdrErrors},
		{"not_ours", func(p []byte) []byte { p[19] = 99; fixIPChecksum(p); return p }, metrics.IpInAddrErrors},
		{"unknown_proto", func(p []byte) []byte { p[9] = 99; fixIPChecksum(p); return p }, metrics.IpInUnknownProtos},
		{"bad_tcp_checksum", func(p []byte) []byte { p[ipv4.MinSize+16] ^= 0xff; return p }, metrics.TcpInCsumErrors},
		{"tcp_doff_small", func(p []byte) []byte {
			p[ipv4.MinSize+12] = 4 << 4
			return p
		}, metrics.TcpInErrs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, end, _ := newCaptureStack(t, nil)
			s.DeliverPacket(tt.mangle(rstProbe()))
			out := drain(end)
			if tt.counter == metrics.IpInUnknownProtos {
				// icmp_send(PROT_UNREACH) is the only reply.
				if len(out) != 1 || ipv4.IPv4(out[0]).Protocol() != ipv4.ProtoICMP {
					t.Fatalf("want one ICMP protocol unreachable, got %d packets", len(out))
				}
			} else if len(out) != 0 {
				t.Fatalf("bad packet answered with %d packets", len(out))
			}
			if got := s.Counters().Get(tt.counter); got != 1 {
				t.Errorf("%v = %d, want 1", tt.counter, got)
			}
			if got := s.Counters().Get(metrics.IpInReceives); got != 1 {
				t.Errorf("InReceives = %d, want 1", got)
			}
		})
	}
}

// TestIPInput_TTLZeroDelivered: ip_rcv_core does not look at the TTL; a
// locally addressed datagram with TTL 0 is delivered.
func TestIPInput_TTLZeroDelivered(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	p := rstProbe()
	p[8] = 0
	fixIPChecksum(p)
	s.DeliverPacket(p)
	if out := drain(end); len(out) != 1 {
		t.Fatalf("TTL 0 datagram not delivered (%d replies)", len(out))
	}
	if got := s.Counters().Get(metrics.IpInDelivers); got != 1 {
		t.Errorf("InDelivers = %d", got)
	}
}

// fragment splits the IP packet p into fragments carrying at most size
// payload bytes each (size a multiple of 8).
func fragment(p []byte, size int) [][]byte {
	h := ipv4.IPv4(p)
	payload := h.Payload()
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		f := make([]byte, ipv4.MinSize+end-off)
		copy(f, p[:ipv4.MinSize])
		copy(f[ipv4.MinSize:], payload[off:end])
		flags := uint16(off / 8)
		if end < len(payload) {
			flags |= 0x2000
		}
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		binary.BigEndian.PutUint16(f[4:], 0x1234)
		binary.BigEndian.PutUint16(f[6:], flags)
		fixIPChecksum(f)
		out = append(out, f)
	}
	return out
}

// TestIPFrag_Reassembly: fragments in any order are reassembled
// (ReasmReqds per fragment, ReasmOKs once) and the datagram delivered.
func TestIPFrag_Reassembly(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	sg := seg{src: peerAddr, dst: addrA, sport: 999, dport: 7, seq: 1, flags: header.FlagSYN | header.FlagFIN,
		payload: make([]byte, 100)}
	// SYN+FIN+payload to a closed port still gets a RST: delivery is visible.
	frags := fragment(sg.build(), 48)
	if len(frags) != 3 {
		t.Fatalf("%d fragments", len(frags))
	}
	for _, i := range []int{2, 0, 1} {
		s.DeliverPacket(frags[i])
	}
	if out := drain(end); len(out) != 1 {
		t.Fatalf("reassembled datagram not delivered (%d replies)", len(out))
	}
	m := s.Counters()
	if m.Get(metrics.IpReasmReqds) != 3 || m.Get(metrics.IpReasmOKs) != 1 || m.Get(metrics.IpReasmFails) != 0 {
		t.Errorf("Reqds %d OKs %d Fails %d", m.Get(metrics.IpReasmReqds), m.Get(metrics.IpReasmOKs), m.Get(metrics.IpReasmFails))
	}
}

// TestIPFrag_TimeoutAndOverlap: an incomplete datagram expires after
// ipfrag_time (ReasmFails, ReasmTimeout); overlapping fragments discard
// the datagram (ReasmFails).
func TestIPFrag_TimeoutAndOverlap(t *testing.T) {
	s, end, clk := newCaptureStack(t, nil)
	sg := seg{src: peerAddr, dst: addrA, sport: 999, dport: 7, seq: 1, flags: header.FlagSYN, payload: make([]byte, 100)}
	frags := fragment(sg.build(), 48)
	s.DeliverPacket(frags[0])
	clk.Advance(s.o().IPFragTime + 1)
	m := s.Counters()
	if m.Get(metrics.IpReasmFails) != 1 || m.Get(metrics.IpReasmTimeout) != 1 {
		t.Errorf("after timeout: Fails %d Timeout %d", m.Get(metrics.IpReasmFails), m.Get(metrics.IpReasmTimeout))
	}
	// Overlap: the same first fragment twice is a duplicate (kept), a
	// fragment at offset 8 overlaps it.
	s.DeliverPacket(frags[0])
	s.DeliverPacket(frags[0])
	over := append([]byte(nil), frags[1]...)
	binary.BigEndian.PutUint16(over[6:], 0x2000|1)
	fixIPChecksum(over)
	s.DeliverPacket(over)
	s.DeliverPacket(frags[1])
	s.DeliverPacket(frags[2])
	if out := drain(end); len(out) != 0 {
		t.Fatalf("overlapping datagram delivered")
	}
	if m.Get(metrics.IpReasmFails) != 2 {
		t.Errorf("ReasmFails = %d, want 2", m.Get(metrics.IpReasmFails))
	}
}

// TestICMPEcho: ping works; the reply mirrors id, seq and data, has no DF.
func TestICMPEcho(t *testing.T) {
	s, end, _ := newCaptureStack(t, nil)
	data := []byte("ping payload")
	pkt := make([]byte, ipv4.MinSize+ipv4.ICMPHeaderSize+len(data))
	copy(pkt[ipv4.MinSize+ipv4.ICMPHeaderSize:], data)
	ipv4.ICMP(pkt[ipv4.MinSize:]).Encode(&ipv4.ICMPFields{Type: ipv4.ICMPEcho, ID: 77, Seq: 3})
	ipv4.IPv4(pkt).Encode(&ipv4.Fields{TotalLength: uint16(len(pkt)), TTL: 64, Protocol: ipv4.ProtoICMP,
		Src: peerAddr.As4(), Dst: addrA.As4(), TOS: 0x10})
	s.DeliverPacket(pkt)
	out := drain(end)
	if len(out) != 1 {
		t.Fatalf("%d replies", len(out))
	}
	h := ipv4.IPv4(out[0])
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	m := ipv4.ICMP(h.Payload())
	if !m.Valid() || m.Type() != ipv4.ICMPEchoReply || m.ID() != 77 || m.Seq() != 3 || string(m.Payload()) != string(data) {
		t.Fatalf("bad reply: type %d id %d seq %d", m.Type(), m.ID(), m.Seq())
	}
	if h.Src() != addrA.As4() || h.Dst() != peerAddr.As4() || h.DontFragment() || h.TOS() != 0x10 {
		t.Errorf("reply header: src %v dst %v DF %v tos %#x", h.Src(), h.Dst(), h.DontFragment(), h.TOS())
	}
	c := s.Counters()
	if c.Get(metrics.IcmpInEchos) != 1 || c.Get(metrics.IcmpOutEchoReps) != 1 {
		t.Errorf("InEchos %d OutEchoReps %d", c.Get(metrics.IcmpInEchos), c.Get(metrics.IcmpOutEchoReps))
	}
	// A corrupted request is counted and ignored.
	pkt[ipv4.MinSize+9] ^= 1
	s.DeliverPacket(pkt)
	if len(drain(end)) != 0 || c.Get(metrics.IcmpInCsumErrors) != 1 {
		t.Errorf("bad ICMP checksum not dropped/counted")
	}
}
