package bulwarkprom

import (
	"fmt"
	"iter"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/prometheus/client_golang/prometheus"
)

// BalanceMetrics is a prometheus.Collector for load-balancing pickers
// (package balance): the Picks a picker refused, from its events, and per
// node, from its stats read at each scrape by WatchPicker:
//
//	bulwark_balance_rejections_total{name,reason}     counter: Picks that found no usable node (reason no_nodes)
//	bulwark_balance_picks_total{name,node}            counter
//	bulwark_balance_failures_total{name,node}         counter
//	bulwark_balance_local_rejections_total{name,node} counter: refused by a guard below, not sent
//	bulwark_balance_ejections_total{name,node}        counter
//	bulwark_balance_in_flight{name,node}              gauge
//	bulwark_balance_ejected{name,node}                gauge: 1 while ejected
//	bulwark_balance_unavailable{name,node}            gauge: 1 while a guard below refuses it
//	bulwark_balance_warming{name,node}                gauge: 1 during its slow-start ramp
//	bulwark_balance_latency_seconds{name,node}        gauge: PeakEWMA's estimate
//
// The per-node counters are the pickers' own (NodeStats): a Pick costs
// nothing more with metrics than without. A refused Pick is the only
// traffic a picker reports as an event (EventNoNodes), counted by Observe;
// ejections and unavailability are read from the stats, so Observe counts
// nothing for their events. One BalanceMetrics serves any number of
// pickers, told apart by their names; register it once per registry. It
// is safe for concurrent use.
type BalanceMetrics struct {
	rejections                                       *prometheus.CounterVec
	picks, failures, localRejections, ejections      *prometheus.Desc
	inFlight, ejected, unavailable, warming, latency *prometheus.Desc
	children                                         byName[balanceChildren]
	pickers                                          watchList[*pickerSource]
}

// balanceChildren are one picker name's series, created at zero with the
// first event of the name.
type balanceChildren struct {
	noNodes prometheus.Counter
}

// pickerSource sends one picker's series; it is a pointer so that
// watchList can tell two watches of one picker apart.
type pickerSource struct {
	collect func(m *BalanceMetrics, ch chan<- prometheus.Metric)
}

// Balance returns a BalanceMetrics with no picker watched yet. Register
// it, put its Observe in each picker's Config and pass the picker to
// WatchPicker:
//
//	m := bulwarkprom.Balance()
//	prometheus.MustRegister(m)
//	p, err := balance.NewP2C(nodes, balance.Config{Name: "backends", Observer: m.Observe})
//	stop := bulwarkprom.WatchPicker(m, "backends", p, nil)
func Balance() *BalanceMetrics {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"name", "node"}, nil)
	}
	m := &BalanceMetrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_balance_rejections_total",
			Help: "Picks that found no usable node, by reason."}, []string{"name", "reason"}),
		picks:    desc("bulwark_balance_picks_total", "Permits a picker handed out for a node."),
		failures: desc("bulwark_balance_failures_total", "Requests to a node that failed."),
		localRejections: desc("bulwark_balance_local_rejections_total",
			"Requests to a node that a guard below the picker refused locally: not sent, not failures."),
		ejections:   desc("bulwark_balance_ejections_total", "Times a node was ejected by outlier detection."),
		inFlight:    desc("bulwark_balance_in_flight", "Requests to a node not yet finished."),
		ejected:     desc("bulwark_balance_ejected", "1 while the node is ejected, else 0."),
		unavailable: desc("bulwark_balance_unavailable", "1 while a guard below the picker refuses work for the node, else 0."),
		warming:     desc("bulwark_balance_warming", "1 while the node is in its slow-start ramp, else 0."),
		latency:     desc("bulwark_balance_latency_seconds", "PeakEWMA's latency estimate of the node."),
	}
	m.children.build = func(name string) *balanceChildren {
		return &balanceChildren{noNodes: m.rejections.WithLabelValues(name, balance.EventNoNodes.String())}
	}
	return m
}

// Observe counts e; it is a balance.Config.Observer. An EventNoNodes (a
// Pick that found no node: an empty node set, or every node held
// unavailable by a guard below) adds one to
// bulwark_balance_rejections_total with reason no_nodes. The other kinds a
// picker reports (EventEjected, EventReturned, EventUnavailable) count
// nothing, their effects being read from the stats by WatchPicker, but
// their first event of a name creates its rejections counter at zero, so
// that rate() sees its first increase; kinds this package does not know
// are ignored. It allocates nothing once e.Name has been seen.
func (m *BalanceMetrics) Observe(e balance.Event) {
	switch e.Kind {
	case balance.EventNoNodes:
		m.children.get(e.Name).noNodes.Inc()
	case balance.EventEjected, balance.EventReturned, balance.EventUnavailable:
		m.children.get(e.Name) // creates the name's counter at zero
	}
}

// StatsPicker is what WatchPicker reads: every picker of package balance.
// AllStats reads one node at a time, so a scrape allocates no snapshot of
// the node set.
type StatsPicker[N comparable] interface {
	AllStats() iter.Seq2[N, balance.NodeStats[N]]
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
		for n, ns := range p.AllStats() {
			node := nodeName(n)
			counter := func(d *prometheus.Desc, v float64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, name, node)
			}
			counter(m.picks, float64(ns.Picks))
			counter(m.failures, float64(ns.Failures))
			counter(m.localRejections, float64(ns.Rejections))
			counter(m.ejections, float64(ns.Ejections))
			gauge(ch, m.inFlight, float64(ns.InFlight), name, node)
			gauge(ch, m.ejected, boolFloat(ns.Ejected), name, node)
			gauge(ch, m.unavailable, boolFloat(ns.Unavailable), name, node)
			gauge(ch, m.warming, boolFloat(ns.Warming), name, node)
			if ns.Latency > 0 {
				gauge(ch, m.latency, ns.Latency.Seconds(), name, node)
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
	m.rejections.Describe(ch)
	for _, d := range []*prometheus.Desc{m.picks, m.failures, m.localRejections, m.ejections,
		m.inFlight, m.ejected, m.unavailable, m.warming, m.latency} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *BalanceMetrics) Collect(ch chan<- prometheus.Metric) {
	m.rejections.Collect(ch)
	for _, p := range m.pickers.snapshot() {
		p.collect(m, ch)
	}
}
