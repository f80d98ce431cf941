package bulwarkprom

import (
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/prometheus/client_golang/prometheus"
)

// BulkheadMetrics is a prometheus.Collector for concurrency limiters
// (package bulkhead: Bulkhead and Adaptive). Its Observe method, set as the
// limiters' Config.Observer, counts their events; the limiters given to
// Watch and WatchAdaptive are read at each scrape:
//
//	bulwark_bulkhead_rejections_total{name,reason}        counter: calls refused (full, timeout, rate_limited)
//	bulwark_bulkhead_cancellations_total{name}            counter: callers whose context ended while queued
//	bulwark_bulkhead_limit_changes_total{name}            counter
//	bulwark_bulkhead_call_duration_seconds{name,outcome}  histogram: an Adaptive limiter's samples (success, dropped)
//	bulwark_bulkhead_admissions_total{name}               counter, from Stats: calls admitted
//	bulwark_bulkhead_in_flight{name}                      gauge: slots held
//	bulwark_bulkhead_queued{name}                         gauge: callers waiting (Bulkhead only)
//	bulwark_bulkhead_limit{name}                          gauge: the current limit
//
// Admissions produce no event (they cost the fast path nothing), so they
// are read from Stats with the gauges. An Adaptive limiter's ignored calls
// (EventIgnored) carry no sample and are not counted. One BulkheadMetrics serves any
// number of limiters, told apart by their names; register it once per
// registry. It is safe for concurrent use.
type BulkheadMetrics struct {
	rejections, cancellations, limitChanges *prometheus.CounterVec
	duration                                *prometheus.HistogramVec
	admissions, inFlight, queued, limit     *prometheus.Desc
	children                                byName[bulkheadChildren]
	bulkheads                               watchList[namedBulkhead]
	adaptives                               watchList[namedAdaptive]
}

// bulkheadReasons are the reason label's values, indexed by
// bulkhead.Reason (index 0 is unused: a reason this package does not know
// is counted as "unknown", created on first use).
var bulkheadReasons = [...]bulkhead.Reason{0, bulkhead.ReasonFull, bulkhead.ReasonTimeout, bulkhead.ReasonRateLimited}

// bulkheadChildren are one name's series: rejections by reason,
// cancellations and limit changes are created at zero with the first event
// of the name; the duration histograms, which only an Adaptive limiter
// feeds, appear with their first sample.
type bulkheadChildren struct {
	name               string
	rejections         [len(bulkheadReasons)]prometheus.Counter
	cancelled, changes prometheus.Counter
	success, dropped   *lazyObserver
}

type namedBulkhead struct {
	name string
	b    *bulkhead.Bulkhead
}

type namedAdaptive struct {
	name string
	a    *bulkhead.Adaptive
}

// Bulkhead returns a BulkheadMetrics with no limiter watched yet. Register
// it, put its Observe in the Config (or AdaptiveConfig) of each limiter,
// and pass the limiter to Watch (or WatchAdaptive) for the gauges:
//
//	m := bulwarkprom.Bulkhead()
//	prometheus.MustRegister(m)
//	b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 8, Observer: m.Observe})
//	m.Watch("db", b)
func Bulkhead() *BulkheadMetrics {
	m := &BulkheadMetrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_bulkhead_rejections_total",
			Help: "Calls a concurrency limiter refused, by reason."}, []string{"name", "reason"}),
		cancellations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_bulkhead_cancellations_total",
			Help: "Queued callers whose context ended before a slot was free."}, []string{"name"}),
		limitChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_bulkhead_limit_changes_total",
			Help: "Changes of a limiter's concurrency limit."}, []string{"name"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bulwark_bulkhead_call_duration_seconds",
			Help:    "Round-trip time of the calls an adaptive limiter learns from, by outcome.",
			Buckets: durationBuckets}, []string{"name", "outcome"}),
		admissions: prometheus.NewDesc("bulwark_bulkhead_admissions_total", "Calls a concurrency limiter admitted.", []string{"name"}, nil),
		inFlight:   prometheus.NewDesc("bulwark_bulkhead_in_flight", "Slots held right now.", []string{"name"}, nil),
		queued:     prometheus.NewDesc("bulwark_bulkhead_queued", "Callers waiting for a slot right now.", []string{"name"}, nil),
		limit:      prometheus.NewDesc("bulwark_bulkhead_limit", "The current concurrency limit.", []string{"name"}, nil),
	}
	m.children.build = func(name string) *bulkheadChildren {
		c := &bulkheadChildren{
			name:      name,
			cancelled: m.cancellations.WithLabelValues(name),
			changes:   m.limitChanges.WithLabelValues(name),
			success:   newLazyObserver(m.duration, name, "success"),
			dropped:   newLazyObserver(m.duration, name, "dropped"),
		}
		for r := 1; r < len(bulkheadReasons); r++ {
			c.rejections[r] = m.rejections.WithLabelValues(name, bulkheadReasons[r].String())
		}
		return c
	}
	return m
}

// Observe counts e; it is a bulkhead.Config.Observer (and an
// AdaptiveConfig.Observer). It allocates nothing once a name has been
// seen, and ignores kinds it does not know.
func (m *BulkheadMetrics) Observe(e bulkhead.Event) {
	c := m.children.get(e.Name)
	switch e.Kind {
	case bulkhead.EventRejected:
		if r := int(e.Reason); r > 0 && r < len(bulkheadReasons) {
			c.rejections[r].Inc()
		} else {
			m.rejections.WithLabelValues(c.name, "unknown").Inc() // rare: allocates
		}
	case bulkhead.EventCancelled:
		c.cancelled.Inc()
	case bulkhead.EventLimitChanged:
		c.changes.Inc()
	case bulkhead.EventSuccess:
		c.success.Observe(e.RTT.Seconds())
	case bulkhead.EventDropped:
		c.dropped.Observe(e.RTT.Seconds())
	}
}

// Watch reads b's Stats, under the given name (its Config.Name), at each
// scrape, until stop is called. Watch each limiter once, under a name no
// other watched limiter has: a registry refuses a scrape with two series
// of one name.
func (m *BulkheadMetrics) Watch(name string, b *bulkhead.Bulkhead) (stop func()) {
	return m.bulkheads.add(namedBulkhead{name, b})
}

// WatchAdaptive is Watch for an Adaptive limiter, which has no queue: it
// reports admissions, in_flight and limit.
func (m *BulkheadMetrics) WatchAdaptive(name string, a *bulkhead.Adaptive) (stop func()) {
	return m.adaptives.add(namedAdaptive{name, a})
}

// Describe implements prometheus.Collector.
func (m *BulkheadMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.rejections.Describe(ch)
	m.cancellations.Describe(ch)
	m.limitChanges.Describe(ch)
	m.duration.Describe(ch)
	ch <- m.admissions
	ch <- m.inFlight
	ch <- m.queued
	ch <- m.limit
}

// Collect implements prometheus.Collector.
func (m *BulkheadMetrics) Collect(ch chan<- prometheus.Metric) {
	m.rejections.Collect(ch)
	m.cancellations.Collect(ch)
	m.limitChanges.Collect(ch)
	m.duration.Collect(ch)
	for _, w := range m.bulkheads.snapshot() {
		s := w.b.Stats()
		ch <- prometheus.MustNewConstMetric(m.admissions, prometheus.CounterValue, float64(s.Admitted), w.name)
		gauge(ch, m.inFlight, float64(s.InFlight), w.name)
		gauge(ch, m.queued, float64(s.Waiting), w.name)
		gauge(ch, m.limit, float64(s.Limit), w.name)
	}
	for _, w := range m.adaptives.snapshot() {
		s := w.a.Stats()
		ch <- prometheus.MustNewConstMetric(m.admissions, prometheus.CounterValue, float64(s.Admitted), w.name)
		gauge(ch, m.inFlight, float64(s.InFlight), w.name)
		gauge(ch, m.limit, float64(s.Limit), w.name)
	}
}
