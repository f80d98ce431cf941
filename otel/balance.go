package bulwarkotel

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/balance"
	"go.opentelemetry.io/otel/metric"
)

// BalanceMetrics observes load-balancing pickers (package balance) as
// OpenTelemetry instruments, per node:
//
//	bulwark.balance.picks        counter (async)        {pick}      name, node
//	bulwark.balance.failures     counter (async)        {request}   name, node
//	bulwark.balance.ejections    counter (async)        {ejection}  name, node
//	bulwark.balance.in_flight    updowncounter (async)  {request}   name, node
//	bulwark.balance.ejected      gauge                  {node}      name, node: 1 while ejected
//	bulwark.balance.unavailable  gauge                  {node}      name, node: 1 while a guard below refuses it
//	bulwark.balance.latency      gauge                  s           name, node: PeakEWMA's estimate
//
// The per-node counters are the pickers' own (NodeStats), read at each
// collection: a Pick costs nothing more with metrics than without. It is
// safe for concurrent use.
type BalanceMetrics struct {
	meter                      metric.Meter
	picks, failures, ejections metric.Int64ObservableCounter
	inFlight                   metric.Int64ObservableUpDownCounter
	ejected, unavailable       metric.Int64ObservableGauge
	latency                    metric.Float64ObservableGauge
}

// Balance creates the picker instruments on meter. Pass each picker to
// WatchPicker:
//
//	m, err := bulwarkotel.Balance(meter)
//	p, err := balance.NewP2C(nodes, balance.Config{})
//	reg, err := bulwarkotel.WatchPicker(m, "backends", p, nil)
func Balance(meter metric.Meter) (*BalanceMetrics, error) {
	m := &BalanceMetrics{meter: meter}
	var errs [7]error
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
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// StatsPicker is what WatchPicker reads: every picker of package balance.
type StatsPicker[N comparable] interface {
	Stats() balance.Stats[N]
}

// WatchPicker observes p's node stats, under the given picker name, at
// every collection, until the registration is unregistered. nodeName names
// a node for the node attribute; nil means its String method when N has
// one (a *url.URL, say), else fmt.Sprint.
func WatchPicker[N comparable](m *BalanceMetrics, name string, p StatsPicker[N], nodeName func(N) string) (metric.Registration, error) {
	if nodeName == nil {
		nodeName = defaultNodeName[N]
	}
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, n := range p.Stats().Nodes {
			attrs := with(keyName.String(name), keyNode.String(nodeName(n.Node)))
			o.ObserveInt64(m.picks, int64(n.Picks), attrs)
			o.ObserveInt64(m.failures, int64(n.Failures), attrs)
			o.ObserveInt64(m.ejections, int64(n.Ejections), attrs)
			o.ObserveInt64(m.inFlight, int64(n.InFlight), attrs)
			o.ObserveInt64(m.ejected, boolInt(n.Ejected), attrs)
			o.ObserveInt64(m.unavailable, boolInt(n.Unavailable), attrs)
			if n.Latency > 0 {
				o.ObserveFloat64(m.latency, seconds(n.Latency), attrs)
			}
		}
		return nil
	}, m.picks, m.failures, m.ejections, m.inFlight, m.ejected, m.unavailable, m.latency)
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
