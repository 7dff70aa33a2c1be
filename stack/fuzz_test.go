package stack

import (
	"testing"

	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp/header"
)

// FuzzDeliverPacket feeds arbitrary bytes to the IPv4 input path of a
// stack that has a listener, so IP validation, reassembly, ICMP, TCP
// demux, the listener and the engine all see hostile input. With fix set,
// the IP and TCP checksums are repaired first so the fuzzer gets past them.
// The property: nothing panics, and every reply is a well-formed packet.
func FuzzDeliverPacket(f *testing.F) {
	syn := seg{src: peerAddr, dst: addrA, sport: 4000, dport: 80, seq: 1, flags: header.FlagSYN, opts: synOpts(5)}.build()
	f.Add(syn, false)
	f.Add(seg{src: peerAddr, dst: addrA, sport: 4000, dport: 80, seq: 2, ack: 9, flags: header.FlagACK, payload: []byte("data")}.build(), false)
	f.Add(seg{src: peerAddr, dst: addrA, sport: 4000, dport: 81, seq: 2, flags: header.FlagRST}.build(), true)
	frag := fragment(seg{src: peerAddr, dst: addrA, sport: 1, dport: 80, flags: header.FlagSYN, payload: make([]byte, 40)}.build(), 16)
	for _, p := range frag {
		f.Add(p, false)
	}
	echo := make([]byte, ipv4.MinSize+ipv4.ICMPHeaderSize+4)
	ipv4.ICMP(echo[ipv4.MinSize:]).Encode(&ipv4.ICMPFields{Type: ipv4.ICMPEcho, ID: 1, Seq: 1})
	ipv4.IPv4(echo).Encode(&ipv4.Fields{TotalLength: uint16(len(echo)), TTL: 1, Protocol: ipv4.ProtoICMP,
		Src: peerAddr.As4(), Dst: addrA.As4()})
	f.Add(echo, false)
	f.Add([]byte{0x45}, false)
	f.Add([]byte{}, true)

	s, end, clk := newCaptureStack(f, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, pkt []byte, fix bool) {
		pkt = append([]byte(nil), pkt...)
		if fix && len(pkt) >= ipv4.MinSize {
			h := ipv4.IPv4(pkt)
			if ihl := h.IHL(); ihl >= ipv4.MinSize && ihl <= len(pkt) {
				h.SetChecksum(h.HeaderChecksum())
				if tot := int(h.TotalLength()); h.Protocol() == ipv4.ProtoTCP && tot <= len(pkt) && tot >= ihl+header.TCPMinSize {
					th := header.TCP(pkt[ihl:tot])
					th.SetChecksum(0)
					th.SetChecksum(header.TCPChecksum(h.Src(), h.Dst(), th))
				}
			}
		}
		s.DeliverPacket(pkt)
		for _, out := range drain(end) {
			if err := ipv4.IPv4(out).Validate(); err != nil {
				t.Fatalf("stack emitted a bad packet: %v", err)
			}
		}
		clk.Advance(200_000_000) // run retransmission timers now and then
		drain(end)
	})
}
