package stack

import (
	"runtime"
	"testing"

	"github.com/ustack/ustack/tcp"
)

// clientFill is how a client-side test connection gets its local port.
type clientFill int

const (
	// connect() without bind(): connectPort picks an even port from the
	// keyed offset (PORT-2, PORT-3); a connect()-made bucket.
	fillConnect clientFill = iota
	// bind(port 0) then connect(): bind picks a free port, odd ones first
	// (PORT-3); a bind()-made bucket, one record per port.
	fillBindPort0
	// SO_REUSEADDR bind() to port lo + i % (ports in the range), then
	// connect(): each record of a port shares one combination (PORT-8).
	fillBindReuse
)

// fillClientTimeWait puts n client-side TIME-WAIT records into s, each the
// way the stack makes it for an active opener: a connection is hashed
// and owns its local port through the port table (mode), then
// enterTimeWait replaces it by a record (death-row admission and timer,
// the table slot, the port ownership, TW-ENTER-7). Record i goes to
// 10.1.0.0/16 + i % dests, port 80; with the bind modes the destination
// follows from i instead, so that every 4-tuple is unique. tmpl supplies
// the engine's TIME-WAIT state (see fillTimeWait).
func fillClientTimeWait(tb testing.TB, s *Stack, n int, mode clientFill, dests int, tmpl *tcp.Conn) {
	tb.Helper()
	src := addrA.As4()
	lo, hi := s.o().IPLocalPortRange[0], s.o().IPLocalPortRange[1]
	span := hi - lo + 1
	now := s.now()
	for i := range n {
		d := i % dests
		if mode != fillConnect {
			d = i / span
		}
		dst := [4]byte{10, 1 + byte(d>>16), byte(d >> 8), byte(d)}
		c := s.newConn()
		c.tc = tmpl
		c.mu.Lock()
		// __inet_check_established without TIME-WAIT reuse: the 4-tuple
		// must be free.
		insert := func(port uint16) (bool, any) {
			k := tcp.Tuple{LocalAddr: src, RemoteAddr: dst, LocalPort: port, RemotePort: 80}
			h := s.flowHash(&k)
			if !s.table.insertConn(h, k, c) {
				return false, nil
			}
			c.tuple, c.hash, c.hashed = k, h, true
			return true, nil
		}
		var err error
		switch mode {
		case fillConnect:
			_, err = s.ports.connectPort(src, dst, 80, c, insert)
		case fillBindPort0, fillBindReuse:
			port := uint16(0)
			if mode == fillBindReuse {
				port, c.reuse = uint16(lo+i%span), true
			}
			if port, err = s.ports.bind(src, port, c.reuse, false, c); err == nil {
				c.boundPort = true
				err = s.ports.connectBound(port, insert)
			}
		}
		if err != nil {
			tb.Fatalf("record %d: %v", i, err)
		}
		c.ownsPort = true
		s.enterTimeWait(c, now)
		c.mu.Unlock()
		if e := s.table.lookup(c.hash, c.tuple); e.tw == nil {
			tb.Fatalf("record %d refused by the death row", i)
		}
	}
}

// bytesPerClientRecord measures the heap that n client-side records add to
// a fresh stack (record, timer link, table slot, port table) and returns
// it with the number of local ports the records hold.
func bytesPerClientRecord(tb testing.TB, n int, mode clientFill, dests int) (float64, int) {
	tmpl := twTemplate(tb)
	s, _ := newTWStack(tb, n)
	base := heapAfterGC()
	fillClientTimeWait(tb, s, n, mode, dests, tmpl)
	per := (float64(heapAfterGC()) - float64(base)) / float64(n)
	if _, recs := s.table.counts(); recs != n || s.tw.len() != n {
		tb.Fatalf("table %d, death row %d records, want %d", recs, s.tw.len(), n)
	}
	ports, counted := 0, 0
	for p := 1; p <= 65535; p++ {
		if s.ports.inUse(uint16(p)) {
			ports++
			counted += s.ports.twRecords(uint16(p))
		}
	}
	if counted != n {
		tb.Fatalf("port table counts %d records, want %d", counted, n)
	}
	runtime.KeepAlive(s)
	s.Close()
	return per, ports
}

// TestTimeWaitMemoryClientSide: the bound of 128 heap bytes per
// TIME-WAIT record, table, timer and port table included, holds on the
// client side too, where the records spread over the ephemeral ports and
// every port is held by a few records only (TW-LOOKUP-8: each record
// keeps its port in use; TW-ENTER-7).
func TestTimeWaitMemoryClientSide(t *testing.T) {
	if raceEnabled {
		t.Skip("heap sizes under -race include the detector's bookkeeping")
	}
	if testing.Short() {
		t.Skip("fills 2 x 100,000 records")
	}
	tests := []struct {
		name     string
		n        int
		mode     clientFill
		dests    int
		minPorts int
	}{
		// 3.5 records on each of the 28,232 ports of the default range.
		{"reuseaddr_bind_whole_range", 100_000, fillBindReuse, 1, 28_232},
		// connect() to 100,000 servers: about 7 records on each even port.
		{"connect_many_destinations", 100_000, fillConnect, 100_000, 14_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			per, ports := bytesPerClientRecord(t, tt.n, tt.mode, tt.dests)
			t.Logf("%.1f bytes per TIME-WAIT record, %d records over %d ports", per, tt.n, ports)
			if ports < tt.minPorts {
				t.Fatalf("records hold %d ports, want at least %d", ports, tt.minPorts)
			}
			if per > 128 {
				t.Errorf("%.1f bytes per record, want <= 128", per)
			}
		})
	}
}

// BenchmarkClientTimeWait reports the heap per client-side TIME-WAIT
// record (record, timer link, table slot and port table) when every record
// holds a port of its own, the worst case for the port table:
//
//	B/record-port0      bind(port 0) + connect(), 28,232 records over the
//	                    whole default range (bind()-made buckets)
//	B/record-1dest      connect() to one server, 14,000 records over as many
//	                    even ports (one per port: the 4-tuples must differ)
//	B/record-spread     100,000 records, 3.5 on each port of the range
func BenchmarkClientTimeWait(b *testing.B) {
	if testing.Short() {
		b.Skip("fills 142,232 records")
	}
	for range b.N {
		port0, n0 := bytesPerClientRecord(b, 28_232, fillBindPort0, 1)
		one, n1 := bytesPerClientRecord(b, 14_000, fillConnect, 1)
		spread, _ := bytesPerClientRecord(b, 100_000, fillBindReuse, 1)
		if n0 != 28_232 || n1 != 14_000 {
			b.Fatalf("records hold %d and %d ports, want one port each", n0, n1)
		}
		b.ReportMetric(port0, "B/record-port0")
		b.ReportMetric(one, "B/record-1dest")
		b.ReportMetric(spread, "B/record-spread")
	}
}
