package bulwarkotel

import (
	"context"
	"errors"

	"github.com/bulwark-go/bulwark/cache"
	"go.opentelemetry.io/otel/metric"
)

// CacheMetrics observes caches (package cache) as OpenTelemetry
// instruments, read from each watched cache's Stats at every collection,
// so that a Get costs nothing more with metrics than without:
//
//	bulwark.cache.lookups    counter (async)        {lookup}   name, outcome: Get and GetOrLoad calls, hit or miss
//	bulwark.cache.evictions  counter (async)        {entry}    name, reason: capacity, expired, deleted, replaced, cleared
//	bulwark.cache.loads      counter (async)        {load}     name, outcome: loader calls ended, success or failure
//	bulwark.cache.refreshes  counter (async)        {load}     name: background loads started (also in loads)
//	bulwark.cache.size       updowncounter (async)  {entry}    name: entries held
//
// It is safe for concurrent use.
type CacheMetrics struct {
	meter                                metric.Meter
	lookups, evictions, loads, refreshes metric.Int64ObservableCounter
	size                                 metric.Int64ObservableUpDownCounter
	attrs                                byName[cacheAttrs]
}

// cacheAttrs are one cache name's attribute sets, built once.
type cacheAttrs struct {
	name, hit, miss, success, failure metric.MeasurementOption
	reasons                           [6]metric.MeasurementOption // by cache.EvictReason
}

func newCacheAttrs(name string) *cacheAttrs {
	a := &cacheAttrs{
		name:    with(keyName.String(name)),
		hit:     with(keyName.String(name), keyOutcome.String("hit")),
		miss:    with(keyName.String(name), keyOutcome.String("miss")),
		success: with(keyName.String(name), keyOutcome.String("success")),
		failure: with(keyName.String(name), keyOutcome.String("failure")),
	}
	for r := range a.reasons {
		a.reasons[r] = with(keyName.String(name), keyReason.String(cache.EvictReason(r).String()))
	}
	return a
}

// Cache creates the cache instruments on meter.
func Cache(meter metric.Meter) (*CacheMetrics, error) {
	m := &CacheMetrics{meter: meter, attrs: byName[cacheAttrs]{build: newCacheAttrs}}
	var errs [5]error
	m.lookups, errs[0] = meter.Int64ObservableCounter("bulwark.cache.lookups", metric.WithUnit("{lookup}"),
		metric.WithDescription("Get and GetOrLoad calls, by outcome (hit or miss)."))
	m.evictions, errs[1] = meter.Int64ObservableCounter("bulwark.cache.evictions", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries that left a cache, by reason."))
	m.loads, errs[2] = meter.Int64ObservableCounter("bulwark.cache.loads", metric.WithUnit("{load}"),
		metric.WithDescription("Loader calls, by outcome (success or failure)."))
	m.refreshes, errs[3] = meter.Int64ObservableCounter("bulwark.cache.refreshes", metric.WithUnit("{load}"),
		metric.WithDescription("Background loads started by stale-while-revalidate, early refresh or Refresh."))
	m.size, errs[4] = meter.Int64ObservableUpDownCounter("bulwark.cache.size", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries a cache holds."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// Sized is what CacheMetrics.Watch reads: any *cache.Cache[K, V].
type Sized interface {
	Len() int
	Stats() cache.Stats
}

// Watch observes c's Stats and size under the given name at every
// collection, until the registration is unregistered.
func (m *CacheMetrics) Watch(name string, c Sized) (metric.Registration, error) {
	a := m.attrs.get(name)
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := c.Stats()
		o.ObserveInt64(m.lookups, st.Hits, a.hit)
		o.ObserveInt64(m.lookups, st.Misses, a.miss)
		e := st.Evictions
		o.ObserveInt64(m.evictions, e.Capacity, a.reasons[cache.EvictCapacity])
		o.ObserveInt64(m.evictions, e.Expired, a.reasons[cache.EvictExpired])
		o.ObserveInt64(m.evictions, e.Deleted, a.reasons[cache.EvictDeleted])
		o.ObserveInt64(m.evictions, e.Replaced, a.reasons[cache.EvictReplaced])
		o.ObserveInt64(m.evictions, e.Cleared, a.reasons[cache.EvictCleared])
		o.ObserveInt64(m.loads, st.Loads-st.LoadErrors, a.success)
		o.ObserveInt64(m.loads, st.LoadErrors, a.failure)
		o.ObserveInt64(m.refreshes, st.Refreshes, a.name)
		o.ObserveInt64(m.size, int64(c.Len()), a.name)
		return nil
	}, m.lookups, m.evictions, m.loads, m.refreshes, m.size)
}
