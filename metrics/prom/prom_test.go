package prom

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ustack/ustack/metrics"
)

func TestCollector(t *testing.T) {
	c := metrics.New()
	c.Add(metrics.TcpExtTW, 3)
	c.Inc(metrics.TcpCurrEstab)
	col := NewCollector(c, prometheus.Labels{"stack": "a"})

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatal(err)
	}
	// A second stack with other labels registers beside the first.
	if err := reg.Register(NewCollector(metrics.New(), prometheus.Labels{"stack": "b"})); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(col); n != int(metrics.NumIDs) {
		t.Fatalf("%d metrics, want %d", n, metrics.NumIDs)
	}
	want := `
# HELP ustack_TcpExt_TW Linux MIB counter TcpExt:TW as kept by ustack.
# TYPE ustack_TcpExt_TW counter
ustack_TcpExt_TW{stack="a"} 3
# HELP ustack_Tcp_CurrEstab Linux MIB counter Tcp:CurrEstab as kept by ustack.
# TYPE ustack_Tcp_CurrEstab gauge
ustack_Tcp_CurrEstab{stack="a"} 1
# HELP ustack_Tcp_MaxConn Linux MIB counter Tcp:MaxConn as kept by ustack.
# TYPE ustack_Tcp_MaxConn gauge
ustack_Tcp_MaxConn{stack="a"} -1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want),
		"ustack_TcpExt_TW", "ustack_Tcp_CurrEstab", "ustack_Tcp_MaxConn"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
