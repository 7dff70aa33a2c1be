package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The apps below run on a ustack listener and serve kernel-side clients.
// Each connection runs in its own goroutine (the application's, not the
// stack's); all of them stop when the listener is closed at teardown.

type closeWriter interface{ CloseWrite() error }

// CloseWrite half-closes c if it can.
func CloseWrite(c net.Conn) error {
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.New("connection cannot half-close")
}

// Result is what a discard server saw on one connection.
type Result struct {
	N    int64
	Sum  string
	Err  error
	Took time.Duration
}

// serve runs f on every connection accepted from l until teardown, which
// closes the listener and every connection still open, then waits for the
// goroutines.
func (e *Env) serve(l net.Listener, f func(c net.Conn)) {
	var wg sync.WaitGroup
	var mu sync.Mutex // guards open
	open := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					c.Close()
				}()
				f(c)
			}()
		}
	}()
	e.OnTeardown(func() {
		l.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// ServeEcho echoes every connection back until the client's FIN, then
// half-closes its side and closes.
func (e *Env) ServeEcho(l net.Listener) {
	e.serve(l, func(c net.Conn) {
		buf := make([]byte, 256<<10)
		if _, err := io.CopyBuffer(c, struct{ io.Reader }{c}, buf); err != nil {
			return
		}
		CloseWrite(c)
		// Wait (bounded) for the peer's close so our FIN is acked before
		// Close; Close alone would be fine too, this just keeps the close
		// path ordinary.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c)
	})
}

// ServeDiscard reads every connection to EOF and reports its length and
// SHA-256 on the returned channel (buffered; extra results are dropped).
func (e *Env) ServeDiscard(l net.Listener) <-chan Result {
	ch := make(chan Result, 16)
	e.serve(l, func(c net.Conn) {
		start := time.Now()
		h := NewHashWriter()
		_, err := io.CopyBuffer(h, struct{ io.Reader }{c}, make([]byte, 256<<10))
		select {
		case ch <- Result{N: h.N(), Sum: h.Sum(), Err: err, Took: time.Since(start)}:
		default:
		}
	})
	return ch
}

// ServeSource sends n bytes of NewPattern(seed, n) on every connection,
// then closes.
func (e *Env) ServeSource(l net.Listener, seed uint64, n int64) {
	e.serve(l, func(c net.Conn) {
		io.CopyBuffer(struct{ io.Writer }{c}, NewPattern(seed, n), make([]byte, 256<<10))
	})
}

// HTTPHandler serves "/" (a short page) and "/bytes/N" (N bytes of
// NewPattern(1, N), with a Content-Length).
func HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from ustack %s\n", r.URL.Path)
	})
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > 1<<30 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		io.CopyBuffer(w, NewPattern(1, n), make([]byte, 256<<10))
	})
	return mux
}

// ServeHTTP runs an http.Server with HTTPHandler on l until teardown.
func (e *Env) ServeHTTP(l net.Listener) *http.Server {
	srv := &http.Server{Handler: HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	e.OnTeardown(func() {
		srv.Close()
		<-done
	})
	return srv
}
