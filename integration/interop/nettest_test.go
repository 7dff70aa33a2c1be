package interop

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/ustack/ustack/integration/harness"
)

// TestNetTestConn runs golang.org/x/net/nettest.TestConn, the net.Conn
// conformance suite, over the TUN with a kernel socket as the peer: once
// with ustack dialing a kernel listener and once with the kernel dialing a
// ustack listener.
func TestNetTestConn(t *testing.T) {
	harness.Skip(t)
	t.Run("ustack-client", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "nettest", Deadline: 120 * time.Second})
		kl := e.KernelListen(harness.HostAddrPort(7001))
		start := time.Now()
		pipes := 0
		nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
			pipes++
			acc := make(chan net.Conn, 1)
			go func() {
				c, err := kl.Accept()
				if err != nil {
					c = nil
				}
				acc <- c
			}()
			c1, err = e.Stack.DialContext(e.Ctx(), "tcp", harness.HostAddrPort(7001))
			if err != nil {
				return nil, nil, nil, err
			}
			c2 = <-acc
			return c1, c2, func() { c1.Close(); c2.Close() }, nil
		})
		harness.Summary(t, 0, time.Since(start), "pipes", pipes)
	})
	t.Run("ustack-server", func(t *testing.T) {
		e := harness.New(t, harness.Config{Tag: "nettest", Deadline: 120 * time.Second})
		ul := e.Listen(7002)
		start := time.Now()
		pipes := 0
		nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
			pipes++
			acc := make(chan net.Conn, 1)
			go func() {
				c, err := ul.Accept()
				if err != nil {
					c = nil
				}
				acc <- c
			}()
			kc, err := e.KernelDial(harness.StackAddrPort(7002), 0, 5*time.Second)
			if err != nil {
				return nil, nil, nil, err
			}
			c1 = <-acc
			return c1, kc, func() { c1.Close(); kc.Close() }, nil
		})
		harness.Summary(t, 0, time.Since(start), "pipes", pipes)
	})
}
