package bulwarkprom

import (
	"time"

	"github.com/bulwark-go/bulwark/cache"
	"github.com/prometheus/client_golang/prometheus"
)

// CacheMetrics is a prometheus.Collector for caches (package cache). The
// caches given to Watch are read at each scrape, from their Stats, so that
// a Get costs nothing more with metrics than without; the load durations
// come from the caches' events, through the observer CacheObserver
// returns:
//
//	bulwark_cache_requests_total{name,outcome}               counter: Get and GetOrLoad calls, outcome hit or miss
//	bulwark_cache_evictions_total{name,reason}               counter: entries that left, reason capacity, expired, deleted, replaced or cleared
//	bulwark_cache_loads_total{name,outcome}                  counter: loader calls, outcome success or failure
//	bulwark_cache_refreshes_total{name}                      counter: background loads started (also in loads)
//	bulwark_cache_size{name}                                 gauge: entries held
//	bulwark_cache_load_duration_seconds{kind,name,outcome}   histogram: loader calls, kind foreground or refresh, outcome success or failure
//
// bulwark_cache_loads_total counts every loader call from its start
// (Stats.Loads): those whose error the cache stored (Stats.LoadErrors) with
// outcome failure, the others (succeeded, still running, or failed with a
// result the cache dropped) with outcome success.
//
// Register it once per registry. One CacheMetrics serves any number of
// caches, told apart by their names. It is safe for concurrent use.
type CacheMetrics struct {
	requests, evictions, loads, refreshes, size *prometheus.Desc
	duration                                    *prometheus.HistogramVec
	children                                    byName[cacheChildren]
	caches                                      watchList[namedCache]
}

// cacheChildren are one cache name's load histograms, by [refresh][failed]
// (kind foreground or refresh, outcome success or failure); each appears
// with its first sample.
type cacheChildren struct {
	load [2][2]*lazyObserver
}

type namedCache struct {
	name string
	c    Sized
}

// Sized is what CacheMetrics.Watch reads: any *cache.Cache[K, V].
type Sized interface {
	Len() int
	Stats() cache.Stats
}

// Cache returns a CacheMetrics with no cache watched yet. Register it, pass
// each cache to Watch for the counters and the size, and put
// CacheObserver's function in its Config for the load durations:
//
//	m := bulwarkprom.Cache()
//	prometheus.MustRegister(m)
//	c, err := cache.New(cache.Config[string, User]{Name: "users", Capacity: 10_000,
//		Observer: bulwarkprom.CacheObserver[string](m)})
//	stop := m.Watch("users", c)
func Cache() *CacheMetrics {
	m := &CacheMetrics{
		requests: prometheus.NewDesc("bulwark_cache_requests_total",
			"Get and GetOrLoad calls, by outcome (hit or miss).", []string{"name", "outcome"}, nil),
		evictions: prometheus.NewDesc("bulwark_cache_evictions_total",
			"Entries that left a cache, by reason.", []string{"name", "reason"}, nil),
		loads: prometheus.NewDesc("bulwark_cache_loads_total",
			"Loader calls, by outcome (success or failure).", []string{"name", "outcome"}, nil),
		refreshes: prometheus.NewDesc("bulwark_cache_refreshes_total",
			"Background loads started by stale-while-revalidate, early refresh or Refresh.", []string{"name"}, nil),
		size: prometheus.NewDesc("bulwark_cache_size", "Entries a cache holds.", []string{"name"}, nil),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bulwark_cache_load_duration_seconds",
			Help:    "Time a cache's loader took, by outcome and kind (foreground or refresh).",
			Buckets: durationBuckets}, []string{"kind", "name", "outcome"}),
	}
	m.children.build = func(name string) *cacheChildren {
		c := &cacheChildren{}
		for i, kind := range [2]string{"foreground", "refresh"} {
			for j, outcome := range [2]string{"success", "failure"} {
				c.load[i][j] = newLazyObserver(m.duration, kind, name, outcome)
			}
		}
		return c
	}
	return m
}

// CacheObserver returns the Config.Observer of a cache with keys of type K
// that records the duration of every load the cache reports in
// bulwark_cache_load_duration_seconds: an EventLoad (a GetOrLoad or
// GetOrLoadMany miss's loader call) with kind foreground, an EventRefresh
// (a background load: stale-while-revalidate, early refresh, Refresh) with
// kind refresh, and outcome failure when the event has an error
// (ErrNotFound for a key a GetOrLoadMany loader left out included), else
// success:
//
//	c, err := cache.New(cache.Config[string, User]{Name: "users", Capacity: 10_000,
//		Observer: bulwarkprom.CacheObserver[string](m)})
//
// Every loader call is recorded, also one whose result the cache dropped
// (every waiter left, or a write to the key came first), so the
// histogram's count is Stats.Loads, where bulwark_cache_loads_total{failure}
// leaves those out. The other kinds (hits, misses, evictions) are counted
// from Stats by Watch and ignored here at the cost of one comparison: an
// observed hit allocates nothing. A load allocates nothing once its
// cache's name, kind and outcome have been seen. The labels are those of
// package bulwarkotel's CacheObserver.
func CacheObserver[K comparable](m *CacheMetrics) func(cache.Event[K]) {
	return func(e cache.Event[K]) {
		switch e.Kind {
		case cache.EventLoad:
			m.recordLoad(e.Name, 0, e.Duration, e.Err)
		case cache.EventRefresh:
			m.recordLoad(e.Name, 1, e.Duration, e.Err)
		}
	}
}

// recordLoad records one load of the named cache; refresh is 0 for a
// foreground load, 1 for a refresh.
func (m *CacheMetrics) recordLoad(name string, refresh int, d time.Duration, err error) {
	failed := 0
	if err != nil {
		failed = 1
	}
	m.children.get(name).load[refresh][failed].Observe(d.Seconds())
}

// Watch reads c's Stats and size, under the given name, at each scrape,
// until stop is called.
func (m *CacheMetrics) Watch(name string, c Sized) (stop func()) {
	return m.caches.add(namedCache{name, c})
}

// Describe implements prometheus.Collector.
func (m *CacheMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.requests, m.evictions, m.loads, m.refreshes, m.size} {
		ch <- d
	}
	m.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *CacheMetrics) Collect(ch chan<- prometheus.Metric) {
	m.duration.Collect(ch)
	for _, w := range m.caches.snapshot() {
		st := w.c.Stats()
		counter(ch, m.requests, st.Hits, w.name, "hit")
		counter(ch, m.requests, st.Misses, w.name, "miss")
		e := st.Evictions
		for _, r := range []struct {
			reason cache.EvictReason
			n      int64
		}{
			{cache.EvictCapacity, e.Capacity}, {cache.EvictExpired, e.Expired}, {cache.EvictDeleted, e.Deleted},
			{cache.EvictReplaced, e.Replaced}, {cache.EvictCleared, e.Cleared},
		} {
			counter(ch, m.evictions, r.n, w.name, r.reason.String())
		}
		counter(ch, m.loads, st.Loads-st.LoadErrors, w.name, "success")
		counter(ch, m.loads, st.LoadErrors, w.name, "failure")
		counter(ch, m.refreshes, st.Refreshes, w.name)
		gauge(ch, m.size, float64(w.c.Len()), w.name)
	}
}

// counter sends one counter sample.
func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}
