package bulwarkotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// CacheMetrics records cache events (package cache) as OpenTelemetry
// instruments and observes the size of the caches it watches:
//
//	bulwark.cache.size  updowncounter (async)  {entry}  name: entries held
//
// It is safe for concurrent use.
type CacheMetrics struct {
	meter metric.Meter
	size  metric.Int64ObservableUpDownCounter
	attrs byName[cacheAttrs]
}

type cacheAttrs struct {
	name metric.MeasurementOption
}

func newCacheAttrs(name string) *cacheAttrs {
	return &cacheAttrs{name: with(keyName.String(name))}
}

// Cache creates the cache instruments on meter.
func Cache(meter metric.Meter) (*CacheMetrics, error) {
	m := &CacheMetrics{meter: meter, attrs: byName[cacheAttrs]{build: newCacheAttrs}}
	var errs [1]error
	m.size, errs[0] = meter.Int64ObservableUpDownCounter("bulwark.cache.size", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries a cache holds."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// Sized is what CacheMetrics.Watch reads: any *cache.Cache[K, V].
type Sized interface{ Len() int }

// Watch observes c's size under the given name at every collection, until
// the registration is unregistered.
func (m *CacheMetrics) Watch(name string, c Sized) (metric.Registration, error) {
	a := m.attrs.get(name)
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(m.size, int64(c.Len()), a.name)
		return nil
	}, m.size)
}
