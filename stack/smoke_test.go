package stack

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp"
)

// TestSyncLinkEcho: a handshake, data both ways and an orderly close over
// the synchronous link, then SCN-1: the active closer holds TIME-WAIT for
// 60 s on the virtual clock.
func TestSyncLinkEcho(t *testing.T) {
	l, clk := newLinkedStacks(t, nil, nil)
	ln, err := l.b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := l.a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := sc.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if _, err := sc.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	n, err = c.Read(buf)
	if err != nil || string(buf[:n]) != "world" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	// A closes first.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Read(buf); err != io.EOF {
		t.Fatalf("server read after FIN: %v", err)
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	socks := l.a.Sockets()
	if len(socks) != 1 || socks[0].State != tcp.StateTimeWait || !socks[0].TimeWait {
		t.Fatalf("A sockets: %v", socks)
	}
	if st := l.a.Sockstat(); st.TW != 1 {
		t.Fatalf("sockstat %v", st)
	}
	clk.Advance(59 * time.Second)
	if st := l.a.Sockstat(); st.TW != 1 {
		t.Fatalf("record gone early: %v", st)
	}
	clk.Advance(2 * time.Second)
	if st := l.a.Sockstat(); st.TW != 0 {
		t.Fatalf("record alive after 61 s: %v %v", st, l.a.Sockets())
	}
	if len(l.b.Sockets()) != 1 { // only the listener
		t.Fatalf("B sockets: %v", l.b.Sockets())
	}
	_ = net.ErrClosed
}
