// Package metrics holds the stack's counters, named and ordered like the
// Linux MIBs (/proc/net/snmp, /proc/net/netstat), and prints them in the
// kernel's formats so that the same tools and tests read both.
//
// A Counters belongs to one stack; there is no package-level state, so two
// stacks in one process keep separate counts.
package metrics

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// ID names one counter. The constants (mib.go) are the kernel's group and
// field names run together: TcpExtTW, TcpActiveOpens, IpInReceives.
type ID int

// Group is a MIB group, a line pair in /proc/net/snmp or /proc/net/netstat.
type Group int

const (
	GroupIp Group = iota
	GroupIcmp
	GroupTcp
	GroupTcpExt
	GroupIpExt
	GroupUstack
	// GroupTcpExtLegacy holds TcpExt counters that older kernels had and
	// 6.18 no longer prints (PAWSPassive, removed with tcp_tw_recycle). They
	// keep their kernel names but stay out of the 6.18 netstat layout; only
	// the opt-in linux-4.11 profile counts them.
	GroupTcpExtLegacy
	numGroups
)

var groupNames = [numGroups]string{"Ip", "Icmp", "Tcp", "TcpExt", "IpExt", "Ustack", "TcpExt"}

// String returns the group's name as the kernel prints it ("TcpExt").
func (g Group) String() string {
	if g < 0 || g >= numGroups {
		return fmt.Sprintf("Group(%d)", int(g))
	}
	return groupNames[g]
}

// Valid reports whether id is one of the constants.
func (id ID) Valid() bool { return id >= 0 && id < NumIDs }

// Name returns the group and field name of id, e.g. ("TcpExt", "TW").
func Name(id ID) (group, name string) {
	if !id.Valid() {
		return "", ""
	}
	return mib[id].group.String(), mib[id].name
}

// GroupOf returns the group id belongs to.
func GroupOf(id ID) Group { return mib[id].group }

// String returns the nstat name of id ("TcpExtTW").
func (id ID) String() string {
	if !id.Valid() {
		return fmt.Sprintf("ID(%d)", int(id))
	}
	return mib[id].group.String() + mib[id].name
}

// IsGauge reports whether id is a level rather than a running count: the
// constants of the Ip and Tcp groups and TcpCurrEstab. nstat leaves exactly
// these out ("useless numbers").
func IsGauge(id ID) bool {
	switch id {
	case IpForwarding, IpDefaultTTL, TcpRtoAlgorithm, TcpRtoMin, TcpRtoMax, TcpMaxConn, TcpCurrEstab:
		return true
	}
	return false
}

// isSigned: TcpMaxConn is printed signed (RFC 2012), Linux shows -1.
func isSigned(id ID) bool { return id == TcpMaxConn }

var byName = sync.OnceValue(func() map[string]ID {
	m := make(map[string]ID, NumIDs)
	for id := range NumIDs {
		m[id.String()] = id
	}
	return m
})

// Lookup returns the ID with the given nstat name ("TcpExtTW").
func Lookup(name string) (ID, bool) {
	id, ok := byName()[name]
	return id, ok
}

// Counters holds every counter of one stack. All methods are safe for
// concurrent use and do not allocate. The zero value is ready to use with
// all counters 0; New also fills in the constants Linux reports. The update
// methods are no-ops on a nil *Counters, so engines under test may run
// without one.
type Counters struct {
	v [NumIDs]atomic.Uint64
}

// Values Linux reports for the constant fields of the Ip and Tcp groups.
const (
	notForwarding = 2      // IpForwarding: 1 router, 2 host
	defaultTTL    = 64     // net.ipv4.ip_default_ttl
	rtoAlgorithm  = 1      // "other": Van Jacobson's, RFC 2012
	rtoMinMS      = 200    // TCP_RTO_MIN
	rtoMaxMS      = 120000 // TCP_RTO_MAX
)

// New returns counters at zero with the constant fields set as on Linux:
// Forwarding 2, DefaultTTL 64, RtoAlgorithm 1, RtoMin 200, RtoMax 120000,
// MaxConn -1. The stack overrides what its options change with Set.
func New() *Counters {
	c := new(Counters)
	c.Set(IpForwarding, notForwarding)
	c.Set(IpDefaultTTL, defaultTTL)
	c.Set(TcpRtoAlgorithm, rtoAlgorithm)
	c.Set(TcpRtoMin, rtoMinMS)
	c.Set(TcpRtoMax, rtoMaxMS)
	c.SetSigned(TcpMaxConn, -1)
	return c
}

// Inc adds 1 to id.
func (c *Counters) Inc(id ID) {
	if c != nil {
		c.v[id].Add(1)
	}
}

// Add adds n to id.
func (c *Counters) Add(id ID, n uint64) {
	if c != nil {
		c.v[id].Add(n)
	}
}

// Dec subtracts 1 from a gauge (TcpCurrEstab).
func (c *Counters) Dec(id ID) {
	if c != nil {
		c.v[id].Add(^uint64(0))
	}
}

// Set stores v in a gauge.
func (c *Counters) Set(id ID, v uint64) {
	if c != nil {
		c.v[id].Store(v)
	}
}

// SetSigned stores a negative-capable gauge value (TcpMaxConn = -1).
func (c *Counters) SetSigned(id ID, v int64) { c.Set(id, uint64(v)) }

// Get returns the current value of id (0 on a nil *Counters).
func (c *Counters) Get(id ID) uint64 {
	if c == nil {
		return 0
	}
	return c.v[id].Load()
}

// Snapshot is a copy of all counters at one moment (each read atomically,
// the set not as one transaction, like the kernel's per-cpu fold).
type Snapshot [NumIDs]uint64

// Snapshot copies all counters.
func (c *Counters) Snapshot() Snapshot {
	var s Snapshot
	if c == nil {
		return s
	}
	for i := range s {
		s[i] = c.v[i].Load()
	}
	return s
}

// Get returns the value of id in s.
func (s *Snapshot) Get(id ID) uint64 { return s[id] }

// Sub returns s minus old for counters and s's value for gauges: what
// happened between two snapshots.
func (s *Snapshot) Sub(old *Snapshot) Snapshot {
	var d Snapshot
	for i := range d {
		if IsGauge(ID(i)) {
			d[i] = s[i]
		} else {
			d[i] = s[i] - old[i]
		}
	}
	return d
}

// Map returns the snapshot keyed by nstat name ("TcpExtTW"), the shape
// ParseNstat returns for a kernel, so tests can compare the two.
func (s *Snapshot) Map() map[string]uint64 {
	m := make(map[string]uint64, NumIDs)
	for i, v := range s {
		m[ID(i).String()] = v
	}
	return m
}
