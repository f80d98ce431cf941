package bulwarkprom

import (
	"fmt"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/prometheus/client_golang/prometheus"
)

// BalanceMetrics is a prometheus.Collector for load-balancing pickers
// (package balance). The pickers given to WatchPicker are read at each
// scrape, per node:
//
//	bulwark_balance_picks_total{name,node}      counter
//	bulwark_balance_failures_total{name,node}   counter
//	bulwark_balance_ejections_total{name,node}  counter
//	bulwark_balance_in_flight{name,node}        gauge
//	bulwark_balance_ejected{name,node}          gauge: 1 while ejected
//	bulwark_balance_unavailable{name,node}      gauge: 1 while a guard below refuses it
//	bulwark_balance_latency_seconds{name,node}  gauge: PeakEWMA's estimate
//
// The per-node counters are the pickers' own (NodeStats): a Pick costs
// nothing more with metrics than without. Register it once per registry.
// It is safe for concurrent use.
type BalanceMetrics struct {
	picks, failures, ejections              *prometheus.Desc
	inFlight, ejected, unavailable, latency *prometheus.Desc
	pickers                                 watchList[*pickerSource]
}

// pickerSource sends one picker's series; it is a pointer so that
// watchList can tell two watches of one picker apart.
type pickerSource struct {
	collect func(m *BalanceMetrics, ch chan<- prometheus.Metric)
}

// Balance returns a BalanceMetrics with no picker watched yet:
//
//	m := bulwarkprom.Balance()
//	prometheus.MustRegister(m)
//	p, err := balance.NewP2C(nodes, balance.Config{})
//	bulwarkprom.WatchPicker(m, "backends", p, nil)
func Balance() *BalanceMetrics {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"name", "node"}, nil)
	}
	return &BalanceMetrics{
		picks:       desc("bulwark_balance_picks_total", "Permits a picker handed out for a node."),
		failures:    desc("bulwark_balance_failures_total", "Requests to a node that failed."),
		ejections:   desc("bulwark_balance_ejections_total", "Times a node was ejected by outlier detection."),
		inFlight:    desc("bulwark_balance_in_flight", "Requests to a node not yet finished."),
		ejected:     desc("bulwark_balance_ejected", "1 while the node is ejected, else 0."),
		unavailable: desc("bulwark_balance_unavailable", "1 while a guard below the picker refuses work for the node, else 0."),
		latency:     desc("bulwark_balance_latency_seconds", "PeakEWMA's latency estimate of the node."),
	}
}

// StatsPicker is what WatchPicker reads: every picker of package balance.
type StatsPicker[N comparable] interface {
	Stats() balance.Stats[N]
}

// WatchPicker reads p's node stats, under the given picker name, at each
// scrape, until stop is called. nodeName names a node for the node label;
// nil means its String method when N has one (a *url.URL, say), else
// fmt.Sprint.
func WatchPicker[N comparable](m *BalanceMetrics, name string, p StatsPicker[N], nodeName func(N) string) (stop func()) {
	if nodeName == nil {
		nodeName = defaultNodeName[N]
	}
	src := &pickerSource{collect: func(m *BalanceMetrics, ch chan<- prometheus.Metric) {
		for _, n := range p.Stats().Nodes {
			node := nodeName(n.Node)
			counter := func(d *prometheus.Desc, v float64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, name, node)
			}
			counter(m.picks, float64(n.Picks))
			counter(m.failures, float64(n.Failures))
			counter(m.ejections, float64(n.Ejections))
			gauge(ch, m.inFlight, float64(n.InFlight), name, node)
			gauge(ch, m.ejected, boolFloat(n.Ejected), name, node)
			gauge(ch, m.unavailable, boolFloat(n.Unavailable), name, node)
			if n.Latency > 0 {
				gauge(ch, m.latency, n.Latency.Seconds(), name, node)
			}
		}
	}}
	return m.pickers.add(src)
}

func defaultNodeName[N comparable](n N) string {
	if s, ok := any(n).(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(n)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Describe implements prometheus.Collector.
func (m *BalanceMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.picks, m.failures, m.ejections, m.inFlight, m.ejected, m.unavailable, m.latency} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *BalanceMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, p := range m.pickers.snapshot() {
		p.collect(m, ch)
	}
}
