package bulwarkprom

import (
	"github.com/prometheus/client_golang/prometheus"
)

// CacheMetrics is a prometheus.Collector for caches (package cache). The
// caches given to Watch are read at each scrape:
//
//	bulwark_cache_size{name}  gauge: entries held
//
// Register it once per registry. It is safe for concurrent use.
type CacheMetrics struct {
	size   *prometheus.Desc
	caches watchList[namedCache]
}

type namedCache struct {
	name string
	c    Sized
}

// Sized is what CacheMetrics.Watch reads: any *cache.Cache[K, V].
type Sized interface{ Len() int }

// Cache returns a CacheMetrics with no cache watched yet.
func Cache() *CacheMetrics {
	return &CacheMetrics{
		size: prometheus.NewDesc("bulwark_cache_size", "Entries a cache holds.", []string{"name"}, nil),
	}
}

// Watch reads c's size, under the given name, at each scrape, until stop
// is called.
func (m *CacheMetrics) Watch(name string, c Sized) (stop func()) {
	return m.caches.add(namedCache{name, c})
}

// Describe implements prometheus.Collector.
func (m *CacheMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.size
}

// Collect implements prometheus.Collector.
func (m *CacheMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, w := range m.caches.snapshot() {
		gauge(ch, m.size, float64(w.c.Len()), w.name)
	}
}
