package packetdrill

import (
	"io"
	"net/netip"
	"syscall"

	"github.com/ustack/ustack/integration/packetdrill/script"
	"github.com/ustack/ustack/integration/packetdrill/sockets"
)

// fakeHarness is a deliberately tiny, deterministic TCP for the runner's
// own tests: fixed ISNs, immediate ACKs, one retransmission timer, no
// congestion control. It lets the runner be tested without package stack.
type fakeHarness struct {
	now       int64
	sent      []Sent
	conns     []*fakeConn
	listeners map[uint16]*fakeListener
	sysctls   []Sysctl
	ipID      uint16
}

func newFakeHarness(cfg HarnessConfig) (Harness, error) {
	return &fakeHarness{listeners: map[uint16]*fakeListener{}, sysctls: cfg.Sysctls}, nil
}

func (h *fakeHarness) Net() sockets.Net                   { return h }
func (h *fakeHarness) Now() int64                         { return h.now }
func (h *fakeHarness) SetSysctl(name, value string) error { return nil }
func (h *fakeHarness) Close() error                       { return nil }
func (h *fakeHarness) Sent(dst []Sent) []Sent {
	dst = append(dst, h.sent...)
	h.sent = h.sent[:0]
	return dst
}

func (h *fakeHarness) NextTimer() (int64, bool) {
	var best int64
	ok := false
	for _, c := range h.conns {
		if c.rtoAt != 0 && (!ok || c.rtoAt < best) {
			best, ok = c.rtoAt, true
		}
	}
	return best, ok
}

func (h *fakeHarness) AdvanceTo(t int64) {
	for {
		dl, ok := h.NextTimer()
		if !ok || dl > t {
			break
		}
		h.now = dl
		for _, c := range h.conns {
			if c.rtoAt == dl {
				c.onRTO()
			}
		}
	}
	if t > h.now {
		h.now = t
	}
}

type fakeListener struct {
	h     *fakeHarness
	port  uint16
	queue []*fakeConn
}

type fakeConn struct {
	h                *fakeHarness
	local, remote    netip.AddrPort
	state            string
	iss, sndUna      uint32
	sndNxt           uint32
	rcvNxt           uint32
	peerMSS          int
	peerSACK, peerWS bool
	rcvd             int // readable bytes
	finRcvd          bool
	finSent          bool
	ln               *fakeListener
	rtoAt            int64
	rto              int64
}

func (h *fakeHarness) Listen(laddr netip.AddrPort, backlog int, opts *sockets.Options) (sockets.Listener, error) {
	if h.listeners[laddr.Port()] != nil {
		return nil, syscall.EADDRINUSE
	}
	l := &fakeListener{h: h, port: laddr.Port()}
	h.listeners[laddr.Port()] = l
	return l, nil
}

func (h *fakeHarness) Connect(laddr, raddr netip.AddrPort, opts *sockets.Options) (sockets.Conn, error) {
	c := &fakeConn{h: h, local: netip.AddrPortFrom(LocalAddr(), 40000), remote: raddr, state: "SYN_SENT", iss: 5000, peerMSS: 536, rto: 1_000_000}
	c.sndUna, c.sndNxt = c.iss, c.iss+1
	h.conns = append(h.conns, c)
	c.emit(c.iss, script.FlagSYN, 0, []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 8})
	return c, nil
}

func (l *fakeListener) Accept() (sockets.Conn, error) {
	if len(l.queue) == 0 {
		return nil, syscall.EAGAIN
	}
	c := l.queue[0]
	l.queue = l.queue[1:]
	return c, nil
}
func (l *fakeListener) Pending() bool                           { return len(l.queue) > 0 }
func (l *fakeListener) SetOption(int, int, sockets.Value) error { return nil }
func (l *fakeListener) Close() error                            { delete(l.h.listeners, l.port); return nil }
func (c *fakeConn) SetOption(int, int, sockets.Value) error     { return nil }
func (c *fakeConn) GetOption(int, int) (sockets.Value, error) {
	return sockets.Value{Int: int64(c.peerMSS)}, nil
}
func (c *fakeConn) LocalAddr() netip.AddrPort  { return c.local }
func (c *fakeConn) RemoteAddr() netip.AddrPort { return c.remote }
func (c *fakeConn) SoError() error             { return nil }
func (c *fakeConn) InQ() int                   { return c.rcvd }
func (c *fakeConn) Shutdown(how int) error     { return nil }

// TCPInfo reports a fixed cwnd and, in tcpi_unacked, the bytes in flight
// (so tests can tell when a block's values were read).
func (c *fakeConn) TCPInfo() (sockets.TCPInfo, error) {
	return sockets.TCPInfo{
		Fields:  map[string]int64{"tcpi_snd_cwnd": 10, "tcpi_unacked": int64(c.sndNxt - c.sndUna), "tcpi_snd_mss": int64(c.peerMSS)},
		Missing: map[string]string{"tcpi_lost": "lost_out"},
	}, nil
}

func (h *fakeHarness) lookup(local, remote netip.AddrPort) *fakeConn {
	for _, c := range h.conns {
		if c.local == local && c.remote == remote && c.state != "CLOSED" {
			return c
		}
	}
	return nil
}

func (c *fakeConn) Poll() (uint32, bool) {
	var ev uint32
	if c.rcvd > 0 || c.finRcvd {
		ev |= sockets.POLLIN
	}
	if c.state == "ESTABLISHED" || c.state == "CLOSE_WAIT" {
		ev |= sockets.POLLOUT
	}
	return ev, c.state != "SYN_SENT"
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if c.rcvd == 0 {
		if c.finRcvd {
			return 0, io.EOF
		}
		return 0, syscall.EAGAIN
	}
	n := min(len(p), c.rcvd)
	c.rcvd -= n
	return n, nil
}

func (c *fakeConn) Write(p []byte, flags sockets.WriteFlags) (int, error) {
	if c.finSent {
		return 0, syscall.EPIPE
	}
	for off := 0; off < len(p); {
		n := min(c.peerMSS, len(p)-off)
		fl := uint8(script.FlagACK)
		if off+n == len(p) {
			fl |= script.FlagPSH
		}
		c.emit(c.sndNxt, fl, n, nil)
		c.sndNxt += uint32(n)
		off += n
	}
	c.arm()
	return len(p), nil
}

func (c *fakeConn) Close() error {
	switch c.state {
	case "ESTABLISHED":
		c.state = "FIN_WAIT1"
	case "CLOSE_WAIT":
		c.state = "LAST_ACK"
	default:
		c.state = "CLOSED"
		return nil
	}
	c.emit(c.sndNxt, script.FlagFIN|script.FlagACK, 0, nil)
	c.sndNxt++
	c.finSent = true
	c.arm()
	return nil
}

func (c *fakeConn) arm() {
	if c.rtoAt == 0 && c.sndUna != c.sndNxt {
		c.rtoAt = c.h.now + c.rto
	}
}

// onRTO retransmits the first unacknowledged segment.
func (c *fakeConn) onRTO() {
	data := int(c.sndNxt - c.sndUna)
	if c.finSent {
		data--
	}
	n := min(data, c.peerMSS)
	fl := uint8(script.FlagACK)
	if n == data && c.finSent {
		fl |= script.FlagFIN
	}
	if n > 0 && n == data {
		fl |= script.FlagPSH
	}
	c.emit(c.sndUna, fl, n, nil)
	c.rto *= 2
	c.rtoAt = c.h.now + c.rto
}

func (c *fakeConn) emit(seq uint32, flags uint8, n int, opts []byte) {
	p := &wirePacket{
		Src: c.local.Addr(), Dst: c.remote.Addr(), SrcPort: c.local.Port(), DstPort: c.remote.Port(),
		Seq: seq, Flags: flags, Win: 1000, PayloadLen: n,
	}
	if flags&script.FlagACK != 0 {
		p.Ack = c.rcvNxt
	}
	c.h.ipID++
	c.h.sent = append(c.h.sent, Sent{At: c.h.now, Pkt: encodePacket(p, opts, c.h.ipID)})
}

func (h *fakeHarness) Deliver(pkt []byte) {
	p, err := decodePacket(pkt)
	if err != nil {
		panic(err)
	}
	local := netip.AddrPortFrom(p.Dst, p.DstPort)
	remote := netip.AddrPortFrom(p.Src, p.SrcPort)
	c := h.lookup(local, remote)
	if c == nil {
		l := h.listeners[p.DstPort]
		if l == nil || p.Flags != script.FlagSYN {
			if p.Flags&script.FlagRST == 0 {
				rst := &fakeConn{h: h, local: local, remote: remote}
				rst.emit(p.Ack, script.FlagRST, 0, nil)
			}
			return
		}
		c = &fakeConn{h: h, local: local, remote: remote, state: "SYN_RECV", iss: 1000, peerMSS: 536, ln: l, rto: 1_000_000}
		c.sndUna, c.sndNxt, c.rcvNxt = c.iss, c.iss+1, p.Seq+1
		opts := []byte{2, 4, 0x05, 0xb4}
		for _, o := range p.Options {
			switch o.Kind {
			case script.OptMSS:
				c.peerMSS = int(o.MSS)
			case script.OptSACKPerm:
				c.peerSACK = true
			case script.OptWScale:
				c.peerWS = true
			}
		}
		if c.peerSACK {
			opts = append(opts, 1, 1, 4, 2)
		}
		if c.peerWS {
			opts = append(opts, 1, 3, 3, 8)
		}
		h.conns = append(h.conns, c)
		c.emit(c.iss, script.FlagSYN|script.FlagACK, 0, opts)
		return
	}
	if p.Flags&script.FlagRST != 0 {
		c.state = "CLOSED"
		return
	}
	if c.state == "SYN_SENT" {
		if p.Flags&(script.FlagSYN|script.FlagACK) == script.FlagSYN|script.FlagACK && p.Ack == c.iss+1 {
			for _, o := range p.Options {
				if o.Kind == script.OptMSS {
					c.peerMSS = int(o.MSS)
				}
			}
			c.sndUna, c.rcvNxt, c.state = p.Ack, p.Seq+1, "ESTABLISHED"
			c.emit(c.sndNxt, script.FlagACK, 0, nil)
		}
		return
	}
	if p.Flags&script.FlagACK != 0 && int32(p.Ack-c.sndUna) > 0 && int32(p.Ack-c.sndNxt) <= 0 {
		c.sndUna = p.Ack
		c.rtoAt = 0
		c.rto = 1_000_000
		c.arm()
		switch {
		case c.state == "SYN_RECV":
			c.state = "ESTABLISHED"
			c.ln.queue = append(c.ln.queue, c)
		case c.state == "FIN_WAIT1" && c.sndUna == c.sndNxt:
			c.state = "FIN_WAIT2"
		case c.state == "LAST_ACK" && c.sndUna == c.sndNxt:
			c.state = "CLOSED"
			return
		}
	}
	ack := false
	if p.PayloadLen > 0 && p.Seq == c.rcvNxt {
		c.rcvNxt += uint32(p.PayloadLen)
		c.rcvd += p.PayloadLen
		ack = true
	}
	if p.Flags&script.FlagFIN != 0 && p.Seq+uint32(p.PayloadLen) == c.rcvNxt && !c.finRcvd {
		c.rcvNxt++
		c.finRcvd = true
		ack = true
		switch c.state {
		case "ESTABLISHED":
			c.state = "CLOSE_WAIT"
		case "FIN_WAIT2":
			c.state = "TIME_WAIT"
		}
	}
	if ack {
		c.emit(c.sndNxt, script.FlagACK, 0, nil)
	}
}
