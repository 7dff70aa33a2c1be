package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"syscall"

	"github.com/ustack/ustack/tcp"
)

// portTable is the bind hash ("bhash"): one bucket per local port in use,
// listing its owners — listeners, connections and TIME-WAIT records
// (TW-LOOKUP-8: a record keeps its port in use until it dies).
type portTable struct {
	s  *Stack
	mu sync.Mutex // guards buckets and perturb
	// buckets by port. A bucket created by bind()/listen() is "reusable"
	// (fastreuse >= 0) and connect()'s search skips it (PORT-4).
	buckets map[uint16]*portBucket
	// perturb is table_perturb of RFC 6056 algorithm 4 (PORT-2, PORT-6),
	// smaller than Linux's 2^16 slots.
	perturb [perturbSlots]uint32
	secret  [16]byte
}

const perturbSlots = 1 << 10

type portBucket struct {
	byBind bool
	owners map[any]portOwner
}

type portOwner struct {
	addr   [4]byte // bound local address; zero is INADDR_ANY
	reuse  bool    // SO_REUSEADDR
	rport  bool    // SO_REUSEPORT
	listen bool
}

func (p *portTable) init(s *Stack) {
	p.s = s
	p.buckets = make(map[uint16]*portBucket)
	for i := range p.secret {
		p.secret[i] = byte(rand.Uint32())
	}
}

func overlap(a, b [4]byte) bool { return a == b || a == [4]byte{} || b == [4]byte{} }

// conflictLocked is inet_csk_bind_conflict: binding (addr, reuse, listen)
// conflicts with an owner whose address overlaps unless both set
// SO_REUSEADDR and the owner is not listening (PORT-8).
func (b *portBucket) conflictLocked(addr [4]byte, reuse, reusePort bool) bool {
	for _, o := range b.owners {
		if !overlap(o.addr, addr) {
			continue
		}
		if reuse && o.reuse && !o.listen {
			continue
		}
		if reusePort && o.rport {
			continue // one user: SO_REUSEPORT on both sides suffices
		}
		return true
	}
	return false
}

// bind reserves port for owner (bind(2)). Port 0 picks a free ephemeral
// port, preferring the parity opposite to connect()'s (PORT-3). Errors are
// EADDRINUSE or EADDRNOTAVAIL (all ephemeral ports busy).
func (p *portTable) bind(addr [4]byte, port uint16, reuse, listen bool, owner any) (uint16, error) {
	return p.bindOpts(addr, port, portOwner{addr: addr, reuse: reuse, listen: listen}, owner)
}

// bindOpts is bind with every socket flag in o.
func (p *portTable) bindOpts(addr [4]byte, port uint16, o portOwner, owner any) (uint16, error) {
	reuse := o.reuse
	p.mu.Lock()
	defer p.mu.Unlock()
	if port == 0 {
		lo, hi := p.s.o().IPLocalPortRange[0], p.s.o().IPLocalPortRange[1]
		n := hi - lo + 1
		start := int(rand.Uint32N(uint32(n)))
		found := false
		for pass := 0; pass < 2 && !found; pass++ {
			for i := 0; i < n; i++ {
				cand := lo + (start+i)%n
				if (cand%2 == lo%2) == (pass == 0) {
					continue // first pass: the other parity than connect()
				}
				if p.buckets[uint16(cand)] == nil && !p.s.o().reservedPort(cand) {
					port, found = uint16(cand), true
					break
				}
			}
		}
		if !found {
			return 0, syscall.EADDRNOTAVAIL
		}
	}
	b := p.buckets[port]
	if b == nil {
		b = &portBucket{byBind: true, owners: make(map[any]portOwner)}
		p.buckets[port] = b
	} else if b.conflictLocked(addr, reuse, o.rport) {
		return 0, syscall.EADDRINUSE
	}
	b.owners[owner] = o
	return port, nil
}

// join adds owner to an existing port without a conflict check: accepted
// children inherit their listener's port (inet_inherit_port).
func (p *portTable) join(port uint16, o portOwner, owner any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[port]
	if b == nil {
		b = &portBucket{byBind: true, owners: make(map[any]portOwner)}
		p.buckets[port] = b
	}
	b.owners[owner] = o
}

// release drops owner from port; an empty bucket disappears.
func (p *portTable) release(port uint16, owner any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.buckets[port]; b != nil {
		delete(b.owners, owner)
		if len(b.owners) == 0 {
			delete(p.buckets, port)
		}
	}
}

// transfer moves the ownership of port from one owner to another (a
// connection becoming a TIME-WAIT record keeps the port, TW-ENTER-7).
func (p *portTable) transfer(port uint16, from, to any, reuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.buckets[port]; b != nil {
		if o, ok := b.owners[from]; ok {
			delete(b.owners, from)
			o.reuse = reuse
			b.owners[to] = o
		}
	}
}

// connectBound is __inet_hash_connect for a socket whose port was bound
// explicitly: only the 4-tuple check runs (TW-REUSE-8), and a displaced
// TIME-WAIT record leaves the bucket.
func (p *portTable) connectBound(port uint16, insert func(port uint16) (bool, any)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok, displaced := insert(port)
	if !ok {
		return syscall.EADDRNOTAVAIL
	}
	if b := p.buckets[port]; b != nil && displaced != nil {
		delete(b.owners, displaced)
	}
	return nil
}

// inUse reports whether port has a bucket (for tests and ss).
func (p *portTable) inUse(port uint16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buckets[port] != nil
}

// portOffset is the 64-bit keyed hash of (local address, remote address,
// remote port, 10 s time slot) of PORT-2.
func (p *portTable) portOffset(laddr, raddr [4]byte, rport uint16, now tcp.Time) uint64 {
	var key [16]byte
	copy(key[:], p.secret[:])
	slot := uint64(now / tcp.Time(10e9))
	w := [2]uint64{
		uint64(binary.BigEndian.Uint32(laddr[:]))<<32 | uint64(binary.BigEndian.Uint32(raddr[:])),
		uint64(rport)<<48 | slot&(1<<48-1),
	}
	return sip(key, w)
}

// connectPort is __inet_hash_connect for a socket without a bound port:
// scan ip_local_port_range from a keyed offset in steps of 2, first the
// ports with the range's low parity, then the others (PORT-2, PORT-3);
// skip buckets made by bind() (PORT-4); take a port without a bucket at
// once, and a connect()-made bucket if the 4-tuple is unique or its
// TIME-WAIT record may be reused (PORT-5, TW-REUSE-1). insert performs
// that check and, on success, hashes the connection. The perturbation
// counter then moves on (PORT-6). No usable port: EADDRNOTAVAIL
// (TW-REUSE-14).
func (p *portTable) connectPort(laddr, raddr [4]byte, rport uint16, c *conn,
	insert func(port uint16) (ok bool, displaced any)) (uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	low, high := p.s.o().IPLocalPortRange[0], p.s.o().IPLocalPortRange[1]+1
	remaining := high - low
	if remaining > 1 {
		remaining &^= 1
	}
	h := p.portOffset(laddr, raddr, rport, p.s.now())
	index := h & (perturbSlots - 1)
	offset := int((uint64(p.perturb[index]) + h>>32) % uint64(remaining))
	offset &^= 1
	for {
		port := low + offset
		for i := 0; i < remaining; i, port = i+2, port+2 {
			if port >= high {
				port -= remaining
			}
			if p.s.o().reservedPort(port) {
				continue
			}
			b := p.buckets[uint16(port)]
			if b != nil && b.byBind {
				continue
			}
			ok, displaced := insert(uint16(port))
			if !ok {
				continue
			}
			if b == nil {
				b = &portBucket{owners: make(map[any]portOwner)}
				p.buckets[uint16(port)] = b
			}
			if displaced != nil {
				delete(b.owners, displaced)
			}
			b.owners[c] = portOwner{addr: laddr}
			step := max(i, int(rand.Uint32N(8))*2) + 2
			p.perturb[index] += uint32(step)
			return uint16(port), nil
		}
		offset++
		if offset&1 == 0 || remaining <= 1 {
			return 0, syscall.EADDRNOTAVAIL
		}
	}
}

// sip is SipHash-2-4 over two words (the same construction as the ISN
// hash; kept local because tcp does not export it).
func sip(key [16]byte, m [2]uint64) uint64 {
	k0 := binary.LittleEndian.Uint64(key[0:])
	k1 := binary.LittleEndian.Uint64(key[8:])
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	rotl := func(x uint64, b uint) uint64 { return x<<b | x>>(64-b) }
	round := func() {
		v0 += v1
		v1 = rotl(v1, 13) ^ v0
		v0 = rotl(v0, 32)
		v2 += v3
		v3 = rotl(v3, 16) ^ v2
		v0 += v3
		v3 = rotl(v3, 21) ^ v0
		v2 += v1
		v1 = rotl(v1, 17) ^ v2
		v2 = rotl(v2, 32)
	}
	for _, w := range m {
		v3 ^= w
		round()
		round()
		v0 ^= w
	}
	b := uint64(16) << 56
	v3 ^= b
	round()
	round()
	v0 ^= b
	v2 ^= 0xff
	for range 4 {
		round()
	}
	return v0 ^ v1 ^ v2 ^ v3
}
