package stack

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/ustack/ustack/tcp"
)

// SocketInfo is one line of `ss -tan`.
type SocketInfo struct {
	State  tcp.State // a TIME-WAIT record reports its substate (FW2-10)
	Local  netip.AddrPort
	Remote netip.AddrPort
	RecvQ  int // bytes readable; for a listener the accept queue length
	SendQ  int // bytes unacknowledged; for a listener the backlog
	// TimeWait is set for TIME-WAIT records, with the time left before the
	// record expires (timer type 3 in /proc/net/tcp).
	TimeWait  bool
	Remaining time.Duration
	Orphan    bool
}

// String formats s like a line of ss -tan.
func (s SocketInfo) String() string {
	line := fmt.Sprintf("%-10s %-6d %-6d %-21s %-21s", s.State, s.RecvQ, s.SendQ, s.Local, s.Remote)
	if s.TimeWait {
		line += fmt.Sprintf(" timer:(timewait,%.3fsec,0)", s.Remaining.Seconds())
	}
	return strings.TrimRight(line, " ")
}

// Sockets lists listeners, connections and TIME-WAIT records, sorted by
// local then remote address.
func (s *Stack) Sockets() []SocketInfo {
	now := s.now()
	var out []SocketInfo
	for _, l := range s.listeners.all() {
		l.mu.Lock()
		q := len(l.acceptq)
		l.mu.Unlock()
		out = append(out, SocketInfo{
			State:  tcp.StateListen,
			Local:  netip.AddrPortFrom(netip.AddrFrom4(l.addr), l.port),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{}), 0),
			RecvQ:  q,
			SendQ:  l.backlog,
		})
	}
	for _, e := range s.table.snapshot() {
		switch {
		case e.c != nil:
			c := e.c
			c.mu.Lock()
			if c.tc != nil {
				info := c.tc.Info()
				out = append(out, SocketInfo{
					State:  info.State,
					Local:  netip.AddrPortFrom(netip.AddrFrom4(c.tuple.LocalAddr), c.tuple.LocalPort),
					Remote: netip.AddrPortFrom(netip.AddrFrom4(c.tuple.RemoteAddr), c.tuple.RemotePort),
					RecvQ:  info.RecvQueue,
					SendQ:  info.SendQueue,
					Orphan: c.userClose,
				})
			}
			c.mu.Unlock()
		case e.tw != nil:
			r := e.tw
			k := tcp.Tuple(r.Tuple)
			sh := s.table.shard(s.flowHash(&k))
			sh.mu.RLock()
			st := tcp.State(r.Substate)
			sh.mu.RUnlock()
			out = append(out, SocketInfo{
				State:     st,
				Local:     netip.AddrPortFrom(netip.AddrFrom4(k.LocalAddr), k.LocalPort),
				Remote:    netip.AddrPortFrom(netip.AddrFrom4(k.RemoteAddr), k.RemotePort),
				TimeWait:  true,
				Remaining: s.tw.remaining(r, now),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Local.Compare(out[j].Local); c != 0 {
			return c < 0
		}
		return out[i].Remote.Compare(out[j].Remote) < 0
	})
	return out
}

// Sockstat is the TCP line of /proc/net/sockstat (MIB-STAT-1..3).
type Sockstat struct {
	InUse  int // listeners and hashed connections
	Orphan int // closed by the application, still alive
	TW     int // TIME-WAIT records (both substates)
	Alloc  int // hashed sockets including listeners (connections the application still holds after CLOSE are not tracked)
}

// String formats like /proc/net/sockstat.
func (st Sockstat) String() string {
	return fmt.Sprintf("TCP: inuse %d orphan %d tw %d alloc %d mem 0", st.InUse, st.Orphan, st.TW, st.Alloc)
}

// Sockstat returns the socket counts. Like /proc/net/sockstat it reads
// counters and walks nothing: orphans are the stack's orphan count
// (ORPHAN-1, the exact value, not tcp_max_orphans' 100 ms cache), records
// the death row's.
func (s *Stack) Sockstat() Sockstat {
	var st Sockstat
	conns, _ := s.table.counts()
	st.InUse = len(s.listeners.all()) + conns
	st.Orphan = s.orphanTotal()
	st.Alloc = st.InUse
	st.TW = s.tw.len()
	return st
}

// abandonAll wakes every waiter when the stack closes; blocked calls see
// the stack's closed channel and return net.ErrClosed.
func (s *Stack) abandonAll() {
	for _, e := range s.table.snapshot() {
		if e.c != nil {
			e.c.signal(readEvents | writeEvents)
		}
	}
	for _, l := range s.listeners.all() {
		l.acceptWait.signal()
	}
}
