package stack_test

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/ustack/ustack/stack"
	"github.com/ustack/ustack/tun"
)

// Two stacks joined by an in-memory link: one listens, the other dials.
func Example() {
	ea, eb := tun.Pipe(1500)
	newStack := func(dev tun.Device, addr string) *stack.Stack {
		o := stack.DefaultOptions()
		o.Addrs = []netip.Addr{netip.MustParseAddr(addr)}
		if err := o.Set("net.ipv4.tcp_tw_reuse", "1"); err != nil {
			panic(err)
		}
		s, err := stack.New(dev, o)
		if err != nil {
			panic(err)
		}
		return s
	}
	client, server := newStack(ea, "10.0.0.1"), newStack(eb, "10.0.0.2")
	defer client.Close()
	defer server.Close()

	ln, _ := server.Listen("tcp", ":7")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo until the client closes
		c.Close()
	}()
	c, err := client.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		panic(err)
	}
	c.Write([]byte("hello"))
	buf := make([]byte, 5)
	io.ReadFull(c, buf)
	c.Close()
	fmt.Println(string(buf))
	// Output: hello
}
