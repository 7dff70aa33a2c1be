// Package stack is ustack's network layer and socket layer: the IPv4 input
// and output path (validation like ip_rcv_core, reassembly, ICMP echo), the
// single established table holding full connections and TIME-WAIT records,
// listeners, the ephemeral port allocator, the packet workers and the timer
// loop, and the net.Conn / net.Listener API on top of the tcp engine.
//
// # Concurrency
//
// A reader goroutine reads batches from the device and hands each packet to
// one of N fixed workers chosen by a hash of its 4-tuple, so the segments of
// one flow are processed in order by one goroutine. A worker holds only the
// connection's lock while it runs the engine; the engine writes its output
// into the worker's batch. API calls and the timer goroutine run the engine
// of the same connection too, so before the lock is released the batch
// hands its packets to the stack's transmit queue for that flow (a FIFO for
// the device, one per worker): a connection's segments reach the wire in
// the order they were built. The queue is written, and the waiters woken,
// after the lock is released, by whichever goroutine wins the queue's
// writer flag (tx.go). One timer goroutine fires connection timers
// (timewait/wheel), TIME-WAIT expiry and reassembly timeouts.
//
// With Options.Manual none of these goroutines run: DeliverPacket processes
// a packet on the caller's goroutine and a VirtualClock fires the timers
// from Advance. Packet-level tests use that mode.
//
// Packets to the stack's own addresses and to 127.0.0.0/8 go through an
// internal loopback queue instead of the device.
//
// Lock order: conn.mu -> listener.mu; conn.mu -> ports.mu -> table shard
// mu -> death-row mu; conn.mu -> timer mu; conn.mu -> tx.mu (a leaf). No
// lock is held across a device write or a wake-up.
package stack

import (
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/stack/ipv4"
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/tun"
)

// Stack is one instance of the TCP/IP stack over one device. Several stacks
// can run side by side in one process; they share nothing.
type Stack struct {
	opts  atomic.Pointer[Options]    // replaced whole by SetOption
	optMu sync.Mutex                 // serializes SetOption
	cfg   atomic.Pointer[tcp.Config] // for new connections; live ones keep theirs
	clock Clock
	// tsSkew is ustack.ts_clock_skew in ns: added to every timestamp
	// option's clock (connections and TIME-WAIT ACKs), never to timers.
	tsSkew atomic.Int64
	// orphanLogAt is when the orphan log line was last printed.
	orphanLogAt atomic.Int64
	dev         tun.Device
	mtu         int
	m           *metrics.Counters
	addrs       [][4]byte

	table     table
	listeners listenTable
	ports     portTable
	tw        *twState
	timers    timerState
	frag      reassembler
	loop      loopback
	icmpLimit icmpLimiter

	batches sync.Pool // *batch for API calls and timers
	tx      []txQueue // every packet for the device goes through one (tx.go)
	ipID    atomic.Uint32
	seed    uint64 // flow hash seed

	workers []*worker
	rd      reader

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// ErrNoAddress is returned by New when Options.Addrs is empty.
var ErrNoAddress = errors.New("stack: no local IPv4 address configured")

// New creates a stack on dev. Unless opts.Manual is set it starts the reader,
// the workers and (with a real clock) the timer goroutine; Close stops them.
func New(dev tun.Device, opts Options) (*Stack, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Stack{dev: dev, closed: make(chan struct{})}
	opts.Addrs = append([]netip.Addr(nil), opts.Addrs...)
	opts.IPLocalReservedPorts = append([][2]int(nil), opts.IPLocalReservedPorts...)
	s.opts.Store(&opts)
	for _, a := range opts.Addrs {
		if !a.Is4() {
			return nil, fmt.Errorf("stack: address %v is not IPv4", a)
		}
		s.addrs = append(s.addrs, a.As4())
	}
	if len(s.addrs) == 0 {
		return nil, ErrNoAddress
	}
	s.mtu = 1500
	if dev != nil && dev.MTU() > 0 {
		s.mtu = dev.MTU()
	}
	s.clock = opts.Clock
	if s.clock == nil {
		s.clock = NewRealClock()
	}
	s.tsSkew.Store(int64(opts.TSClockSkew))
	s.m = metrics.New()
	cfg0 := opts.tcpConfig(s.mtu)
	cfg0.TSSkew = &s.tsSkew
	cfg0.TooManyOrphans = s.tooManyOrphans
	cfg0.Logf = s.orphanLogf
	s.cfg.Store(cfg0)
	s.seed = rand.Uint64()
	s.ipID.Store(rand.Uint32())
	s.table.init()
	s.listeners.init()
	s.ports.init(s)
	s.tw = newTWState(s)
	s.timers.init(s.now())
	s.frag.init(s)
	s.initTx(&opts)

	driven := s.clock.attach(s)
	if !opts.Manual {
		s.startWorkers(opts.workers())
	}
	if !driven {
		s.wg.Add(1)
		go s.timerLoop()
	}
	return s, nil
}

// Close stops the stack's goroutines and closes the device. Connections are
// abandoned without sending anything, like a network namespace going away.
func (s *Stack) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.clock.detach(s)
		if s.dev != nil {
			err = s.dev.Close()
		}
		s.stopWorkers()
		s.timers.wake()
		s.wg.Wait()
		s.abandonAll()
	})
	return err
}

func (s *Stack) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Counters returns the stack's MIB counters.
func (s *Stack) Counters() *metrics.Counters { return s.m }

// logf writes an operator log line through Options.Logf.
func (s *Stack) logf(format string, args ...any) {
	if f := s.o().Logf; f != nil {
		f(format, args...)
		return
	}
	log.Printf("ustack: "+format, args...)
}

// now is the stack's protocol time.
func (s *Stack) now() tcp.Time { return s.clock.Now() }

// o returns the current options (never modified in place).
func (s *Stack) o() *Options { return s.opts.Load() }

// Options returns a copy of the stack's current options.
func (s *Stack) Options() Options {
	o := *s.o()
	o.Addrs = append([]netip.Addr(nil), o.Addrs...)
	o.IPLocalReservedPorts = append([][2]int(nil), o.IPLocalReservedPorts...)
	return o
}

// SetOption changes a knob of a running stack, like writing to /proc/sys
// (same names and checks as Options.Set). The IP layer, port selection and
// TIME-WAIT processing see the new value at once; the engine's knobs
// (tcp.Config) apply to connections created afterwards, while existing
// connections keep the values they started with. ustack.workers,
// ustack.manual and ustack.timewait_profile are fixed when the stack is
// created; ustack.ts_clock_skew applies at once to every connection.
func (s *Stack) SetOption(name, value string) error {
	s.optMu.Lock()
	defer s.optMu.Unlock()
	old := s.o()
	o := s.Options()
	if err := o.Set(name, value); err != nil {
		return err
	}
	if o.Workers != old.Workers || o.Manual != old.Manual || o.TimeWaitProfile != old.TimeWaitProfile {
		return fmt.Errorf("stack: set %s: %w: fixed when the stack is created", name, ErrInvalidValue)
	}
	cfg := o.tcpConfig(s.mtu)
	cfg.Secret = s.cfg.Load().Secret // ISNs and TS offsets stay continuous
	cfg.TSSkew = &s.tsSkew
	cfg.TooManyOrphans = s.tooManyOrphans
	cfg.Logf = s.orphanLogf
	s.tsSkew.Store(int64(o.TSClockSkew))
	s.cfg.Store(cfg)
	s.opts.Store(&o)
	s.tw.reconfigure(&o)
	return nil
}

// Clock returns the stack's clock.
func (s *Stack) Clock() Clock { return s.clock }

// Config returns the engine configuration new connections get.
func (s *Stack) Config() *tcp.Config { return s.cfg.Load() }

// output writes finished packets to the device. Only a transmit queue's
// writer calls it (one goroutine at a time per queue, see tx.go), so the
// device sees each queue's order; writers of different queues write
// concurrently (a TUN write is one write(2) per packet). No lock of ours
// is held here, so a device may even deliver synchronously into another
// stack, or into this one: the packets that delivery produces are queued
// and written by this same writer when output returns.
func (s *Stack) output(pkts [][]byte) {
	if s.dev == nil {
		return
	}
	for len(pkts) > 0 {
		n, err := s.dev.Write(pkts, 0)
		if err == nil {
			if n <= 0 {
				break
			}
			pkts = pkts[n:]
			continue
		}
		if errors.Is(err, os.ErrClosed) || n >= len(pkts) {
			s.m.Add(metrics.IpOutDiscards, uint64(len(pkts)-min(n, len(pkts))))
			break
		}
		// Packet n was refused (too big for the device, say): it is
		// lost like a packet dropped by a qdisc, the rest still go.
		s.m.Inc(metrics.IpOutDiscards)
		pkts = pkts[n+1:]
	}
}

// nextIPID returns an IP ID for packets sent without DF and without a
// socket counter (ICMP replies). Linux hashes into a table of counters
// (__ip_select_ident); one stack-wide counter starting at random serves
// the same purpose.
func (s *Stack) nextIPID() uint16 { return uint16(s.ipID.Add(1)) }

// isLocal reports whether a is one of the stack's addresses.
func (s *Stack) isLocal(a [4]byte) bool {
	for _, l := range s.addrs {
		if l == a {
			return true
		}
	}
	return false
}

func isBroadcast(a [4]byte) bool { return a == [4]byte{255, 255, 255, 255} }

// flowHash mixes a 4-tuple into a well-spread 64-bit value; the seed keeps
// remote peers from steering flows into one worker or table shard.
func (s *Stack) flowHash(t *tcp.Tuple) uint64 {
	x := uint64(t.LocalAddr[0])<<24 | uint64(t.LocalAddr[1])<<16 | uint64(t.LocalAddr[2])<<8 | uint64(t.LocalAddr[3])
	y := uint64(t.RemoteAddr[0])<<24 | uint64(t.RemoteAddr[1])<<16 | uint64(t.RemoteAddr[2])<<8 | uint64(t.RemoteAddr[3])
	h := s.seed ^ (x<<32 | y)
	h ^= uint64(t.LocalPort)<<16 | uint64(t.RemotePort) | 0x9e3779b97f4a7c15
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

var _ tcp.Emitter = (*batch)(nil)

// localAddrFor picks the source address for a connection to dst: dst itself
// when it is ours or loopback (a connection to self), else the first
// address.
func (s *Stack) localAddrFor(dst [4]byte) [4]byte {
	if s.isOwn(dst) {
		return dst
	}
	return s.addrs[0]
}

var _ = ipv4.MinSize
