package stack

import (
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tcp/header"
)

// startActive opens a connection from the capture stack to 10.0.0.2:80
// with Dialer.Start and returns it in SYN-SENT with its SYN.
func startActive(t *testing.T, tweak func(*Options), d Dialer) (*peer, *TCPConn, parsed, *VirtualClock) {
	t.Helper()
	s, end, clk := newCaptureStack(t, tweak)
	d.Stack = s
	c, err := d.Start("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	out := drain(end)
	if len(out) != 1 {
		t.Fatalf("Start emitted %d packets, want the SYN", len(out))
	}
	syn := parse(t, out[0])
	if syn.tcp.Flags() != header.FlagSYN {
		t.Fatalf("flags %#x, want SYN", syn.tcp.Flags())
	}
	p := &peer{t: t, s: s, end: end, port: 80, lp: syn.tcp.SrcPort()}
	return p, c, syn, clk
}

// establishActive completes startActive's handshake: SYN-ACK in, ACK out.
// The peer's ISN is 5000 and it offers no window scaling.
func establishActive(t *testing.T, tweak func(*Options), d Dialer) (*peer, *TCPConn, uint32) {
	t.Helper()
	p, c, syn, _ := startActive(t, tweak, d)
	iss := syn.tcp.Seq()
	ack := p.sendOne(p.seg(header.FlagSYN|header.FlagACK, 5000, iss+1,
		&header.Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 10, TSEcr: syn.opts.TSVal}, nil))
	if ack.tcp.Flags() != header.FlagACK || ack.tcp.Ack() != 5001 {
		t.Fatalf("handshake ACK flags %#x ack %d", ack.tcp.Flags(), ack.tcp.Ack())
	}
	return p, c, iss
}

func wantErrno(t *testing.T, err error, op string, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Fatalf("%s: error %v, want %v", op, err, errno)
	}
	isOpError(t, err, op)
}

// TestStart_NonBlockingConnect: connect(2) on a non-blocking socket
// returns in SYN-SENT; nothing is ready until the SYN-ACK arrives, then
// the socket is writable with no pending error.
func TestStart_NonBlockingConnect(t *testing.T) {
	p, c, syn, _ := startActive(t, nil, Dialer{})
	if st := c.State(); st != tcp.StateSynSent {
		t.Fatalf("state %v, want SYN-SENT", st)
	}
	if ev := c.PollEvents(); ev != 0 {
		t.Errorf("poll in SYN-SENT = %#x, want 0", ev)
	}
	_, err := c.TryRead(make([]byte, 10))
	wantErrno(t, err, "read", syscall.EAGAIN)
	_, err = c.TryWrite([]byte("x"))
	wantErrno(t, err, "write", syscall.EAGAIN)

	iss := syn.tcp.Seq()
	p.sendOne(p.seg(header.FlagSYN|header.FlagACK, 5000, iss+1,
		&header.Options{HasMSS: true, MSS: 1460, HasTS: true, TSVal: 1, TSEcr: syn.opts.TSVal}, nil))
	if ev := c.PollEvents(); ev != PollOut {
		t.Errorf("poll after the handshake = %#x, want POLLOUT", ev)
	}
	if e := c.SoError(); e != 0 {
		t.Errorf("SO_ERROR = %v, want 0", e)
	}
	if n, err := c.TryWrite([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("TryWrite = %d, %v", n, err)
	}
	data := parse(t, drain(p.end)[0])
	if string(data.tcp.Payload()) != "hello" || data.tcp.Seq() != iss+1 {
		t.Errorf("data segment seq %d payload %q", data.tcp.Seq(), data.tcp.Payload())
	}
}

// TestStart_Refused: a RST answering the SYN fails the connect; the
// error shows in poll (POLLERR|POLLHUP plus the shut directions, as
// tcp_poll reports a socket after tcp_done) and once in SO_ERROR.
func TestStart_Refused(t *testing.T) {
	p, c, syn, _ := startActive(t, nil, Dialer{})
	p.sendNone(p.seg(header.FlagRST|header.FlagACK, 0, syn.tcp.Seq()+1, nil, nil))
	want := PollIn | PollOut | PollErr | PollHup | PollRdHup
	if ev := c.PollEvents(); ev != want {
		t.Errorf("poll = %#x, want %#x", ev, want)
	}
	if e := c.SoError(); e != syscall.ECONNREFUSED {
		t.Errorf("SO_ERROR = %v, want ECONNREFUSED", e)
	}
	if e := c.SoError(); e != 0 {
		t.Errorf("second SO_ERROR = %v, want 0 (read and clear)", e)
	}
	if ev := c.PollEvents(); ev&PollErr != 0 {
		t.Errorf("POLLERR still set after SO_ERROR: %#x", ev)
	}
	if _, err := c.TryRead(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after the error was taken: %v, want EOF", err)
	}
	_, err := c.TryWrite([]byte("x"))
	wantErrno(t, err, "write", syscall.EPIPE)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.PollEvents() != PollNval {
		t.Errorf("poll after Close is not POLLNVAL")
	}
	if out := drain(p.end); len(out) != 0 {
		t.Errorf("close of a failed connect sent %d packets", len(out))
	}
	if n := len(p.s.Sockets()); n != 0 {
		t.Errorf("sockets left: %v", p.s.Sockets())
	}
}

// TestStart_CloseInSynSent (CLOSE-8): closing a connect in progress sends
// nothing and frees the 4-tuple and port.
func TestStart_CloseInSynSent(t *testing.T) {
	p, c, _, _ := startActive(t, nil, Dialer{})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if out := drain(p.end); len(out) != 0 {
		t.Errorf("close in SYN-SENT sent %d packets", len(out))
	}
	if n := len(p.s.Sockets()); n != 0 {
		t.Errorf("sockets left: %v", p.s.Sockets())
	}
}

// TestStart_MaxSegShapesSYN: TCP_MAXSEG set before connect lowers the
// SYN's MSS option; out-of-range values are EINVAL like setsockopt.
func TestStart_MaxSegShapesSYN(t *testing.T) {
	_, _, syn, _ := startActive(t, nil, Dialer{MaxSeg: 1000})
	if !syn.opts.HasMSS || syn.opts.MSS != 1000 {
		t.Errorf("SYN MSS %v %d, want 1000", syn.opts.HasMSS, syn.opts.MSS)
	}
	s, _, _ := newCaptureStack(t, nil)
	_, err := (&Dialer{Stack: s, MaxSeg: 87}).Start("tcp", "10.0.0.2:80")
	wantErrno(t, err, "dial", syscall.EINVAL)
}

// TestReset_ErrorReadAndClear: after a RST in ESTABLISHED the socket polls
// IN|OUT|ERR|HUP|RDHUP; the first read reports ECONNRESET and clears it
// (sock_error), later reads see EOF and writes EPIPE.
func TestReset_ErrorReadAndClear(t *testing.T) {
	p, c, iss := establishActive(t, nil, Dialer{})
	p.sendNone(p.seg(header.FlagRST, 5001, 0, nil, nil))
	want := PollIn | PollOut | PollErr | PollHup | PollRdHup
	if ev := c.PollEvents(); ev != want {
		t.Errorf("poll after RST = %#x, want %#x", ev, want)
	}
	_, err := c.Read(make([]byte, 1))
	wantErrno(t, err, "read", syscall.ECONNRESET)
	if ev := c.PollEvents(); ev != want&^PollErr {
		t.Errorf("poll after the error was read = %#x, want %#x", ev, want&^PollErr)
	}
	if e := c.SoError(); e != 0 {
		t.Errorf("SO_ERROR after read = %v, want 0", e)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("second read: %v, want EOF", err)
	}
	_, err = c.Write([]byte("x"))
	wantErrno(t, err, "write", syscall.EPIPE)
	_ = iss
}

// TestReset_WriteTakesError: a write is the first to see the reset.
func TestReset_WriteTakesError(t *testing.T) {
	p, c, _ := establishActive(t, nil, Dialer{})
	p.sendNone(p.seg(header.FlagRST, 5001, 0, nil, nil))
	_, err := c.TryWrite([]byte("x"))
	wantErrno(t, err, "write", syscall.ECONNRESET)
	_, err = c.TryWrite([]byte("x"))
	wantErrno(t, err, "write", syscall.EPIPE)
}

// TestTryReadWrite: reads without data are EAGAIN and POLLIN follows the
// data; a write into a full send buffer is short, then EAGAIN, and POLLOUT
// clears.
func TestTryReadWrite(t *testing.T) {
	p, c, iss := establishActive(t, nil, Dialer{})
	_, err := c.TryRead(make([]byte, 10))
	wantErrno(t, err, "read", syscall.EAGAIN)
	p.send(p.seg(header.FlagACK|header.FlagPSH, 5001, iss+1, nil, []byte("ping")))
	if ev := c.PollEvents(); ev != PollIn|PollOut {
		t.Errorf("poll with data = %#x, want IN|OUT", ev)
	}
	buf := make([]byte, 10)
	if n, err := c.TryRead(buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("TryRead = %q, %v", buf[:n], err)
	}
	// The peer never acknowledges: the send buffer fills.
	big := make([]byte, 16<<20)
	n, err := c.TryWrite(big)
	if err != nil || n <= 0 || n >= len(big) {
		t.Fatalf("TryWrite into a filling buffer = %d, %v; want a short write", n, err)
	}
	_, err = c.TryWrite(big)
	wantErrno(t, err, "write", syscall.EAGAIN)
	if ev := c.PollEvents(); ev&PollOut != 0 {
		t.Errorf("POLLOUT with a full send buffer: %#x", ev)
	}
	drain(p.end)
}

// TestShutdownPoll: shutdown(SHUT_WR) makes the socket writable for poll
// (the write fails at once); the peer's FIN adds POLLIN|POLLRDHUP, and
// both directions shut add POLLHUP.
func TestShutdownPoll(t *testing.T) {
	p, c, iss := establishActive(t, nil, Dialer{})
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if ev := c.PollEvents(); ev != PollOut {
		t.Errorf("poll after SHUT_WR = %#x, want POLLOUT", ev)
	}
	drain(p.end)
	p.send(p.seg(header.FlagACK|header.FlagFIN, 5001, iss+2, nil, nil))
	if ev, want := c.PollEvents(), PollIn|PollOut|PollRdHup|PollHup; ev != want {
		t.Errorf("poll after the peer's FIN = %#x, want %#x", ev, want)
	}
}

// TestShutdownReadPoll: shutdown(SHUT_RD) alone gives POLLIN|POLLRDHUP.
func TestShutdownReadPoll(t *testing.T) {
	_, c, _ := establishActive(t, nil, Dialer{})
	if err := c.CloseRead(); err != nil {
		t.Fatal(err)
	}
	if ev, want := c.PollEvents(), PollIn|PollOut|PollRdHup; ev != want {
		t.Errorf("poll after SHUT_RD = %#x, want %#x", ev, want)
	}
}

// TestTryAccept: EAGAIN on an empty accept queue, POLLIN on the listener
// once a child is established.
func TestTryAccept(t *testing.T) {
	l, _ := newLinkedStacks(t, nil, nil)
	ln, err := l.b.ListenTCP("tcp", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = ln.TryAccept()
	wantErrno(t, err, "accept", syscall.EAGAIN)
	if ev := ln.PollEvents(); ev != 0 {
		t.Errorf("listener poll = %#x, want 0", ev)
	}
	// ln listens on INADDR_ANY: dial B's address.
	c, err := l.a.Dial("tcp", net.JoinHostPort("10.0.0.2", portOf(ln.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ev := ln.PollEvents(); ev != PollIn {
		t.Errorf("listener poll with a queued child = %#x, want POLLIN", ev)
	}
	s, err := ln.TryAccept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ln.Close()
	if ev := ln.PollEvents(); ev != PollNval {
		t.Errorf("poll of a closed listener = %#x", ev)
	}
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// TestWriteFlags_More: MSG_MORE holds a partial segment until a write
// without it; MSG_EOR and unknown flags are refused.
func TestWriteFlags_More(t *testing.T) {
	p, c, iss := establishActive(t, nil, Dialer{})
	if n, err := c.WriteFlags([]byte("abc"), MsgMore|MsgDontWait); n != 3 || err != nil {
		t.Fatalf("WriteFlags(MSG_MORE) = %d, %v", n, err)
	}
	if out := drain(p.end); len(out) != 0 {
		t.Fatalf("MSG_MORE data went out at once (%d packets)", len(out))
	}
	if n, err := c.WriteFlags([]byte("def"), 0); n != 3 || err != nil {
		t.Fatalf("WriteFlags(0) = %d, %v", n, err)
	}
	out := drain(p.end)
	if len(out) != 1 {
		t.Fatalf("%d segments, want 1", len(out))
	}
	d := parse(t, out[0])
	if string(d.tcp.Payload()) != "abcdef" || d.tcp.Seq() != iss+1 || d.tcp.Flags()&header.FlagPSH == 0 {
		t.Errorf("segment seq %d flags %#x payload %q, want abcdef with PSH", d.tcp.Seq(), d.tcp.Flags(), d.tcp.Payload())
	}
	_, err := c.WriteFlags([]byte("x"), 0x1)
	wantErrno(t, err, "write", syscall.EINVAL)
}

// TestWriteFlags_EOR: data written with MSG_EOR never shares a segment
// with later data. Nagle holds "b" (the last, partial segment); the next
// write cannot join it, so "b" is no longer last and goes out
// (tcp_write_xmit applies Nagle to the last skb only), while "c" waits.
// Without MSG_EOR, "bc" is one held segment until the ACK.
func TestWriteFlags_EOR(t *testing.T) {
	for _, tc := range []struct {
		flags          int
		atWrite, atACK string // payload sent by Write("c") / by the ACK of "a"
	}{
		{MsgEOR | MsgDontWait, "b", ""},
		{MsgDontWait, "", "bc"},
	} {
		p, c, iss := establishActive(t, nil, Dialer{})
		c.SetNoDelay(false)
		c.Write([]byte("a"))
		if out := drain(p.end); len(out) != 1 {
			t.Fatalf("%d segments for the first write", len(out))
		}
		if n, err := c.WriteFlags([]byte("b"), tc.flags); n != 1 || err != nil {
			t.Fatalf("WriteFlags(%#x) = %d, %v", tc.flags, n, err)
		}
		if out := drain(p.end); len(out) != 0 {
			t.Fatalf("flags %#x: Nagle let \"b\" out at once", tc.flags)
		}
		c.Write([]byte("c"))
		var got []parsed
		for _, pkt := range drain(p.end) {
			got = append(got, parse(t, pkt))
		}
		if payloads(got) != tc.atWrite {
			t.Errorf("flags %#x: Write(\"c\") sent %q, want %q", tc.flags, payloads(got), tc.atWrite)
		}
		got = p.send(p.seg(header.FlagACK, 5001, iss+2, nil, nil))
		if payloads(got) != tc.atACK {
			t.Errorf("flags %#x: the ACK of \"a\" released %q, want %q", tc.flags, payloads(got), tc.atACK)
		}
	}
}

// payloads joins the payloads of segments with "|" between them.
func payloads(ps []parsed) string {
	var s string
	for i, p := range ps {
		if i > 0 {
			s += "|"
		}
		s += string(p.tcp.Payload())
	}
	return s
}

// TestLinger_StackClock (CLOSE-13): the SO_LINGER wait of Close runs on
// the stack's clock: with the FIN never acknowledged, Close returns when
// the virtual clock passes the linger time, not before, and never sleeps.
func TestLinger_StackClock(t *testing.T) {
	p, c, _ := establishActive(t, nil, Dialer{})
	clk := p.s.Clock().(*VirtualClock)
	if err := c.SetLinger(5); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	for !c.Lingering() {
		select {
		case err := <-done:
			t.Fatalf("Close returned before lingering: %v", err)
		default:
		}
		// The closing goroutine has not filed its wait yet.
		runtimeGosched()
	}
	dl, ok := clk.NextDeadline()
	if !ok || dl > clk.Now()+tcp.Time(5*time.Second) {
		t.Errorf("NextDeadline = %v %v, want at most the linger end", dl, ok)
	}
	clk.Advance(4900 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Close returned after 4.9 s of a 5 s linger: %v", err)
	default:
	}
	if !c.Lingering() {
		t.Errorf("Lingering false before the linger time passed")
	}
	clk.Advance(100 * time.Millisecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.Lingering() {
		t.Errorf("Lingering true after Close returned")
	}
	drain(p.end)
}

// TestLinger_StartClose: the non-blocking form reports the wait through
// Lingering, which ends when the FIN is acknowledged.
func TestLinger_StartClose(t *testing.T) {
	p, c, iss := establishActive(t, nil, Dialer{})
	c.SetLinger(10)
	if err := c.StartClose(); err != nil {
		t.Fatal(err)
	}
	fin := parse(t, drain(p.end)[0])
	if fin.tcp.Flags() != header.FlagFIN|header.FlagACK {
		t.Fatalf("flags %#x, want FIN", fin.tcp.Flags())
	}
	if !c.Lingering() {
		t.Fatal("not lingering with the FIN unacknowledged")
	}
	p.send(p.seg(header.FlagACK, 5001, iss+2, nil, nil))
	if c.Lingering() {
		t.Error("still lingering after the FIN was acknowledged")
	}
}

func runtimeGosched() { runtime.Gosched() }
