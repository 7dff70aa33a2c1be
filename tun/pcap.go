package tun

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// PcapSnapLen is the snapshot length written in the file header; packets
// are captured whole.
const PcapSnapLen = 65535

// Pcap is a Device decorator that records every packet it passes, inbound
// (returned by Read) and outbound (given to Write), to a pcap stream with
// link type RAW (101: each record is a bare IP packet), nanosecond
// timestamps taken from its Clock. The format has no direction field; tell
// directions apart by addresses.
//
// A failing writer never disturbs traffic: the first error is kept (Err)
// and recording stops.
type Pcap struct {
	dev   Device
	clock Clock

	mu    sync.Mutex // guards w, err and ci: records from Read and Write interleave whole
	w     *pcapgo.Writer
	err   error
	ci    gopacket.CaptureInfo
	bw    *bufio.Writer // set when the Pcap owns its file
	file  *os.File
	close sync.Once
}

// NewPcap wraps d, writing the pcap file header to w at once. clk may be nil
// (system clock).
func NewPcap(d Device, w io.Writer, clk Clock) (*Pcap, error) {
	if clk == nil {
		clk = SystemClock{}
	}
	p := &Pcap{dev: d, clock: clk, w: pcapgo.NewWriterNanos(w)}
	if err := p.w.WriteFileHeader(PcapSnapLen, layers.LinkTypeRaw); err != nil {
		return nil, fmt.Errorf("tun: pcap header: %w", err)
	}
	return p, nil
}

// CreatePcapFile is NewPcap writing (buffered) to a new file at path, which
// Close flushes and closes.
func CreatePcapFile(d Device, path string, clk Clock) (*Pcap, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("tun: pcap: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	p, err := NewPcap(d, bw, clk)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.bw, p.file = bw, f
	return p, nil
}

func (p *Pcap) record(pkt []byte) {
	if p.err != nil {
		return
	}
	p.ci.Timestamp = p.clock.Now()
	p.ci.Length = len(pkt)
	p.ci.CaptureLength = min(len(pkt), PcapSnapLen)
	p.err = p.w.WritePacket(p.ci, pkt[:p.ci.CaptureLength])
}

// Read reads from the wrapped device and records what it returns.
func (p *Pcap) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := p.dev.Read(bufs, sizes, offset)
	p.recordBatch(bufs[:n], sizes, offset)
	return n, err
}

// TryRead is Read without blocking, if the wrapped device supports it.
func (p *Pcap) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	tr, ok := p.dev.(TryReader)
	if !ok {
		return 0, fmt.Errorf("tun: %s: wrapped %T cannot TryRead", p.dev.Name(), p.dev)
	}
	n, err := tr.TryRead(bufs, sizes, offset)
	p.recordBatch(bufs[:n], sizes, offset)
	return n, err
}

func (p *Pcap) recordBatch(bufs [][]byte, sizes []int, offset int) {
	if len(bufs) == 0 {
		return
	}
	p.mu.Lock()
	for i, b := range bufs {
		p.record(b[offset : offset+sizes[i]])
	}
	p.mu.Unlock()
}

// Write records the packets, then writes them to the wrapped device (so a
// capture shows what was offered, including packets the device rejects).
func (p *Pcap) Write(bufs [][]byte, offset int) (int, error) {
	p.mu.Lock()
	for _, b := range bufs {
		if len(b) > offset {
			p.record(b[offset:])
		}
	}
	p.mu.Unlock()
	return p.dev.Write(bufs, offset)
}

// Flush pushes buffered records to the file (CreatePcapFile only).
func (p *Pcap) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bw == nil {
		return p.err
	}
	if err := p.bw.Flush(); err != nil && p.err == nil {
		p.err = err
	}
	return p.err
}

// Err returns the first error writing the capture, if any.
func (p *Pcap) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// BatchSize returns the wrapped device's.
func (p *Pcap) BatchSize() int { return p.dev.BatchSize() }

// MTU returns the wrapped device's.
func (p *Pcap) MTU() int { return p.dev.MTU() }

// Name returns the wrapped device's.
func (p *Pcap) Name() string { return p.dev.Name() }

// Unwrap returns the wrapped device.
func (p *Pcap) Unwrap() Device { return p.dev }

// Close closes the wrapped device, then flushes and closes an owned file.
func (p *Pcap) Close() error {
	err := p.dev.Close()
	p.close.Do(func() {
		if p.file == nil {
			return
		}
		ferr := p.Flush()
		if cerr := p.file.Close(); ferr == nil {
			ferr = cerr
		}
		if err == nil && ferr != nil {
			err = fmt.Errorf("tun: pcap: %w", ferr)
		}
	})
	return err
}

var (
	_ Device    = (*Pcap)(nil)
	_ TryReader = (*Pcap)(nil)
)
