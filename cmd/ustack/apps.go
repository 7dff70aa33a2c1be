package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// app serves one accepted connection or a whole listener.
type app interface {
	serve(l net.Listener) error
}

func newApp(name string) (app, error) {
	switch name {
	case "echo":
		return connApp(func(c net.Conn) { io.Copy(c, c) }), nil
	case "discard":
		return connApp(func(c net.Conn) { io.Copy(io.Discard, c) }), nil
	case "http":
		return httpApp{}, nil
	}
	return nil, fmt.Errorf("unknown app %q (want echo, discard or http)", name)
}

// connApp runs a function per connection and closes it afterwards; for echo
// the close comes after the peer's FIN has been read, so the peer closes first.
type connApp func(net.Conn)

func (f connApp) serve(l net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			f(c)
		}()
	}
}

type httpApp struct{}

// HTTPHandler answers GET / with a short page and GET /bytes/N with N bytes.
// net/http closes the connection itself after answering a request that says
// "Connection: close", so the stack, not the client, enters TIME-WAIT.
func HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body><h1>ustack</h1><p>Served by a userspace TCP/IP stack to %s.</p></body></html>\n", r.RemoteAddr)
	})
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			http.Error(w, "bad byte count", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = byte('a' + i%26)
		}
		for n > 0 {
			k := int64(len(buf))
			if n < k {
				k = n
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	return mux
}

func (httpApp) serve(l net.Listener) error {
	srv := &http.Server{Handler: HTTPHandler()}
	err := srv.Serve(l)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// parseListen parses PORT=APP.
func parseListen(s string) (uint16, string, error) {
	p, a, ok := strings.Cut(s, "=")
	if !ok {
		return 0, "", fmt.Errorf("-listen %q: want PORT=APP", s)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return 0, "", fmt.Errorf("-listen %q: bad port", s)
	}
	if _, err := newApp(a); err != nil {
		return 0, "", err
	}
	return uint16(port), a, nil
}
