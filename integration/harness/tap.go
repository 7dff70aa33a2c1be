package harness

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ustack/ustack/tun"
)

// snapLen is how much of each packet the tap keeps: IPv4 and TCP headers
// with options and a little payload, enough for a bug report.
const snapLen = 128

// Dir says which way a packet went through the tap.
type Dir uint8

const (
	FromKernel Dir = iota // read by ustack from the TUN
	ToKernel              // written by ustack to the TUN
)

// Packet is one packet the tap saw (truncated to snapLen).
type Packet struct {
	At   time.Time
	Dir  Dir
	Len  int
	Data []byte
}

// TCP decodes the packet's TCP header fields; ok is false for anything
// that is not an unfragmented IPv4 TCP packet with a whole header.
func (p *Packet) TCP() (h TCPFields, ok bool) { return ParseTCP(p.Data) }

// Tap is a Device decorator that remembers the last packets crossing it in
// a ring (for pcaps attached to failures and for scenarios that need the
// wire's sequence numbers) and can inject packets toward the kernel.
type Tap struct {
	dev tun.Device

	mu   sync.Mutex // guards ring, next, full
	ring []Packet
	next int
	full bool
}

// NewTap wraps dev and keeps the last n packets.
func NewTap(dev tun.Device, n int) *Tap {
	t := &Tap{dev: dev, ring: make([]Packet, n)}
	for i := range t.ring {
		t.ring[i].Data = make([]byte, 0, snapLen)
	}
	return t
}

func (t *Tap) record(d Dir, pkt []byte) {
	now := time.Now()
	t.mu.Lock()
	p := &t.ring[t.next]
	p.At, p.Dir, p.Len = now, d, len(pkt)
	p.Data = append(p.Data[:0], pkt[:min(len(pkt), snapLen)]...)
	t.next++
	if t.next == len(t.ring) {
		t.next, t.full = 0, true
	}
	t.mu.Unlock()
}

// Read implements tun.Device.
func (t *Tap) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := t.dev.Read(bufs, sizes, offset)
	for i := 0; i < n; i++ {
		t.record(FromKernel, bufs[i][offset:offset+sizes[i]])
	}
	return n, err
}

// Write implements tun.Device.
func (t *Tap) Write(bufs [][]byte, offset int) (int, error) {
	n, err := t.dev.Write(bufs, offset)
	for i := 0; i < n; i++ {
		t.record(ToKernel, bufs[i][offset:])
	}
	return n, err
}

// Inject writes a raw IPv4 packet to the kernel as if ustack had sent it.
func (t *Tap) Inject(pkt []byte) error {
	_, err := t.Write([][]byte{pkt}, 0)
	return err
}

// BatchSize implements tun.Device.
func (t *Tap) BatchSize() int { return t.dev.BatchSize() }

// MTU implements tun.Device.
func (t *Tap) MTU() int { return t.dev.MTU() }

// Name implements tun.Device.
func (t *Tap) Name() string { return t.dev.Name() }

// Close implements tun.Device.
func (t *Tap) Close() error { return t.dev.Close() }

// Packets returns copies of the remembered packets, oldest first.
func (t *Tap) Packets() []Packet {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Packet
	add := func(ps []Packet) {
		for _, p := range ps {
			p.Data = append([]byte(nil), p.Data...)
			out = append(out, p)
		}
	}
	if t.full {
		add(t.ring[t.next:])
	}
	add(t.ring[:t.next])
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Len is the number of packets remembered.
func (t *Tap) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.full {
		return len(t.ring)
	}
	return t.next
}

// Last returns the most recent packet for which match is true.
func (t *Tap) Last(match func(p *Packet, h TCPFields) bool) (Packet, TCPFields, bool) {
	ps := t.Packets()
	for i := len(ps) - 1; i >= 0; i-- {
		if h, ok := ps[i].TCP(); ok && match(&ps[i], h) {
			return ps[i], h, true
		}
	}
	return Packet{}, TCPFields{}, false
}

// WritePcap writes the remembered packets as a pcap file of raw IPv4
// (LINKTYPE_RAW), readable by tcpdump -r and Wireshark.
func (t *Tap) WritePcap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 101) // LINKTYPE_RAW
	w.Write(hdr[:])
	for _, p := range t.Packets() {
		var rh [16]byte
		binary.LittleEndian.PutUint32(rh[0:], uint32(p.At.Unix()))
		binary.LittleEndian.PutUint32(rh[4:], uint32(p.At.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rh[8:], uint32(len(p.Data)))
		binary.LittleEndian.PutUint32(rh[12:], uint32(p.Len))
		w.Write(rh[:])
		w.Write(p.Data)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Dump formats the last max packets, one line each, like tcpdump -n.
func (t *Tap) Dump(max int, match func(h TCPFields) bool) string {
	ps := t.Packets()
	var lines []string
	for i := len(ps) - 1; i >= 0 && len(lines) < max; i-- {
		h, ok := ps[i].TCP()
		if !ok || (match != nil && !match(h)) {
			continue
		}
		lines = append(lines, ps[i].At.Format("15:04:05.000000")+" "+h.String())
	}
	var b strings.Builder
	for i := len(lines) - 1; i >= 0; i-- {
		b.WriteString(lines[i])
		b.WriteByte('\n')
	}
	return b.String()
}

// FINOrderViolations lists packets ustack wrote after its own FIN on the
// same flow that start before the FIN's end (seq+1), other than a
// retransmission of the FIN itself: a stack never puts an older segment on
// the wire after its FIN (the kernel's TIME-WAIT sees it as an old
// duplicate and answers it). Each entry shows the FIN and the late packet.
func (t *Tap) FINOrderViolations() []string {
	type key struct{ src, dst string }
	fins := map[key]TCPFields{}
	var out []string
	for _, p := range t.Packets() {
		h, ok := p.TCP()
		if !ok || p.Dir != ToKernel || h.Flags&RST != 0 {
			continue
		}
		k := key{h.Src.String(), h.Dst.String()}
		// A retransmitted FIN repeats the FIN's seq; anything else must
		// start at or after the FIN's end.
		if f, seen := fins[k]; seen && h.Flags&SYN == 0 &&
			(int32(h.Seq-f.Seq) < 0 || h.Seq == f.Seq && h.Flags&FIN == 0) {
			out = append(out, "after "+f.String()+" ustack wrote "+h.String())
		}
		if h.Flags&FIN != 0 {
			fins[k] = h
		}
	}
	return out
}

// OutOfOrderSends counts data segments ustack wrote to the TUN that start
// beyond the highest sequence it had written before on that flow, i.e.
// segments that overtook an earlier one on their way to the device (the
// earlier one follows later as if it were a retransmission). Without loss
// a sender's segments leave in sequence order; only the last packets the
// tap remembers are examined. It returns the count and one example.
func (t *Tap) OutOfOrderSends() (int, string) {
	type key struct{ src, dst string }
	next := map[key]uint32{}
	n, ex := 0, ""
	for _, p := range t.Packets() {
		h, ok := p.TCP()
		if !ok || p.Dir != ToKernel || h.Flags&(SYN|RST) != 0 {
			continue
		}
		k := key{h.Src.String(), h.Dst.String()}
		end := h.Seq + uint32(h.PayloadLen)
		if h.Flags&FIN != 0 {
			end++
		}
		hi, seen := next[k]
		if seen && int32(h.Seq-hi) > 0 {
			n++
			if ex == "" {
				ex = fmt.Sprintf("expected seq %d next, ustack wrote %s", hi, h)
			}
		}
		if !seen || int32(end-hi) > 0 {
			next[k] = end
		}
	}
	return n, ex
}
