package stack

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"syscall"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
)

// portTable is the bind hash ("bhash"): one bucket per local port in use,
// listing its owners — listeners, connections and TIME-WAIT records
// (TW-LOOKUP-8: a record keeps its port in use until it dies).
//
// A client's records spread over the ephemeral ports, a few per port, so
// what a port costs counts as much as what a record costs (the issue's
// 128 B per record, port table included). A port's bucket is therefore
// split: a 12-byte portSlot, in pages indexed by the port number, holds
// the flags and one count of TIME-WAIT records; a full portBucket, kept
// in a map beside it, exists only while the port also has listeners or
// connections, or records of a second combination. A port held by
// records alone costs its slot.
type portTable struct {
	s  *Stack
	mu sync.Mutex // guards everything below
	// pages holds the slots by slotIndex, portPageBits of it to a page; a
	// page exists while one of its ports is in use, used[i] counting
	// them. Pages hold no pointers, so the GC does not scan them.
	pages [portPages]*portPage
	used  [portPages]uint16
	// full is the rest of the buckets whose slot has slotFull. Go maps
	// never shrink, and a client's connections all turning into records
	// would leave one empty map slot per port behind; fullPeak lets
	// tidy rebuild the map once it is mostly empty.
	full     map[uint16]*portBucket
	fullPeak int
	// perturb is table_perturb of RFC 6056 algorithm 4 (PORT-2, PORT-6),
	// smaller than Linux's 2^16 slots.
	perturb [perturbSlots]uint32
	secret  [16]byte
}

const (
	perturbSlots = 1 << 10

	portPageBits = 8
	portPages    = 1 << (16 - portPageBits)
	portPageMask = 1<<portPageBits - 1
)

// portPage is 256 slots, 3 KiB: the default ephemeral range fills 112.
type portPage [1 << portPageBits]portSlot

// slotIndex is port rotated right by one bit: the ports of one parity are
// neighbours, so a client whose connect()s take only the even ports
// (PORT-3) fills its pages instead of using every other slot of twice as
// many.
func slotIndex(port uint16) uint16 { return port>>1 | port<<15 }

// portSlot is a port's bucket, or its head when it has a portBucket too.
// A bucket created by bind()/listen() is "reusable" (fastreuse >= 0,
// slotByBind) and connect()'s search skips it (PORT-4). The slot counts
// the TIME-WAIT records of one combination of the properties bind()'s
// conflict check reads (address, SO_REUSEADDR, SO_REUSEPORT): records of
// one combination are interchangeable for every question the table
// answers (is the port in use, does a bind conflict), so a port held by a
// million records costs no more than one held by a single record.
type portSlot struct {
	addr  [4]byte // the counted combination's address; zero is INADDR_ANY
	n     uint32  // records counted under the combination; 0: none
	flags uint8
}

const (
	slotLive   = 1 << iota // the port has a bucket
	slotByBind             // made by bind() or listen() (PORT-4)
	slotFull               // p.full holds the rest of the bucket
	slotReuse              // the counted combination's SO_REUSEADDR
	slotRPort              // and SO_REUSEPORT
)

// portBucket is the part of a port's bucket that a slot cannot hold. Full
// sockets are listed one by one; TIME-WAIT records of combinations other
// than the slot's are counted like the slot's.
type portBucket struct {
	owners map[any]portOwner // listeners and connections; nil when none
	tw     []twOwners        // TIME-WAIT records, one entry per combination
}

type portOwner struct {
	addr   [4]byte // bound local address; zero is INADDR_ANY
	reuse  bool    // SO_REUSEADDR
	rport  bool    // SO_REUSEPORT
	listen bool
}

// twOwners counts the records of one combination; key.listen is false.
type twOwners struct {
	key portOwner
	n   uint32
}

// twKey is the combination a record was counted under. The record's
// address, SO_REUSEADDR and SO_REUSEPORT bits never change after Init
// (tw_reuse, tw_reuseport), and once it has left the established table
// nothing writes the record, so release may read them.
func twKey(r *timewait.Record) portOwner {
	return portOwner{
		addr:  r.LocalAddr,
		reuse: r.Flags&timewait.FlagReuseAddr != 0,
		rport: r.Flags&timewait.FlagReusePort != 0,
	}
}

// key is the combination the slot counts.
func (sl *portSlot) key() portOwner {
	return portOwner{addr: sl.addr, reuse: sl.flags&slotReuse != 0, rport: sl.flags&slotRPort != 0}
}

func (sl *portSlot) setKey(k portOwner) {
	sl.addr = k.addr
	sl.flags &^= slotReuse | slotRPort
	if k.reuse {
		sl.flags |= slotReuse
	}
	if k.rport {
		sl.flags |= slotRPort
	}
}

func (p *portTable) init(s *Stack) {
	p.s = s
	p.full = make(map[uint16]*portBucket)
	for i := range p.secret {
		p.secret[i] = byte(rand.Uint32())
	}
}

// lookup returns port's slot, or nil when the port has no bucket.
func (p *portTable) lookup(port uint16) *portSlot {
	x := slotIndex(port)
	if pg := p.pages[x>>portPageBits]; pg != nil {
		if sl := &pg[x&portPageMask]; sl.flags&slotLive != 0 {
			return sl
		}
	}
	return nil
}

// create makes port's bucket, which must not exist. The caller adds an
// owner before it calls tidy.
func (p *portTable) create(port uint16, byBind bool) *portSlot {
	x := slotIndex(port)
	i := x >> portPageBits
	pg := p.pages[i]
	if pg == nil {
		pg = new(portPage)
		p.pages[i] = pg
	}
	p.used[i]++
	sl := &pg[x&portPageMask]
	sl.flags = slotLive
	if byBind {
		sl.flags |= slotByBind
	}
	return sl
}

// bucket returns the full part of port's bucket, nil when it has none.
func (p *portTable) bucket(port uint16, sl *portSlot) *portBucket {
	if sl.flags&slotFull == 0 {
		return nil
	}
	return p.full[port]
}

// makeBucket returns the full part of port's bucket, making it if needed.
func (p *portTable) makeBucket(port uint16, sl *portSlot) *portBucket {
	if b := p.bucket(port, sl); b != nil {
		return b
	}
	b := new(portBucket)
	p.full[port] = b
	sl.flags |= slotFull
	p.fullPeak = max(p.fullPeak, len(p.full))
	return b
}

// tidy ends every change to port's bucket: an empty full part goes, and an
// empty bucket disappears with, at last, its page. sl is invalid after.
func (p *portTable) tidy(port uint16, sl *portSlot) {
	if b := p.bucket(port, sl); b != nil && len(b.owners) == 0 && len(b.tw) == 0 {
		delete(p.full, port)
		sl.flags &^= slotFull
		if n := len(p.full); p.fullPeak > 64 && n*8 < p.fullPeak {
			// At most 65536/8 entries to copy, after as many deletions.
			m := make(map[uint16]*portBucket, n)
			for k, v := range p.full {
				m[k] = v
			}
			p.full, p.fullPeak = m, n
		}
	}
	if sl.n != 0 || sl.flags&slotFull != 0 {
		return
	}
	*sl = portSlot{}
	i := slotIndex(port) >> portPageBits
	if p.used[i]--; p.used[i] == 0 {
		p.pages[i] = nil
	}
}

func (p *portTable) addOwner(port uint16, sl *portSlot, owner any, o portOwner) {
	b := p.makeBucket(port, sl)
	if b.owners == nil {
		b.owners = make(map[any]portOwner, 1)
	}
	b.owners[owner] = o
}

// removeOwner drops a full socket or one record. A record whose
// combination has no count changes nothing; but records of one
// combination are indistinguishable, so a record released twice takes a
// live record's count with it: see release.
func (p *portTable) removeOwner(port uint16, sl *portSlot, owner any) {
	if r, ok := owner.(*timewait.Record); ok {
		p.removeTW(port, sl, twKey(r))
		return
	}
	if b := p.bucket(port, sl); b != nil {
		delete(b.owners, owner)
		if len(b.owners) == 0 {
			b.owners = nil // a map does not shrink; most buckets lose their last socket to TIME-WAIT
		}
	}
}

// addTW counts a record of combination k: in the slot when it counts k
// or nothing yet, otherwise in the full part.
func (p *portTable) addTW(port uint16, sl *portSlot, k portOwner) {
	if sl.n != 0 && sl.key() == k {
		sl.n++
		return
	}
	b := p.bucket(port, sl)
	if b != nil {
		for i := range b.tw {
			if b.tw[i].key == k {
				b.tw[i].n++
				return
			}
		}
	}
	if sl.n == 0 {
		sl.setKey(k)
		sl.n = 1
		return
	}
	b = p.makeBucket(port, sl)
	b.tw = append(b.tw, twOwners{key: k, n: 1})
}

func (p *portTable) removeTW(port uint16, sl *portSlot, k portOwner) {
	if sl.n != 0 && sl.key() == k {
		sl.n--
		return
	}
	b := p.bucket(port, sl)
	if b == nil {
		return
	}
	for i := range b.tw {
		if b.tw[i].key != k {
			continue
		}
		if b.tw[i].n--; b.tw[i].n == 0 {
			last := len(b.tw) - 1
			b.tw[i] = b.tw[last]
			b.tw = b.tw[:last]
			if last == 0 {
				b.tw = nil
			}
		}
		return
	}
}

// twCount returns the number of records holding the bucket's port.
func (p *portTable) twCount(port uint16, sl *portSlot) int {
	n := int(sl.n)
	if b := p.bucket(port, sl); b != nil {
		for _, e := range b.tw {
			n += int(e.n)
		}
	}
	return n
}

func overlap(a, b [4]byte) bool { return a == b || a == [4]byte{} || b == [4]byte{} }

// bindConflict is inet_bind_conflict with inet_rcv_saddr_equal for an
// explicit port (relax, reuseport_ok): owner o blocks a bind of (addr,
// reuse, reusePort) when their addresses overlap, unless both set
// SO_REUSEADDR and o is not listening, or both set SO_REUSEPORT (one user,
// and for TIME-WAIT owners the same-user test is waived anyway) (PORT-8).
func bindConflict(o portOwner, addr [4]byte, reuse, reusePort bool) bool {
	if !overlap(o.addr, addr) {
		return false
	}
	if reuse && o.reuse && !o.listen {
		return false
	}
	return !(reusePort && o.rport)
}

// conflictLocked is inet_csk_bind_conflict over every owner of the port,
// TIME-WAIT records included (TW-LOOKUP-8): a record is a non-listening
// owner with its socket's SO_REUSEADDR and SO_REUSEPORT.
func (p *portTable) conflictLocked(port uint16, sl *portSlot, addr [4]byte, reuse, reusePort bool) bool {
	if sl.n != 0 && bindConflict(sl.key(), addr, reuse, reusePort) {
		return true
	}
	b := p.bucket(port, sl)
	if b == nil {
		return false
	}
	for _, e := range b.tw {
		if bindConflict(e.key, addr, reuse, reusePort) {
			return true
		}
	}
	for _, o := range b.owners {
		if bindConflict(o, addr, reuse, reusePort) {
			return true
		}
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
				// A port held only by TIME-WAIT records is in use too
				// (TW-LOOKUP-8).
				if p.lookup(uint16(cand)) == nil && !p.s.o().reservedPort(cand) {
					port, found = uint16(cand), true
					break
				}
			}
		}
		if !found {
			return 0, syscall.EADDRNOTAVAIL
		}
	}
	sl := p.lookup(port)
	if sl == nil {
		sl = p.create(port, true)
	} else if p.conflictLocked(port, sl, addr, o.reuse, o.rport) {
		return 0, syscall.EADDRINUSE
	}
	p.addOwner(port, sl, owner, o)
	return port, nil
}

// join adds owner to an existing port without a conflict check: accepted
// children inherit their listener's port (inet_inherit_port).
func (p *portTable) join(port uint16, o portOwner, owner any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl := p.lookup(port)
	if sl == nil {
		sl = p.create(port, true)
	}
	p.addOwner(port, sl, owner, o)
}

// release drops owner from port; an empty bucket disappears. owner is a
// listener, a connection, or a TIME-WAIT record that died (inet_twsk_kill:
// expiry, TIMER-1; destruction by a segment, TW-PROC-20). A record must be
// released at most once, by whoever took it out of the established table.
func (p *portTable) release(port uint16, owner any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sl := p.lookup(port); sl != nil {
		p.removeOwner(port, sl, owner)
		p.tidy(port, sl)
	}
}

// transfer moves the ownership of port from a connection to the TIME-WAIT
// record that replaces it (TW-ENTER-7, inet_twsk_hashdance_schedule): the
// connection's entry goes, the record is counted under its combination.
// The key comes from the connection (reuse is what the record inherits as
// tw_reuse) rather than from the record, whose flags a worker may already
// be updating; twKey(to) yields the same key at release.
func (p *portTable) transfer(port uint16, from, to any, reuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl := p.lookup(port)
	if sl == nil {
		return
	}
	b := p.bucket(port, sl)
	if b == nil {
		return
	}
	o, ok := b.owners[from]
	if !ok {
		return
	}
	p.removeOwner(port, sl, from)
	o.reuse, o.listen = reuse, false
	if r, isRec := to.(*timewait.Record); isRec {
		o.addr = r.LocalAddr // immutable; equal to the bound address after connect
		p.addTW(port, sl, o)
	} else {
		p.addOwner(port, sl, to, o)
	}
	p.tidy(port, sl)
}

// connectBound is __inet_hash_connect for a socket whose port was bound
// explicitly: only the 4-tuple check runs (TW-REUSE-8), and a displaced
// TIME-WAIT record leaves the bucket (TW-REUSE-10).
func (p *portTable) connectBound(port uint16, insert func(port uint16) (bool, any)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok, displaced := insert(port)
	if !ok {
		return syscall.EADDRNOTAVAIL
	}
	if sl := p.lookup(port); sl != nil && displaced != nil {
		p.removeOwner(port, sl, displaced)
		p.tidy(port, sl)
	}
	return nil
}

// inUse reports whether port has a bucket (for tests and ss).
func (p *portTable) inUse(port uint16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lookup(port) != nil
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
			sl := p.lookup(uint16(port))
			if sl != nil && sl.flags&slotByBind != 0 {
				continue
			}
			ok, displaced := insert(uint16(port))
			if !ok {
				continue
			}
			if sl == nil {
				sl = p.create(uint16(port), false)
			}
			// c first: the displaced record may be the port's last owner.
			p.addOwner(uint16(port), sl, c, portOwner{addr: laddr})
			if displaced != nil {
				p.removeOwner(uint16(port), sl, displaced) // TW-REUSE-10
			}
			p.tidy(uint16(port), sl)
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

// twRecords returns how many TIME-WAIT records hold port (for tests).
func (p *portTable) twRecords(port uint16) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sl := p.lookup(port); sl != nil {
		return p.twCount(port, sl)
	}
	return 0
}
