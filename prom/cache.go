package bulwarkprom

import (
	"github.com/bulwark-go/bulwark/cache"
	"github.com/prometheus/client_golang/prometheus"
)

// CacheMetrics is a prometheus.Collector for caches (package cache). The
// caches given to Watch are read at each scrape, from their Stats, so that
// a Get costs nothing more with metrics than without:
//
//	bulwark_cache_lookups_total{name,outcome}  counter: Get and GetOrLoad calls, outcome hit or miss
//	bulwark_cache_evictions_total{name,reason} counter: entries that left, reason capacity, expired, deleted, replaced or cleared
//	bulwark_cache_loads_total{name,outcome}    counter: loader calls ended, outcome success or failure
//	bulwark_cache_refreshes_total{name}        counter: background loads started (also in loads)
//	bulwark_cache_size{name}                   gauge: entries held
//
// Register it once per registry. It is safe for concurrent use.
type CacheMetrics struct {
	lookups, evictions, loads, refreshes, size *prometheus.Desc
	caches                                     watchList[namedCache]
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

// Cache returns a CacheMetrics with no cache watched yet.
func Cache() *CacheMetrics {
	return &CacheMetrics{
		lookups: prometheus.NewDesc("bulwark_cache_lookups_total",
			"Get and GetOrLoad calls, by outcome (hit or miss).", []string{"name", "outcome"}, nil),
		evictions: prometheus.NewDesc("bulwark_cache_evictions_total",
			"Entries that left a cache, by reason.", []string{"name", "reason"}, nil),
		loads: prometheus.NewDesc("bulwark_cache_loads_total",
			"Loader calls, by outcome (success or failure).", []string{"name", "outcome"}, nil),
		refreshes: prometheus.NewDesc("bulwark_cache_refreshes_total",
			"Background loads started by stale-while-revalidate, early refresh or Refresh.", []string{"name"}, nil),
		size: prometheus.NewDesc("bulwark_cache_size", "Entries a cache holds.", []string{"name"}, nil),
	}
}

// Watch reads c's Stats and size, under the given name, at each scrape,
// until stop is called.
func (m *CacheMetrics) Watch(name string, c Sized) (stop func()) {
	return m.caches.add(namedCache{name, c})
}

// Describe implements prometheus.Collector.
func (m *CacheMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.lookups, m.evictions, m.loads, m.refreshes, m.size} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *CacheMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, w := range m.caches.snapshot() {
		st := w.c.Stats()
		counter(ch, m.lookups, st.Hits, w.name, "hit")
		counter(ch, m.lookups, st.Misses, w.name, "miss")
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
