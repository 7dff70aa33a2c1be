package stack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"

	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
)

func TestPortSlotSize(t *testing.T) {
	if sz := unsafe.Sizeof(portSlot{}); sz != 12 {
		t.Errorf("portSlot is %d bytes, want 12", sz)
	}
	if sz := unsafe.Sizeof(portPage{}); sz != 3072 {
		t.Errorf("portPage is %d bytes, want 3072 (a size class)", sz)
	}
}

// portModel is the bind hash as one plain bucket per port: the reference
// TestPortTableAgainstModel compares the slot-and-bucket table with.
type portModel struct {
	owners map[any]portOwner
	tw     map[portOwner]int
	byBind bool
}

func (m *portModel) conflict(addr [4]byte, reuse, rport bool) bool {
	for k, n := range m.tw {
		if n > 0 && bindConflict(k, addr, reuse, rport) {
			return true
		}
	}
	for _, o := range m.owners {
		if bindConflict(o, addr, reuse, rport) {
			return true
		}
	}
	return false
}

func (m *portModel) records() int {
	n := 0
	for _, c := range m.tw {
		n += c
	}
	return n
}

// TestPortTableAgainstModel (PORT-4, PORT-8, TW-LOOKUP-8, TW-ENTER-7,
// TW-REUSE-10) runs random binds, joins, connects, TIME-WAIT entries,
// displacements and releases over ports of both parities and several
// pages against portModel, checking after every step what the table
// answers (in use, bind()-made, record count, owners, conflicts) and its
// own bookkeeping: page counts, pages freed when empty, full parts present
// exactly when flagged and never empty.
func TestPortTableAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// connect()s below narrow ip_local_port_range to the port at hand.
	s, _, _ := newCaptureStack(t, func(o *Options) { o.IPUnprivilegedPortStart = 0 })
	p := &s.ports
	ports := []uint16{1, 2, 255, 256, 257, 5000, 5001, 5002, 40000, 40001, 40256, 65534, 65535}
	addrs := [][4]byte{{10, 0, 0, 1}, {10, 0, 0, 9}, {}}
	randKey := func() portOwner {
		return portOwner{addr: addrs[rng.IntN(len(addrs))], reuse: rng.IntN(2) == 0, rport: rng.IntN(4) == 0}
	}
	model := map[uint16]*portModel{}
	get := func(port uint16) *portModel {
		m := model[port]
		if m == nil {
			m = &portModel{owners: map[any]portOwner{}, tw: map[portOwner]int{}}
			model[port] = m
		}
		return m
	}
	type held struct {
		port  uint16
		owner any
	}
	var conns, recs []held
	take := func(list *[]held) held {
		i := rng.IntN(len(*list))
		h := (*list)[i]
		(*list)[i] = (*list)[len(*list)-1]
		*list = (*list)[:len(*list)-1]
		return h
	}
	drop := func(port uint16) {
		if m := model[port]; m != nil && len(m.owners) == 0 && m.records() == 0 {
			delete(model, port)
		}
	}
	newRecord := func(port uint16, k portOwner) *timewait.Record {
		var f timewait.Flags
		if k.reuse {
			f |= timewait.FlagReuseAddr
		}
		if k.rport {
			f |= timewait.FlagReusePort
		}
		return testRecord(tcp.Tuple{LocalAddr: k.addr, LocalPort: port, RemotePort: uint16(rng.Uint32())}, f)
	}
	check := func(step int) {
		t.Helper()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, port := range ports {
			m, sl := model[port], p.lookup(port)
			if (m != nil) != (sl != nil) {
				t.Fatalf("step %d: port %d in use %v, model %v", step, port, sl != nil, m != nil)
			}
			if m == nil {
				continue
			}
			b := p.bucket(port, sl)
			owners := 0
			if b != nil {
				owners = len(b.owners)
				if len(b.owners) == 0 && len(b.tw) == 0 {
					t.Fatalf("step %d: port %d keeps an empty full part", step, port)
				}
			}
			if got := p.twCount(port, sl); got != m.records() || owners != len(m.owners) {
				t.Fatalf("step %d: port %d has %d records, %d owners; model %d, %d",
					step, port, got, owners, m.records(), len(m.owners))
			}
			if byBind := sl.flags&slotByBind != 0; byBind != m.byBind {
				t.Fatalf("step %d: port %d bind()-made %v, model %v", step, port, byBind, m.byBind)
			}
			for range 4 {
				k := randKey()
				if got, want := p.conflictLocked(port, sl, k.addr, k.reuse, k.rport), m.conflict(k.addr, k.reuse, k.rport); got != want {
					t.Fatalf("step %d: port %d conflict(%+v) = %v, model %v", step, port, k, got, want)
				}
			}
		}
		full := 0
		for i, pg := range p.pages {
			live := 0
			if pg != nil {
				for j := range pg {
					if sl := &pg[j]; sl.flags&slotLive != 0 {
						live++
						if sl.flags&slotFull != 0 {
							full++
						}
					} else if *sl != (portSlot{}) {
						t.Fatalf("step %d: page %d slot %d dead but not zero: %+v", step, i, j, *sl)
					}
				}
			}
			if live != int(p.used[i]) || (pg != nil) != (live > 0) {
				t.Fatalf("step %d: page %d has %d live slots, count %d, present %v", step, i, live, p.used[i], pg != nil)
			}
		}
		if full != len(p.full) {
			t.Fatalf("step %d: %d slots flag a full part, map holds %d", step, full, len(p.full))
		}
	}

	for step := range 20_000 {
		port := ports[rng.IntN(len(ports))]
		switch op := rng.IntN(10); {
		case op < 2: // bind() or listen()
			o := randKey()
			o.listen = rng.IntN(3) == 0
			owner := new(int)
			m := model[port]
			want := m != nil && m.conflict(o.addr, o.reuse, o.rport)
			_, err := p.bindOpts(o.addr, port, o, owner)
			if (err != nil) != want || (err != nil && !errors.Is(err, syscall.EADDRINUSE)) {
				t.Fatalf("step %d: bind %d %+v: %v, want conflict %v", step, port, o, err, want)
			}
			if err == nil {
				if m == nil {
					get(port).byBind = true
				}
				get(port).owners[owner] = o
				conns = append(conns, held{port, owner})
			}
		case op < 4: // an accepted child joins, or a connect()-made port
			o := randKey()
			var owner any = new(int)
			if rng.IntN(2) == 0 {
				if model[port] == nil {
					get(port).byBind = true
				}
				p.join(port, o, owner)
			} else {
				if m := model[port]; m != nil && m.byBind {
					continue // connect()'s search skips it (PORT-4)
				}
				o = portOwner{addr: o.addr}
				var displaced any
				if len(recs) > 0 && rng.IntN(2) == 0 {
					for i, h := range recs {
						if h.port == port {
							displaced = h.owner
							recs[i] = recs[len(recs)-1]
							recs = recs[:len(recs)-1]
							break
						}
					}
				}
				if err := s.SetOption("net.ipv4.ip_local_port_range", fmt.Sprintf("%d %d", port, port)); err != nil {
					t.Fatal(err)
				}
				c := s.newConn()
				got, err := p.connectPort(o.addr, [4]byte{10, 0, 0, 2}, 80, c, func(uint16) (bool, any) { return true, displaced })
				if err != nil || got != port {
					t.Fatalf("step %d: connect on %d: %d, %v", step, port, got, err)
				}
				owner = c
				get(port)
				if displaced != nil {
					get(port).tw[twKey(displaced.(*timewait.Record))]--
				}
			}
			get(port).owners[owner] = o
			conns = append(conns, held{port, owner})
		case op < 7: // a connection enters TIME-WAIT
			if len(conns) == 0 {
				continue
			}
			h := take(&conns)
			o := model[h.port].owners[h.owner]
			reuse := rng.IntN(2) == 0
			k := portOwner{addr: o.addr, reuse: reuse, rport: o.rport}
			if k.addr == ([4]byte{}) {
				k.addr = addrs[0] // a connected socket has an address
			}
			r := newRecord(h.port, k)
			p.transfer(h.port, h.owner, r, reuse)
			m := model[h.port]
			delete(m.owners, h.owner)
			m.tw[k]++
			recs = append(recs, held{h.port, r})
		default: // a connection or a record goes
			list := &recs
			if len(conns) > 0 && (len(recs) == 0 || rng.IntN(2) == 0) {
				list = &conns
			}
			if len(*list) == 0 {
				continue
			}
			h := take(list)
			p.release(h.port, h.owner)
			m := model[h.port]
			if r, ok := h.owner.(*timewait.Record); ok {
				m.tw[twKey(r)]--
			} else {
				delete(m.owners, h.owner)
			}
			drop(h.port)
		}
		for _, port := range ports {
			drop(port)
		}
		check(step)
	}
	for _, h := range append(conns, recs...) {
		p.release(h.port, h.owner)
	}
	if len(p.full) != 0 || p.pages != [portPages]*portPage{} || p.used != [portPages]uint16{} {
		t.Fatalf("after the last release: %d full parts, pages left", len(p.full))
	}
}

// TestPortFullMapShrinks: once a client's connections have all turned into
// records, the map of full parts is rebuilt small instead of keeping a
// slot per port it once held, and every record still counts.
func TestPortFullMapShrinks(t *testing.T) {
	s, _, _ := newCaptureStack(t, nil)
	p := &s.ports
	const n = 1000
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = s.newConn()
		p.join(uint16(20000+i), portOwner{addr: [4]byte{10, 0, 0, 1}}, conns[i])
	}
	if p.fullPeak != n {
		t.Fatalf("peak %d, want %d", p.fullPeak, n)
	}
	for i, c := range conns {
		port := uint16(20000 + i)
		p.transfer(port, c, testRecord(tcp.Tuple{LocalAddr: [4]byte{10, 0, 0, 1}, LocalPort: port}, 0), false)
	}
	if len(p.full) != 0 || p.fullPeak > n/8 {
		t.Fatalf("after TIME-WAIT: %d full parts, peak %d", len(p.full), p.fullPeak)
	}
	for i := range n {
		if got := p.twRecords(uint16(20000 + i)); got != 1 {
			t.Fatalf("port %d counts %d records", 20000+i, got)
		}
	}
}

// TestPortLookupNoAllocs: the port table's questions (in use, how many
// records, does a bind conflict) allocate nothing, on a record-only port
// and on one with a listener.
func TestPortLookupNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	s, _, _ := newCaptureStack(t, nil)
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := [4]byte{10, 0, 0, 1}
	for _, port := range []uint16{80, 40000} {
		c := s.newConn()
		s.ports.join(port, portOwner{addr: a}, c)
		s.ports.transfer(port, c, testRecord(tcp.Tuple{LocalAddr: a, LocalPort: port}, 0), false)
	}
	owner := new(int)
	if n := testing.AllocsPerRun(1000, func() {
		for _, port := range []uint16{80, 40000, 40001} {
			s.ports.inUse(port)
			s.ports.twRecords(port)
		}
		if _, err := s.ports.bind(a, 40000, false, false, owner); err == nil {
			t.Fatal("bind over a record succeeded")
		}
	}); n != 0 {
		t.Errorf("%.1f allocs per lookup round", n)
	}
}
