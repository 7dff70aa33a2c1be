package stack

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ustack/ustack/tcp/header"
)

// TestAPIErrors: every error of the socket API is a *net.OpError{Net:
// "tcp"} with the operation's name, wrapping a syscall errno (inside an
// *os.SyscallError, as package net does), os.ErrDeadlineExceeded,
// net.ErrClosed or the context's error, so errors.Is works as with Go's
// own sockets.
func TestAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   string
		want error
		run  func(t *testing.T) error
	}{
		{"dial refused", "dial", syscall.ECONNREFUSED, func(t *testing.T) error {
			l, _ := newLinkedStacks(t, nil, nil)
			_, err := l.a.Dial("tcp", "10.0.0.2:9")
			return err
		}},
		{"dial to port 0", "dial", syscall.ECONNREFUSED, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			_, err := s.Dial("tcp", "10.0.0.2:0")
			return err
		}},
		{"dial SYN retries exhausted", "dial", syscall.ETIMEDOUT, func(t *testing.T) error {
			s, _, clk := newCaptureStack(t, func(o *Options) { o.TCPSynRetries = 1 })
			c, err := (&Dialer{Stack: s}).Start("tcp", "10.0.0.2:80")
			if err != nil {
				return err
			}
			clk.Advance(3 * time.Second) // 1 s + 2 s
			if e := c.SoError(); e != syscall.ETIMEDOUT {
				t.Errorf("SO_ERROR %v", e)
			}
			// The blocking form reports the same errno.
			errc := make(chan error, 1)
			go func() { _, err := s.Dial("tcp", "10.0.0.2:81"); errc <- err }()
			for {
				if dl, ok := clk.NextDeadline(); ok {
					clk.AdvanceTo(dl)
				}
				select {
				case err := <-errc:
					return err
				default:
					runtimeGosched()
				}
			}
		}},
		{"dial context cancelled", "dial", context.Canceled, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := s.DialContext(ctx, "tcp", "10.0.0.2:80")
			return err
		}},
		{"dial from a foreign address", "dial", syscall.EADDRNOTAVAIL, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			_, err := (&Dialer{Stack: s, LocalAddr: &net.TCPAddr{IP: net.IPv4(10, 9, 9, 9)}}).Start("tcp", "10.0.0.2:80")
			return err
		}},
		{"dial on a closed stack", "dial", net.ErrClosed, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			s.Close()
			_, err := s.Dial("tcp", "10.0.0.2:80")
			return err
		}},
		{"listen on a port in use", "listen", syscall.EADDRINUSE, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			ln, err := s.Listen("tcp", ":80")
			if err != nil {
				return err
			}
			defer ln.Close()
			_, err = s.Listen("tcp", ":80")
			return err
		}},
		{"accept past the deadline", "accept", os.ErrDeadlineExceeded, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			ln, _ := s.ListenTCP("tcp", nil)
			defer ln.Close()
			ln.SetDeadline(time.Now().Add(-time.Second))
			_, err := ln.Accept()
			return err
		}},
		{"accept would block", "accept", syscall.EAGAIN, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			ln, _ := s.ListenTCP("tcp", nil)
			defer ln.Close()
			_, err := ln.TryAccept()
			return err
		}},
		{"accept on a closed listener", "accept", net.ErrClosed, func(t *testing.T) error {
			s, _, _ := newCaptureStack(t, nil)
			ln, _ := s.ListenTCP("tcp", nil)
			ln.Close()
			_, err := ln.Accept()
			return err
		}},
		{"read after reset", "read", syscall.ECONNRESET, func(t *testing.T) error {
			p, c, _ := establishActive(t, nil, Dialer{})
			p.sendNone(p.seg(header.FlagRST, 5001, 0, nil, nil))
			_, err := c.Read(make([]byte, 1))
			return err
		}},
		{"write after reset", "write", syscall.ECONNRESET, func(t *testing.T) error {
			p, c, _ := establishActive(t, nil, Dialer{})
			p.sendNone(p.seg(header.FlagRST, 5001, 0, nil, nil))
			_, err := c.Write([]byte("x"))
			return err
		}},
		{"write after shutdown", "write", syscall.EPIPE, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.CloseWrite()
			_, err := c.Write([]byte("x"))
			return err
		}},
		{"read past the deadline", "read", os.ErrDeadlineExceeded, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := c.Read(make([]byte, 1))
			return err
		}},
		{"read would block", "read", syscall.EAGAIN, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			_, err := c.TryRead(make([]byte, 1))
			return err
		}},
		{"read after Close", "read", net.ErrClosed, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.Close()
			_, err := c.Read(make([]byte, 1))
			return err
		}},
		{"write after Close", "write", net.ErrClosed, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.Close()
			_, err := c.TryWrite([]byte("x"))
			return err
		}},
		{"second Close", "close", net.ErrClosed, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.Close()
			return c.Close()
		}},
		{"shutdown after Close", "close", net.ErrClosed, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.Close()
			return c.CloseWrite()
		}},
		{"shutdown of a reset connection", "close", syscall.ENOTCONN, func(t *testing.T) error {
			p, c, _ := establishActive(t, nil, Dialer{})
			p.sendNone(p.seg(header.FlagRST, 5001, 0, nil, nil))
			return c.CloseWrite()
		}},
		{"setsockopt EINVAL", "set", syscall.EINVAL, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			return c.SetMaxSeg(1)
		}},
		{"setsockopt after Close", "set", net.ErrClosed, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.Close()
			return c.SetNoDelay(false)
		}},
		{"getsockopt after Close", "get", net.ErrClosed, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			c.Close()
			_, err := c.ReadBuffer()
			return err
		}},
		{"send flags unknown", "write", syscall.EINVAL, func(t *testing.T) error {
			_, c, _ := establishActive(t, nil, Dialer{})
			_, err := c.WriteFlags([]byte("x"), 0x4000)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != tc.op || oe.Net != "tcp" {
				t.Fatalf("error %#v is not a *net.OpError{Op: %q, Net: tcp}", err, tc.op)
			}
			var errno syscall.Errno
			if errors.As(err, &errno) {
				var se *os.SyscallError
				if !errors.As(err, &se) {
					t.Errorf("errno %v not wrapped in *os.SyscallError", errno)
				}
			}
			if errors.Is(tc.want, os.ErrDeadlineExceeded) && !oe.Timeout() {
				t.Errorf("deadline error is not a timeout")
			}
		})
	}
}
