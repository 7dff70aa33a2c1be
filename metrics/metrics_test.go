package metrics

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"sync"
	"testing"
)

// The constant names and the mib table must agree: constant i is named
// group+name of mib[i]. Read from the source, since Go has no reflection on
// constant names.
func TestConstantsMatchTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "mib.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
			for _, s := range g.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	if len(names) != int(NumIDs)+1 || names[len(names)-1] != "NumIDs" {
		t.Fatalf("%d constants, NumIDs=%d", len(names), NumIDs)
	}
	for i, n := range names[:NumIDs] {
		if got := ID(i).String(); got != n {
			t.Errorf("constant %d is %s but its table entry says %s", i, n, got)
		}
	}
}

func TestNamesUnique(t *testing.T) {
	seen := map[string]ID{}
	for id := range NumIDs {
		g, n := Name(id)
		if g == "" || n == "" || strings.ContainsAny(n, " \t:") {
			t.Errorf("%d: bad name %q %q", id, g, n)
		}
		if prev, dup := seen[id.String()]; dup {
			t.Errorf("%s used by %d and %d", id, prev, id)
		}
		seen[id.String()] = id
		if got, ok := Lookup(id.String()); !ok || got != id {
			t.Errorf("Lookup(%s) = %d, %v", id, got, ok)
		}
	}
	if _, ok := Lookup("TcpExtNoSuchThing"); ok {
		t.Error("Lookup of unknown name succeeded")
	}
	// Groups are contiguous, in kernel order.
	for id := ID(1); id < NumIDs; id++ {
		if GroupOf(id) < GroupOf(id-1) {
			t.Fatalf("%s out of group order", id)
		}
	}
}

func TestNameOf(t *testing.T) {
	for _, tc := range []struct {
		id          ID
		group, name string
	}{
		{TcpExtTW, "TcpExt", "TW"},
		{TcpExtPAWSEstab, "TcpExt", "PAWSEstab"},
		{TcpExtPAWSTimewait, "TcpExt", "PAWSTimewait"},
		{TcpActiveOpens, "Tcp", "ActiveOpens"},
		{IpInReceives, "Ip", "InReceives"},
		{IpExtInTruncatedPkts, "IpExt", "InTruncatedPkts"},
		{IcmpInEchos, "Icmp", "InEchos"},
		{UstackBadOptions, "Ustack", "BadOptions"},
	} {
		g, n := Name(tc.id)
		if g != tc.group || n != tc.name {
			t.Errorf("Name(%d) = %s %s, want %s %s", tc.id, g, n, tc.group, tc.name)
		}
	}
	if g, n := Name(NumIDs); g != "" || n != "" {
		t.Error("Name of invalid ID")
	}
	if !strings.HasPrefix(NumIDs.String(), "ID(") || NumIDs.Valid() || ID(-1).Valid() {
		t.Error("invalid IDs")
	}
}

// When the test runs on a Linux 6.18 host, the name lines must be the
// kernel's exactly.
func TestLayoutMatchesHostKernel(t *testing.T) {
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil || !strings.HasPrefix(string(rel), "6.18") {
		t.Skip("host kernel is not 6.18; layout checked against it only there")
	}
	var buf bytes.Buffer
	s := New().Snapshot()
	s.WriteNetstat(&buf)
	s.WriteSNMP(&buf)
	ours := map[string]string{}
	for i, l := range strings.Split(buf.String(), "\n") {
		if i%2 == 0 && l != "" {
			ours[l[:strings.IndexByte(l, ':')]] = l
		}
	}
	for _, file := range []string{"/proc/net/netstat", "/proc/net/snmp"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Skip(err)
		}
		for i, l := range strings.Split(string(b), "\n") {
			if i%2 != 0 || l == "" {
				continue
			}
			g := l[:strings.IndexByte(l, ':')]
			if want, ok := ours[g]; ok && want != l {
				t.Errorf("%s header differs from %s:\nours:   %s\nkernel: %s", g, file, want, l)
			}
		}
	}
}

func TestCounters(t *testing.T) {
	c := New()
	c.Inc(TcpExtTW)
	c.Add(TcpExtTW, 4)
	c.Inc(TcpCurrEstab)
	c.Inc(TcpCurrEstab)
	c.Dec(TcpCurrEstab)
	if c.Get(TcpExtTW) != 5 || c.Get(TcpCurrEstab) != 1 || c.Get(IpDefaultTTL) != 64 || int64(c.Get(TcpMaxConn)) != -1 {
		t.Fatalf("TW=%d CurrEstab=%d", c.Get(TcpExtTW), c.Get(TcpCurrEstab))
	}
	old := c.Snapshot()
	c.Add(TcpExtTW, 2)
	c.Dec(TcpCurrEstab)
	now := c.Snapshot()
	d := now.Sub(&old)
	if d.Get(TcpExtTW) != 2 || d.Get(TcpCurrEstab) != 0 || d.Get(IpDefaultTTL) != 64 {
		t.Fatalf("delta TW=%d CurrEstab=%d TTL=%d", d.Get(TcpExtTW), d.Get(TcpCurrEstab), d.Get(IpDefaultTTL))
	}
	if m := now.Map(); m["TcpExtTW"] != 7 || len(m) != int(NumIDs) {
		t.Fatal("Map")
	}

	var z *Counters // nil is a valid sink
	z.Inc(TcpExtTW)
	z.Add(TcpExtTW, 1)
	z.Dec(TcpCurrEstab)
	z.Set(TcpCurrEstab, 1)
	if z.Get(TcpExtTW) != 0 || z.Snapshot() != (Snapshot{}) {
		t.Fatal("nil counters")
	}
}

func TestCountersConcurrent(t *testing.T) {
	c := new(Counters)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				c.Inc(TcpInSegs)
				c.Add(TcpOutSegs, 2)
				_ = c.Snapshot
			}
		})
	}
	wg.Wait()
	if c.Get(TcpInSegs) != 4000 || c.Get(TcpOutSegs) != 8000 {
		t.Fatal(c.Get(TcpInSegs), c.Get(TcpOutSegs))
	}
}

func TestNoAllocs(t *testing.T) {
	c := new(Counters)
	if n := testing.AllocsPerRun(100, func() {
		c.Inc(TcpExtTW)
		c.Add(TcpInSegs, 3)
		c.Dec(TcpCurrEstab)
		_ = c.Get(TcpExtTW)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
