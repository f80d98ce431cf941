package bulwarkotel

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/balance"
	"go.opentelemetry.io/otel/metric"
)

// BalanceMetrics observes load-balancing pickers (package balance) as
// OpenTelemetry instruments: the Picks a picker refused, from its events,
// and per node, from its stats:
//
//	bulwark.balance.rejections        counter                {call}      name, reason (no_nodes): Picks that found no usable node
//	bulwark.balance.picks             counter (async)        {pick}      name, node
//	bulwark.balance.failures          counter (async)        {request}   name, node
//	bulwark.balance.local_rejections  counter (async)        {request}   name, node: refused by a guard below, not sent
//	bulwark.balance.ejections         counter (async)        {ejection}  name, node
//	bulwark.balance.in_flight         updowncounter (async)  {request}   name, node
//	bulwark.balance.ejected           gauge                  {node}      name, node: 1 while ejected
//	bulwark.balance.unavailable       gauge                  {node}      name, node: 1 while a guard below refuses it
//	bulwark.balance.warming           gauge                  {node}      name, node: 1 during its slow-start ramp
//	bulwark.balance.latency           gauge                  s           name, node: PeakEWMA's estimate
//
// The per-node counters are the pickers' own (NodeStats), read at each
// collection by WatchPicker: a Pick costs nothing more with metrics than
// without. A refused Pick is the only traffic a picker reports as an event
// (EventNoNodes), counted by Observe; ejections and unavailability are
// read from the stats, so Observe ignores their events. One BalanceMetrics
// serves any number of pickers, told apart by their names; it is safe for
// concurrent use.
type BalanceMetrics struct {
	meter                      metric.Meter
	rejections                 metric.Int64Counter
	picks, failures, ejections metric.Int64ObservableCounter
	localRejections            metric.Int64ObservableCounter
	inFlight                   metric.Int64ObservableUpDownCounter
	ejected, unavailable       metric.Int64ObservableGauge
	warming                    metric.Int64ObservableGauge
	latency                    metric.Float64ObservableGauge
	attrs                      byName[balanceAttrs]
}

// balanceAttrs are one picker name's attribute sets, built once.
type balanceAttrs struct {
	noNodes attrs
}

func newBalanceAttrs(name string) *balanceAttrs {
	return &balanceAttrs{noNodes: newAttrs(keyName.String(name), keyReason.String(balance.EventNoNodes.String()))}
}

// Balance creates the picker instruments on meter and returns them; the
// error is the meter's, if it refused an instrument. Put Observe in each
// picker's Config and pass the picker to WatchPicker:
//
//	m, err := bulwarkotel.Balance(meter)
//	p, err := balance.NewP2C(nodes, balance.Config{Name: "backends", Observer: m.Observe})
//	reg, err := bulwarkotel.WatchPicker(m, "backends", p, nil)
func Balance(meter metric.Meter) (*BalanceMetrics, error) {
	m := &BalanceMetrics{meter: meter, attrs: byName[balanceAttrs]{build: newBalanceAttrs}}
	var errs [10]error
	m.picks, errs[0] = meter.Int64ObservableCounter("bulwark.balance.picks", metric.WithUnit("{pick}"),
		metric.WithDescription("Permits a picker handed out for a node."))
	m.failures, errs[1] = meter.Int64ObservableCounter("bulwark.balance.failures", metric.WithUnit("{request}"),
		metric.WithDescription("Requests to a node that failed."))
	m.ejections, errs[2] = meter.Int64ObservableCounter("bulwark.balance.ejections", metric.WithUnit("{ejection}"),
		metric.WithDescription("Times a node was ejected by outlier detection."))
	m.inFlight, errs[3] = meter.Int64ObservableUpDownCounter("bulwark.balance.in_flight", metric.WithUnit("{request}"),
		metric.WithDescription("Requests to a node not yet finished."))
	m.ejected, errs[4] = meter.Int64ObservableGauge("bulwark.balance.ejected", metric.WithUnit("{node}"),
		metric.WithDescription("1 while the node is ejected, else 0."))
	m.unavailable, errs[5] = meter.Int64ObservableGauge("bulwark.balance.unavailable", metric.WithUnit("{node}"),
		metric.WithDescription("1 while a guard below the picker refuses work for the node, else 0."))
	m.latency, errs[6] = meter.Float64ObservableGauge("bulwark.balance.latency", metric.WithUnit("s"),
		metric.WithDescription("PeakEWMA's latency estimate of the node."))
	m.rejections, errs[7] = meter.Int64Counter("bulwark.balance.rejections", metric.WithUnit("{call}"),
		metric.WithDescription("Picks that found no usable node, by reason."))
	m.localRejections, errs[8] = meter.Int64ObservableCounter("bulwark.balance.local_rejections", metric.WithUnit("{request}"),
		metric.WithDescription("Requests to a node that a guard below the picker refused locally: not sent, not failures."))
	m.warming, errs[9] = meter.Int64ObservableGauge("bulwark.balance.warming", metric.WithUnit("{node}"),
		metric.WithDescription("1 while the node is in its slow-start ramp, else 0."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// Observe records e; it is a balance.Config.Observer. An EventNoNodes (a
// Pick that found no node: an empty node set, or every node held
// unavailable by a guard below) adds one to bulwark.balance.rejections with
// reason no_nodes; the other kinds are ignored, their effects being read
// from the stats by WatchPicker. It allocates nothing once e.Name has been
// seen.
func (m *BalanceMetrics) Observe(e balance.Event) {
	if e.Kind != balance.EventNoNodes {
		return
	}
	m.rejections.Add(context.Background(), 1, m.attrs.get(e.Name).noNodes.add...)
}

// StatsPicker is what WatchPicker reads: every picker of package balance.
// AllStats reads one node at a time, so a collection allocates no snapshot
// of the node set.
type StatsPicker[N comparable] interface {
	AllStats() iter.Seq2[N, balance.NodeStats[N]]
}

// WatchPicker observes p's node stats, under the given picker name (its
// Config.Name), at every collection, until the registration is
// unregistered. nodeName names a node for the node attribute; nil means its
// String method when N has one (a *url.URL, say), else fmt.Sprint. It is
// called when a node appears in p's node set (again if it left and came
// back), not at every collection, and never under a lock.
func WatchPicker[N comparable](m *BalanceMetrics, name string, p StatsPicker[N], nodeName func(N) string) (metric.Registration, error) {
	if nodeName == nil {
		nodeName = defaultNodeName[N]
	}
	w := &pickerWatch[N]{m: m, name: name, p: p, nodeName: nodeName}
	return m.meter.RegisterCallback(w.observe,
		m.picks, m.failures, m.localRejections, m.ejections, m.inFlight, m.ejected, m.unavailable, m.warming, m.latency)
}

// pickerWatch is one WatchPicker registration. It keeps the attribute set
// of each node in an immutable map, replaced when a collection finds the
// node set changed, so that a collection over an unchanged node set builds
// no attributes and names no node. The callbacks of several readers may
// run at once, so the map is never modified in place; two of them
// replacing it at once both store a map of a current node set.
type pickerWatch[N comparable] struct {
	m        *BalanceMetrics
	name     string
	p        StatsPicker[N]
	nodeName func(N) string
	nodes    atomic.Pointer[map[N]attrs]
}

func (w *pickerWatch[N]) observe(_ context.Context, o metric.Observer) error {
	var known map[N]attrs
	if k := w.nodes.Load(); k != nil {
		known = *k
	}
	var added map[N]attrs // nodes not in known, made only when there are some
	seen := 0
	m := w.m
	for node, n := range w.p.AllStats() {
		a, ok := known[node]
		if ok {
			seen++
		} else {
			if added == nil {
				added = map[N]attrs{}
			}
			a = w.attrsOf(node)
			added[node] = a
		}
		o.ObserveInt64(m.picks, n.Picks, a.obs...)
		o.ObserveInt64(m.failures, n.Failures, a.obs...)
		o.ObserveInt64(m.localRejections, n.Rejections, a.obs...)
		o.ObserveInt64(m.ejections, n.Ejections, a.obs...)
		o.ObserveInt64(m.inFlight, n.InFlight, a.obs...)
		o.ObserveInt64(m.ejected, boolInt(n.Ejected), a.obs...)
		o.ObserveInt64(m.unavailable, boolInt(n.Unavailable), a.obs...)
		o.ObserveInt64(m.warming, boolInt(n.Warming), a.obs...)
		if n.Latency > 0 {
			o.ObserveFloat64(m.latency, seconds(n.Latency), a.obs...)
		}
	}
	if added != nil || seen != len(known) {
		w.rebuild(known, added)
	}
	return nil
}

// rebuild stores the attribute sets of p's current nodes, taken from known
// and added where they are (the node set may have changed again since).
func (w *pickerWatch[N]) rebuild(known, added map[N]attrs) {
	next := make(map[N]attrs, len(known)+len(added))
	for node := range w.p.AllStats() {
		a, ok := known[node]
		if !ok {
			if a, ok = added[node]; !ok {
				a = w.attrsOf(node)
			}
		}
		next[node] = a
	}
	w.nodes.Store(&next)
}

func (w *pickerWatch[N]) attrsOf(node N) attrs {
	return newAttrs(keyName.String(w.name), keyNode.String(w.nodeName(node)))
}

func defaultNodeName[N comparable](n N) string {
	if s, ok := any(n).(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(n)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
