package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Pattern is a deterministic pseudo-random byte stream of a given length:
// both ends of a transfer can produce or check it without storing it, and
// any reordering, loss or duplication changes its SHA-256.
type Pattern struct {
	rng  *rand.ChaCha8
	left int64
}

// NewPattern returns the n-byte stream for seed.
func NewPattern(seed uint64, n int64) *Pattern {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &Pattern{rng: rand.NewChaCha8(s), left: n}
}

// Read implements io.Reader.
func (p *Pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	p.rng.Read(b)
	p.left -= int64(len(b))
	return len(b), nil
}

var sums struct {
	mu sync.Mutex // guards m
	m  map[[2]uint64]string
}

// PatternSum is the hex SHA-256 of NewPattern(seed, n), cached.
func PatternSum(seed uint64, n int64) string {
	k := [2]uint64{seed, uint64(n)}
	sums.mu.Lock()
	s, ok := sums.m[k]
	sums.mu.Unlock()
	if ok {
		return s
	}
	h := NewHashWriter()
	io.CopyBuffer(h, NewPattern(seed, n), make([]byte, 256<<10))
	s = h.Sum()
	sums.mu.Lock()
	if sums.m == nil {
		sums.m = map[[2]uint64]string{}
	}
	sums.m[k] = s
	sums.mu.Unlock()
	return s
}

// HashWriter counts and hashes what is written to it.
type HashWriter struct {
	mu sync.Mutex // guards h and n
	h  hash.Hash
	n  int64
}

// NewHashWriter returns an empty HashWriter.
func NewHashWriter() *HashWriter { return &HashWriter{h: sha256.New()} }

// Write implements io.Writer.
func (w *HashWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.h.Write(p)
	w.n += int64(len(p))
	w.mu.Unlock()
	return len(p), nil
}

// N is the number of bytes written.
func (w *HashWriter) N() int64 { w.mu.Lock(); defer w.mu.Unlock(); return w.n }

// Sum is the hex SHA-256 of everything written.
func (w *HashWriter) Sum() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return hex.EncodeToString(w.h.Sum(nil))
}

// Progress counts bytes flowing through a reader or writer, so a deadline
// report can say how far a transfer got.
type Progress struct {
	mu sync.Mutex // guards n
	n  int64
}

func (p *Progress) add(n int) { p.mu.Lock(); p.n += int64(n); p.mu.Unlock() }

// N returns the count.
func (p *Progress) N() int64 { p.mu.Lock(); defer p.mu.Unlock(); return p.n }

// Reader wraps r, counting what is read through it.
func (p *Progress) Reader(r io.Reader) io.Reader { return progReader{r, p} }

// Writer wraps w, counting what is written through it.
func (p *Progress) Writer(w io.Writer) io.Writer { return progWriter{w, p} }

type progReader struct {
	r io.Reader
	p *Progress
}

func (r progReader) Read(b []byte) (int, error) { n, err := r.r.Read(b); r.p.add(n); return n, err }

type progWriter struct {
	w io.Writer
	p *Progress
}

func (w progWriter) Write(b []byte) (int, error) { n, err := w.w.Write(b); w.p.add(n); return n, err }

// Summary prints the scenario's one-line summary to standard output (and
// appends it to $USTACK_SUMMARY if set). kv are key, value pairs.
func Summary(t testing.TB, bytes int64, d time.Duration, kv ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, "SUMMARY scenario=%s", t.Name())
	if bytes > 0 {
		secs := d.Seconds()
		fmt.Fprintf(&b, " bytes=%d secs=%.2f MiB/s=%.1f", bytes, secs, float64(bytes)/(1<<20)/max(secs, 1e-9))
	} else if d > 0 {
		fmt.Fprintf(&b, " secs=%.2f", d.Seconds())
	}
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	line := b.String()
	fmt.Println(line)
	if p := os.Getenv("USTACK_SUMMARY"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}
