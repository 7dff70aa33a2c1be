package metrics

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Which file each group is printed in, in the kernel's order.
var (
	snmpGroups    = []Group{GroupIp, GroupIcmp, GroupTcp}
	netstatGroups = []Group{GroupTcpExt, GroupIpExt, GroupUstack}
)

// groupRange returns the IDs [lo, hi) of g; the table is grouped.
func groupRange(g Group) (lo, hi ID) {
	lo = 0
	for lo < NumIDs && mib[lo].group != g {
		lo++
	}
	hi = lo
	for hi < NumIDs && mib[hi].group == g {
		hi++
	}
	return lo, hi
}

func (s *Snapshot) writeGroups(w io.Writer, groups []Group) error {
	bw := bufio.NewWriter(w)
	for _, g := range groups {
		lo, hi := groupRange(g)
		bw.WriteString(g.String())
		bw.WriteByte(':')
		for id := lo; id < hi; id++ {
			bw.WriteByte(' ')
			bw.WriteString(mib[id].name)
		}
		bw.WriteByte('\n')
		bw.WriteString(g.String())
		bw.WriteByte(':')
		var num [24]byte
		for id := lo; id < hi; id++ {
			bw.WriteByte(' ')
			bw.Write(s.appendValue(num[:0], id))
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func (s *Snapshot) appendValue(b []byte, id ID) []byte {
	if isSigned(id) {
		return strconv.AppendInt(b, int64(s[id]), 10)
	}
	return strconv.AppendUint(b, s[id], 10)
}

// WriteSNMP writes the Ip, Icmp and Tcp groups as /proc/net/snmp does: per
// group a line of names and a line of values, each starting "Group:". The
// kernel's IcmpMsg, Udp and UdpLite groups are not kept by ustack.
func (s *Snapshot) WriteSNMP(w io.Writer) error { return s.writeGroups(w, snmpGroups) }

// WriteNetstat writes the TcpExt and IpExt groups as /proc/net/netstat
// does, followed by the Ustack group in the same two-line form.
func (s *Snapshot) WriteNetstat(w io.Writer) error { return s.writeGroups(w, netstatGroups) }

// WriteNstat writes every counter one per line as `nstat -a` does ("-az"
// with zeros): name padded to 32, value padded to 16, then the rate, which
// is always 0.0 here. Like nstat it leaves out the gauges (IsGauge), and it
// starts with a "#ustack" comment line where nstat writes "#kernel".
func (s *Snapshot) WriteNstat(w io.Writer, zeros bool) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("#ustack\n")
	for _, g := range append(snmpGroups[:len(snmpGroups):len(snmpGroups)], netstatGroups...) {
		lo, hi := groupRange(g)
		for id := lo; id < hi; id++ {
			if IsGauge(id) || (!zeros && s[id] == 0) {
				continue
			}
			fmt.Fprintf(bw, "%-32s%-16d%6.1f\n", id.String(), s[id], 0.0)
		}
	}
	// Counters 6.18 no longer has appear only once they count something.
	lo, hi := groupRange(GroupTcpExtLegacy)
	for id := lo; id < hi; id++ {
		if s[id] != 0 {
			fmt.Fprintf(bw, "%-32s%-16d%6.1f\n", id.String(), s[id], 0.0)
		}
	}
	return bw.Flush()
}

// WriteSNMP writes a snapshot of c; see Snapshot.WriteSNMP.
func (c *Counters) WriteSNMP(w io.Writer) error { s := c.Snapshot(); return s.WriteSNMP(w) }

// WriteNetstat writes a snapshot of c; see Snapshot.WriteNetstat.
func (c *Counters) WriteNetstat(w io.Writer) error { s := c.Snapshot(); return s.WriteNetstat(w) }

// WriteNstat writes a snapshot of c; see Snapshot.WriteNstat.
func (c *Counters) WriteNstat(w io.Writer, zeros bool) error {
	s := c.Snapshot()
	return s.WriteNstat(w, zeros)
}

// ParseNstat reads the output of `nstat -az` (or WriteNstat) into a map from
// counter name to value, so integration tests can compare a kernel's
// counters with ustack's (Snapshot.Map). Comment lines ("#kernel") and
// blank lines are skipped; names the caller does not know are kept.
func ParseNstat(r io.Reader) (map[string]uint64, error) {
	m := make(map[string]uint64)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("metrics: nstat line %d: want name and value: %q", n, line)
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: nstat line %d: %w", n, err)
		}
		m[f[0]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Sockstat is the TCP line of /proc/net/sockstat. The stack computes it
// from its tables: InUse counts sockets in any state but TIME-WAIT and
// CLOSE (listeners included), Orphan closed-by-user sockets still in the
// table, TW TIME-WAIT records, Alloc allocated TCP sockets, Mem pages of
// buffer memory.
type Sockstat struct {
	InUse, Orphan, TW, Alloc, Mem int
}

// WriteSockstat writes s in the format of /proc/net/sockstat's TCP line:
// "TCP: inuse N orphan N tw N alloc N mem N".
func WriteSockstat(w io.Writer, s Sockstat) error {
	_, err := fmt.Fprintf(w, "TCP: inuse %d orphan %d tw %d alloc %d mem %d\n", s.InUse, s.Orphan, s.TW, s.Alloc, s.Mem)
	return err
}

// ParseSockstat finds the TCP line in /proc/net/sockstat text (a kernel's or
// WriteSockstat's) and returns it.
func ParseSockstat(r io.Reader) (Sockstat, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		var s Sockstat
		for i := 1; i+1 < len(f); i += 2 {
			v, err := strconv.Atoi(f[i+1])
			if err != nil {
				return Sockstat{}, fmt.Errorf("metrics: sockstat %s: %w", f[i], err)
			}
			switch f[i] {
			case "inuse":
				s.InUse = v
			case "orphan":
				s.Orphan = v
			case "tw":
				s.TW = v
			case "alloc":
				s.Alloc = v
			case "mem":
				s.Mem = v
			}
		}
		return s, nil
	}
	if err := sc.Err(); err != nil {
		return Sockstat{}, err
	}
	return Sockstat{}, fmt.Errorf("metrics: no TCP line in sockstat")
}
