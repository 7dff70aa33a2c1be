package netns

import (
	"context"
	"net"
	"net/http"
	"time"
)

// DialContext opens a kernel socket inside the namespace. Code that dials
// from goroutines it does not control (net/http's Transport dials on a
// goroutine of its own) must use this instead of net.Dial inside Do:
// otherwise the socket is created on whatever thread that goroutine runs on,
// in the root namespace, and the traffic leaves through the host's routes.
func (n *NS) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Listen opens a kernel listening socket inside the namespace. Accepted
// connections belong to the listener's namespace whatever thread accepts.
func (n *NS) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// HTTPClient returns a kernel-side HTTP client whose connections are all
// made inside the namespace.
func (n *NS) HTTPClient(keepAlive bool, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:       n.DialContext,
		DisableKeepAlives: !keepAlive,
		Proxy:             nil,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}
