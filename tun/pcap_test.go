package tun

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

func TestPcapRecordsBothDirections(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	clk := NewFakeClock(t0)
	var buf bytes.Buffer
	p, err := NewPcap(a, &buf, clk)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{0, 0, 0x45, 1, 2}
	if _, err := p.Write([][]byte{out}, 2); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Millisecond)
	b.Write([][]byte{{0x45, 9, 9, 9}}, 0)
	bufs, sizes := mkbufs(2, 100)
	if n, err := p.TryRead(bufs, sizes, 0); n != 1 || err != nil {
		t.Fatalf("TryRead = %d, %v", n, err)
	}
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}

	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeRaw {
		t.Fatalf("link type %v", r.LinkType())
	}
	want := []struct {
		data []byte
		at   time.Time
	}{{[]byte{0x45, 1, 2}, t0}, {[]byte{0x45, 9, 9, 9}, t0.Add(time.Millisecond)}}
	for _, w := range want {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, w.data) || !ci.Timestamp.Equal(w.at) || ci.Length != len(w.data) {
			t.Fatalf("record %x at %v, want %x at %v", data, ci.Timestamp, w.data, w.at)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Fatalf("extra record: %v", err)
	}
}

func TestPcapFile(t *testing.T) {
	a, _ := NewPipe(PipeConfig{})
	path := filepath.Join(t.TempDir(), "x.pcap")
	p, err := CreatePcapFile(a, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([][]byte{{0x45, 0}}, 0)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if data, _, err := r.ReadPacketData(); err != nil || !bytes.Equal(data, []byte{0x45, 0}) {
		t.Fatalf("read back %x, %v", data, err)
	}
}

func TestPcapAllocs(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	p, err := NewPcap(a, io.Discard, NewFakeClock(t0))
	if err != nil {
		t.Fatal(err)
	}
	w := [][]byte{make([]byte, 1400)}
	bufs, sizes := mkbufs(4, 1500)
	allocs := testing.AllocsPerRun(1000, func() {
		p.Write(w, 0)
		b.Write(w, 0)
		p.TryRead(bufs, sizes, 0)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per round", allocs)
	}
}
