package stack

import (
	"syscall"
	"testing"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// clientTimeWait establishes a connection with Dialer.Start from the
// capture stack, closes it first and lets the peer's FIN|ACK put it in
// TIME-WAIT; it returns the peer and the record's local port.
func clientTimeWait(t *testing.T, tweak func(*Options)) (*peer, uint16) {
	t.Helper()
	p, c, iss := establishActive(t, tweak, Dialer{})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	fin := parse(t, drain(p.end)[0])
	if fin.tcp.Flags() != header.FlagFIN|header.FlagACK {
		t.Fatalf("close sent %#x, want FIN|ACK", fin.tcp.Flags())
	}
	ack := p.sendOne(p.seg(header.FlagFIN|header.FlagACK, 5001, iss+2, tsOpts(20, fin.opts.TSVal), nil))
	if ack.tcp.Flags() != header.FlagACK {
		t.Fatalf("final ACK flags %#x", ack.tcp.Flags())
	}
	if n := countState(p.s.Sockets(), tcp.StateTimeWait); n != 1 {
		t.Fatalf("no TIME-WAIT record: %v", p.s.Sockets())
	}
	return p, p.lp
}

// TestStart_OnlyPortHeldByTimeWait (TW-REUSE-2/3/4/7, SCN-37..41): when the
// one ephemeral port's 4-tuple to the destination is held by a TIME-WAIT
// record that may not be reused (tcp_tw_reuse=0, or reuse=1 within 1 s of
// the record's last timestamp), a non-blocking connect fails at once with
// EADDRNOTAVAIL and sends nothing (no EINPROGRESS, no SYN).
func TestStart_OnlyPortHeldByTimeWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reuse int
	}{{"tw_reuse=0", 0}, {"tw_reuse=1 too early", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			p, port := clientTimeWait(t, func(o *Options) {
				o.IPLocalPortRange = [2]int{40000, 40000}
				o.TCPTwReuse = tc.reuse
			})
			if port != 40000 {
				t.Fatalf("local port %d, want 40000", port)
			}
			_, err := (&Dialer{Stack: p.s}).Start("tcp", "10.0.0.2:80")
			wantErrno(t, err, "dial", syscall.EADDRNOTAVAIL)
			if out := drain(p.end); len(out) != 0 {
				t.Errorf("failed connect sent %d packets", len(out))
			}
			if n := countState(p.s.Sockets(), tcp.StateTimeWait); n != 1 {
				t.Errorf("record disturbed: %v", p.s.Sockets())
			}
		})
	}
}

// TestStart_CloseInSynSentLateSynAck (CLOSE-8/9, SCN-30b/30c): close() in
// SYN-SENT (with or without SO_LINGER 0) sends nothing and unhashes the
// connection, so the peer's late SYN-ACK finds no socket and is answered
// with a RST whose sequence is the SYN-ACK's ACK (TW-RESP-2), not an ACK.
func TestStart_CloseInSynSentLateSynAck(t *testing.T) {
	for _, linger := range []int{-1, 0} {
		p, c, syn, _ := startActive(t, nil, Dialer{})
		if err := c.SetLinger(linger); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if out := drain(p.end); len(out) != 0 {
			t.Fatalf("linger %d: close in SYN-SENT sent %d packets", linger, len(out))
		}
		iss := syn.tcp.Seq()
		rst := p.sendOne(p.seg(header.FlagSYN|header.FlagACK, 5000, iss+1,
			&header.Options{HasMSS: true, MSS: 1460, HasTS: true, TSVal: 10, TSEcr: syn.opts.TSVal}, nil))
		if rst.tcp.Flags() != header.FlagRST || rst.tcp.Seq() != iss+1 {
			t.Errorf("linger %d: late SYN-ACK answered with flags %#x seq %d, want RST seq %d",
				linger, rst.tcp.Flags(), rst.tcp.Seq(), iss+1)
		}
	}
}
