package stack

import (
	"net"
	"testing"

	"github.com/ustack/ustack/tcp/header"
)

// TestListenerOptionsShapeSYNACK: options set on a TCPListener reach the
// child before its SYN-ACK, as a Linux child is cloned from the listener:
// TCP_MAXSEG lowers the MSS option, SO_RCVBUF the advertised window and
// window scale; a listener without options answers like the defaults.
func TestListenerOptionsShapeSYNACK(t *testing.T) {
	synack := func(t *testing.T, set func(*TCPListener)) parsed {
		t.Helper()
		s, end, _ := newCaptureStack(t, nil)
		ln, err := s.ListenTCP("tcp", &net.TCPAddr{Port: 80})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		if set != nil {
			set(ln)
		}
		p := &peer{t: t, s: s, end: end, port: 40000, lp: 80}
		sa := p.sendOne(p.seg(header.FlagSYN, 1000, 0, synOpts(100), nil))
		if sa.tcp.Flags() != header.FlagSYN|header.FlagACK {
			t.Fatalf("flags %#x, want SYN-ACK", sa.tcp.Flags())
		}
		return sa
	}
	def := synack(t, nil)
	if def.opts.MSS != 1460 {
		t.Errorf("default SYN-ACK MSS %d, want 1460", def.opts.MSS)
	}
	mss := synack(t, func(l *TCPListener) {
		if err := l.SetMaxSeg(1100); err != nil {
			t.Fatal(err)
		}
	})
	if mss.opts.MSS != 1100 {
		t.Errorf("SYN-ACK MSS %d with TCP_MAXSEG 1100 on the listener, want 1100", mss.opts.MSS)
	}
	buf := synack(t, func(l *TCPListener) {
		if err := l.SetReadBuffer(4096); err != nil {
			t.Fatal(err)
		}
	})
	if buf.tcp.Window() >= def.tcp.Window() && buf.opts.WScale >= def.opts.WScale {
		t.Errorf("SYN-ACK window %d wscale %d with SO_RCVBUF 4096, default %d/%d: not smaller",
			buf.tcp.Window(), buf.opts.WScale, def.tcp.Window(), def.opts.WScale)
	}
}
