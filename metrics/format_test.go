package metrics

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteSNMP(t *testing.T) {
	c := New()
	c.Add(IpInReceives, 1160)
	c.Inc(TcpCurrEstab)
	c.Add(TcpActiveOpens, 20)
	var b bytes.Buffer
	if err := c.WriteSNMP(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	want := []string{
		"Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits",
		"Ip: 2 64 1160 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
		"", "",
		"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors",
		"Tcp: 1 200 120000 -1 20 0 0 0 1 0 0 0 0 0 0",
		"",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i := range want {
		if want[i] != "" && lines[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want[i])
		}
	}
	if !strings.HasPrefix(lines[2], "Icmp: InMsgs InErrors InCsumErrors InDestUnreachs") {
		t.Error(lines[2])
	}
}

func TestWriteNetstat(t *testing.T) {
	c := new(Counters)
	c.Add(TcpExtTW, 18)
	c.Add(UstackBadOptions, 3)
	var b bytes.Buffer
	c.WriteNetstat(&b)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, g := range []string{"TcpExt", "TcpExt", "IpExt", "IpExt", "Ustack", "Ustack"} {
		if !strings.HasPrefix(lines[i], g+": ") {
			t.Fatalf("line %d: %.40s", i, lines[i])
		}
	}
	names, vals := strings.Fields(lines[0])[1:], strings.Fields(lines[1])[1:]
	if len(names) != len(vals) || names[10] != "TW" || vals[10] != "18" {
		t.Fatalf("TW column: %s=%s", names[10], vals[10])
	}
	if lines[4] != "Ustack: BadOptions Truncated DevReadErrors DevWriteErrors WorkerQueueDrops" || lines[5] != "Ustack: 3 0 0 0 0" {
		t.Fatalf("ustack lines %q %q", lines[4], lines[5])
	}
}

func TestWriteNstat(t *testing.T) {
	c := New()
	c.Add(IpInReceives, 1160)
	c.Add(TcpExtTW, 3)
	c.Inc(TcpCurrEstab)
	var b bytes.Buffer
	c.WriteNstat(&b, false)
	want := "#ustack\n" +
		"IpInReceives                    1160               0.0\n" +
		"TcpExtTW                        3                  0.0\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	c.WriteNstat(&b, true)
	n := strings.Count(b.String(), "\n")
	if n != int(NumIDs)-7+1-1 { // all but the 7 gauges and the zero legacy PAWSPassive, plus the comment
		t.Fatalf("%d lines", n)
	}
	for _, gauge := range []string{"IpForwarding", "IpDefaultTTL", "TcpMaxConn", "TcpCurrEstab", "TcpRtoMin"} {
		if strings.Contains(b.String(), "\n"+gauge+" ") {
			t.Errorf("nstat output has %s", gauge)
		}
	}
	m, err := ParseNstat(&b)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Snapshot()
	for name, v := range s.Map() {
		id, _ := Lookup(name)
		if GroupOf(id) == GroupTcpExtLegacy && v == 0 {
			continue
		}
		if got, ok := m[name]; ok != !IsGauge(id) || (ok && got != v) {
			t.Errorf("%s: parsed %d %v, have %d", name, got, ok, v)
		}
	}
}

// Lines as iproute2 6.1's `nstat -az` prints them on a 6.18 kernel.
const kernelNstat = `#kernel
IpInReceives                    1160               0.0
IcmpMsgInType3                  1                  0.0
TcpActiveOpens                  20                 0.0
TcpExtTW                        18                 0.0
TcpExtTCPFastOpenListenOverflow 0                  0.0
MPTcpExtMPCapableSYNRX          0                  0.0

`

func TestParseNstat(t *testing.T) {
	m, err := ParseNstat(strings.NewReader(kernelNstat))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 6 || m["IpInReceives"] != 1160 || m["TcpExtTW"] != 18 || m["IcmpMsgInType3"] != 1 {
		t.Fatalf("%v", m)
	}
	if _, ok := m["TcpExtTCPFastOpenListenOverflow"]; !ok {
		t.Fatal("zero entry with unpadded name lost")
	}
	for _, bad := range []string{"TcpExtTW\n", "TcpExtTW x 0.0\n", "TcpExtTW -1 0.0\n"} {
		if _, err := ParseNstat(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestSockstat(t *testing.T) {
	var b bytes.Buffer
	WriteSockstat(&b, Sockstat{InUse: 1, TW: 5, Alloc: 2, Mem: 7})
	if b.String() != "TCP: inuse 1 orphan 0 tw 5 alloc 2 mem 7\n" {
		t.Fatalf("%q", b.String())
	}
	kernel := "sockets: used 16\nTCP: inuse 1 orphan 2 tw 3 alloc 4 mem 7\nUDP: inuse 0 mem 0\n"
	s, err := ParseSockstat(strings.NewReader(kernel))
	if err != nil || s != (Sockstat{InUse: 1, Orphan: 2, TW: 3, Alloc: 4, Mem: 7}) {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := ParseSockstat(strings.NewReader("UDP: inuse 0\n")); err == nil {
		t.Fatal("no TCP line accepted")
	}
}
