package bulwarkprom

import (
	"sync"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/prometheus/client_golang/prometheus"
)

// byName keeps, for each object name seen in events, the child counters an
// observer adds to (looked up in their vectors once), so that recording an
// event is one map load and one atomic add, with no allocation after the
// first event of a name. It grows with the number of distinct names, as the
// vectors' own children do.
type byName[T any] struct {
	m     sync.Map // string → *T
	build func(name string) *T
}

func (c *byName[T]) get(name string) *T {
	if v, ok := c.m.Load(name); ok {
		return v.(*T)
	}
	v, _ := c.m.LoadOrStore(name, c.build(name))
	return v.(*T)
}

// lazyCounter is a child counter created on its first increment, for the
// series of opt-in features (slow calls, shadow rejections, hedges, budget
// refusals) that would otherwise show a zero for every object without the
// feature. After the first increment, Inc is one atomic load more than the
// child's own.
type lazyCounter struct {
	vec    *prometheus.CounterVec
	labels []string
	c      atomic.Pointer[prometheus.Counter]
}

func newLazyCounter(vec *prometheus.CounterVec, labels ...string) *lazyCounter {
	return &lazyCounter{vec: vec, labels: labels}
}

// Inc adds 1. Two goroutines racing on the first increment both look the
// child up; the vector returns the same one to both.
func (l *lazyCounter) Inc() {
	c := l.c.Load()
	if c == nil {
		child := l.vec.WithLabelValues(l.labels...)
		c = &child
		l.c.Store(c)
	}
	(*c).Inc()
}

// lazyObserver is lazyCounter for a histogram's child: a histogram appears
// with its first sample, so that an object that never reports one shows no
// empty buckets.
type lazyObserver struct {
	vec    *prometheus.HistogramVec
	labels []string
	o      atomic.Pointer[prometheus.Observer]
}

func newLazyObserver(vec *prometheus.HistogramVec, labels ...string) *lazyObserver {
	return &lazyObserver{vec: vec, labels: labels}
}

// Observe records v (in seconds, for every histogram of this package).
func (l *lazyObserver) Observe(v float64) {
	o := l.o.Load()
	if o == nil {
		child := l.vec.WithLabelValues(l.labels...)
		o = &child
		l.o.Store(o)
	}
	(*o).Observe(v)
}

// breakerStates are the breaker states in the order of their values, and
// stateNames their label values: lower snake_case like every other label
// value ("half_open", as breaker.ReasonHalfOpen says it), where
// breaker.State.String says "half-open".
var (
	breakerStates = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen}
	stateNames    = [len(breakerStates)]string{"closed", "open", "half_open"}
)

// durationBuckets are the upper bounds, in seconds, of every duration
// histogram: the boundaries OpenTelemetry's HTTP semantic conventions
// advise for request durations, 5 ms to 10 s
// (https://opentelemetry.io/docs/specs/semconv/http/http-metrics/), which
// the otel module uses too, so both exporters bucket alike.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// watchList is the set of objects a Collector reads at each scrape. Watch
// adds; the returned function removes.
type watchList[T comparable] struct {
	mu    sync.Mutex
	items []T // guarded by mu; replaced, never modified in place
}

func (w *watchList[T]) add(items ...T) (stop func()) {
	w.mu.Lock()
	w.items = append(w.items[:len(w.items):len(w.items)], items...)
	w.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			kept := make([]T, 0, len(w.items))
			for _, it := range w.items {
				if !contains(items, it) {
					kept = append(kept, it)
				}
			}
			w.items = kept
		})
	}
}

// snapshot returns the watched objects; the caller reads them outside the
// lock (their Stats take locks of their own).
func (w *watchList[T]) snapshot() []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.items
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// gauge sends one gauge sample.
func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}
