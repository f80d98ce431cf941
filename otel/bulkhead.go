package bulwarkotel

import (
	"context"
	"errors"

	"github.com/bulwark-go/bulwark/bulkhead"
	"go.opentelemetry.io/otel/metric"
)

// BulkheadMetrics records the events of concurrency limiters (package
// bulkhead: Bulkhead and Adaptive) as OpenTelemetry instruments, and
// observes the limiters it watches:
//
//	bulwark.bulkhead.rejections     counter                {call}    name, reason (full, timeout, rate_limited)
//	bulwark.bulkhead.cancellations  counter                {call}    name: callers whose context ended while queued
//	bulwark.bulkhead.limit_changes  counter                {change}  name
//	bulwark.bulkhead.call.duration  histogram              s         name, outcome (success, dropped): an Adaptive limiter's samples
//	bulwark.bulkhead.admissions     counter (async)        {call}    name: calls admitted (watched limiters)
//	bulwark.bulkhead.in_flight      updowncounter (async)  {call}    name: slots held
//	bulwark.bulkhead.queued         updowncounter (async)  {call}    name: callers waiting (Bulkhead only)
//	bulwark.bulkhead.limit          updowncounter (async)  {call}    name: the current limit
//
// Admissions produce no event (they cost the fast path nothing), so they
// are read from Stats with the gauges, by Watch and WatchAdaptive. An
// Adaptive limiter's ignored calls (EventIgnored) carry no sample and are
// not recorded. One BulkheadMetrics serves any number of limiters, told
// apart by their names; it is safe for concurrent use.
type BulkheadMetrics struct {
	meter                             metric.Meter
	rejections, cancellations, limits metric.Int64Counter
	duration                          metric.Float64Histogram
	admissions                        metric.Int64ObservableCounter
	inFlight, queued, limit           metric.Int64ObservableUpDownCounter
	attrs                             byName[bulkheadAttrs]
}

// bulkheadReasons are the reason attribute's values, indexed by
// bulkhead.Reason; index 0 stands for a reason this package does not know.
var bulkheadReasons = [...]bulkhead.Reason{0, bulkhead.ReasonFull, bulkhead.ReasonTimeout, bulkhead.ReasonRateLimited}

type bulkheadAttrs struct {
	name             attrs
	reason           [len(bulkheadReasons)]attrs
	success, dropped attrs
}

func newBulkheadAttrs(name string) *bulkheadAttrs {
	n := keyName.String(name)
	a := &bulkheadAttrs{
		name:    newAttrs(n),
		success: newAttrs(n, keyOutcome.String("success")),
		dropped: newAttrs(n, keyOutcome.String("dropped")),
	}
	for i, r := range bulkheadReasons {
		v := "unknown"
		if r != 0 {
			v = r.String()
		}
		a.reason[i] = newAttrs(n, keyReason.String(v))
	}
	return a
}

// Bulkhead creates the bulkhead instruments on meter and returns them; the
// error is the meter's, if it refused an instrument. Put Observe in the
// Config (or AdaptiveConfig) of each limiter and pass the limiter to Watch
// (or WatchAdaptive) for the gauges:
//
//	m, err := bulwarkotel.Bulkhead(meter)
//	b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 8, Observer: m.Observe})
//	reg, err := m.Watch("db", b)
func Bulkhead(meter metric.Meter) (*BulkheadMetrics, error) {
	m := &BulkheadMetrics{meter: meter, attrs: byName[bulkheadAttrs]{build: newBulkheadAttrs}}
	var errs [8]error
	m.rejections, errs[0] = meter.Int64Counter("bulwark.bulkhead.rejections", metric.WithUnit("{call}"),
		metric.WithDescription("Calls a concurrency limiter refused, by reason."))
	m.cancellations, errs[1] = meter.Int64Counter("bulwark.bulkhead.cancellations", metric.WithUnit("{call}"),
		metric.WithDescription("Queued callers whose context ended before a slot was free."))
	m.limits, errs[2] = meter.Int64Counter("bulwark.bulkhead.limit_changes", metric.WithUnit("{change}"),
		metric.WithDescription("Changes of a limiter's concurrency limit."))
	m.duration, errs[3] = meter.Float64Histogram("bulwark.bulkhead.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Round-trip time of the calls an adaptive limiter learns from, by outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	m.admissions, errs[4] = meter.Int64ObservableCounter("bulwark.bulkhead.admissions", metric.WithUnit("{call}"),
		metric.WithDescription("Calls a concurrency limiter admitted."))
	m.inFlight, errs[5] = meter.Int64ObservableUpDownCounter("bulwark.bulkhead.in_flight", metric.WithUnit("{call}"),
		metric.WithDescription("Slots held right now."))
	m.queued, errs[6] = meter.Int64ObservableUpDownCounter("bulwark.bulkhead.queued", metric.WithUnit("{call}"),
		metric.WithDescription("Callers waiting for a slot right now."))
	m.limit, errs[7] = meter.Int64ObservableUpDownCounter("bulwark.bulkhead.limit", metric.WithUnit("{call}"),
		metric.WithDescription("The current concurrency limit."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// Observe records e; it is a bulkhead.Config.Observer (and an
// AdaptiveConfig.Observer). It allocates nothing once e.Name has been
// seen, and ignores kinds it does not know.
func (m *BulkheadMetrics) Observe(e bulkhead.Event) {
	ctx := context.Background()
	a := m.attrs.get(e.Name)
	switch e.Kind {
	case bulkhead.EventRejected:
		r := e.Reason
		if int(r) >= len(a.reason) {
			r = 0
		}
		m.rejections.Add(ctx, 1, a.reason[r].add...)
	case bulkhead.EventCancelled:
		m.cancellations.Add(ctx, 1, a.name.add...)
	case bulkhead.EventLimitChanged:
		m.limits.Add(ctx, 1, a.name.add...)
	case bulkhead.EventSuccess:
		m.duration.Record(ctx, seconds(e.RTT), a.success.rec...)
	case bulkhead.EventDropped:
		m.duration.Record(ctx, seconds(e.RTT), a.dropped.rec...)
	}
}

// Watch observes b's Stats under the given name (its Config.Name) for the
// admissions, in_flight, queued and limit instruments at every collection,
// until the registration is unregistered. The error is the meter's.
func (m *BulkheadMetrics) Watch(name string, b *bulkhead.Bulkhead) (metric.Registration, error) {
	a := m.attrs.get(name)
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := b.Stats()
		o.ObserveInt64(m.admissions, s.Admitted, a.name.obs...)
		o.ObserveInt64(m.inFlight, s.InFlight, a.name.obs...)
		o.ObserveInt64(m.queued, s.Waiting, a.name.obs...)
		o.ObserveInt64(m.limit, s.Limit, a.name.obs...)
		return nil
	}, m.admissions, m.inFlight, m.queued, m.limit)
}

// WatchAdaptive is Watch for an Adaptive limiter, which has no queue: it
// reports admissions, in_flight and limit.
func (m *BulkheadMetrics) WatchAdaptive(name string, l *bulkhead.Adaptive) (metric.Registration, error) {
	a := m.attrs.get(name)
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := l.Stats()
		o.ObserveInt64(m.admissions, s.Admitted, a.name.obs...)
		o.ObserveInt64(m.inFlight, s.InFlight, a.name.obs...)
		o.ObserveInt64(m.limit, s.Limit, a.name.obs...)
		return nil
	}, m.admissions, m.inFlight, m.limit)
}
