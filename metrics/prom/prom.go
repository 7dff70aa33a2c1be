// Package prom exports a stack's metrics.Counters to Prometheus.
package prom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ustack/ustack/metrics"
)

// Collector is a prometheus.Collector over one metrics.Counters. Each
// counter is exposed as ustack_<Group>_<Name>, keeping the kernel's
// spelling (ustack_TcpExt_TW, ustack_Tcp_CurrEstab) the way node_exporter
// exposes node_netstat_TcpExt_TW, so the two line up in queries. Gauges
// (metrics.IsGauge) are gauges, everything else counters.
type Collector struct {
	c     *metrics.Counters
	descs [metrics.NumIDs]*prometheus.Desc
}

// NewCollector returns a collector reading c on every scrape. constLabels
// (may be nil) tell stacks apart when several register with one registry.
func NewCollector(c *metrics.Counters, constLabels prometheus.Labels) *Collector {
	col := &Collector{c: c}
	for id := range metrics.NumIDs {
		g, n := metrics.Name(id)
		col.descs[id] = prometheus.NewDesc("ustack_"+g+"_"+n,
			"Linux MIB counter "+g+":"+n+" as kept by ustack.", nil, constLabels)
	}
	return col
}

// Describe sends the descriptor of every counter.
func (col *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range col.descs {
		ch <- d
	}
}

// Collect sends a snapshot of every counter.
func (col *Collector) Collect(ch chan<- prometheus.Metric) {
	s := col.c.Snapshot()
	for id := range metrics.NumIDs {
		typ, v := prometheus.CounterValue, float64(s.Get(id))
		if metrics.IsGauge(id) {
			typ, v = prometheus.GaugeValue, float64(int64(s.Get(id)))
		}
		ch <- prometheus.MustNewConstMetric(col.descs[id], typ, v)
	}
}
