package bulwarkotel

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-go/bulwark/cache"
	"go.opentelemetry.io/otel/metric"
)

// CacheMetrics observes caches (package cache) as OpenTelemetry
// instruments. The counters and the size are read from each watched
// cache's Stats at every collection, so that a Get costs nothing more with
// metrics than without; the load durations come from the caches' events,
// through the observer CacheObserver returns:
//
//	bulwark.cache.requests       counter (async)        {request}  name, outcome: Get and GetOrLoad calls, hit or miss
//	bulwark.cache.evictions      counter (async)        {entry}    name, reason: capacity, expired, deleted, replaced, cleared
//	bulwark.cache.loads          counter (async)        {load}     name, outcome: loader calls, success or failure
//	bulwark.cache.refreshes      counter (async)        {load}     name: background loads started (also in loads)
//	bulwark.cache.size           updowncounter (async)  {entry}    name: entries held
//	bulwark.cache.load.duration  histogram              s          name, outcome (success, failure), kind (foreground, refresh)
//
// bulwark.cache.loads counts every loader call from its start
// (Stats.Loads): those whose error the cache stored (Stats.LoadErrors) with
// outcome failure, the others (succeeded, still running, or failed with a
// result the cache dropped) with outcome success.
//
// It is safe for concurrent use.
type CacheMetrics struct {
	meter                                 metric.Meter
	requests, evictions, loads, refreshes metric.Int64ObservableCounter
	size                                  metric.Int64ObservableUpDownCounter
	duration                              metric.Float64Histogram
	attrs                                 byName[cacheAttrs]
}

// cacheAttrs are one cache name's attribute sets, built once.
type cacheAttrs struct {
	name, hit, miss, success, failure attrs
	reasons                           [6]attrs // by cache.EvictReason
	// load are the load duration's sets, by [refresh][failure].
	load [2][2]attrs
}

func newCacheAttrs(name string) *cacheAttrs {
	n := keyName.String(name)
	a := &cacheAttrs{
		name:    newAttrs(n),
		hit:     newAttrs(n, keyOutcome.String("hit")),
		miss:    newAttrs(n, keyOutcome.String("miss")),
		success: newAttrs(n, keyOutcome.String("success")),
		failure: newAttrs(n, keyOutcome.String("failure")),
	}
	for r := range a.reasons {
		a.reasons[r] = newAttrs(n, keyReason.String(cache.EvictReason(r).String()))
	}
	for i, kind := range [2]string{"foreground", "refresh"} {
		for j, outcome := range [2]string{"success", "failure"} {
			a.load[i][j] = newAttrs(n, keyOutcome.String(outcome), keyKind.String(kind))
		}
	}
	return a
}

// Cache creates the cache instruments on meter and returns them; the error
// is the meter's, if it refused an instrument. Pass each cache to Watch for
// the counters and the size, and put CacheObserver's function in its
// Config for the load durations:
//
//	m, err := bulwarkotel.Cache(meter)
//	c, err := cache.New(cache.Config[string, User]{Name: "users", Capacity: 10_000,
//		Observer: bulwarkotel.CacheObserver[string](m)})
//	reg, err := m.Watch("users", c)
func Cache(meter metric.Meter) (*CacheMetrics, error) {
	m := &CacheMetrics{meter: meter, attrs: byName[cacheAttrs]{build: newCacheAttrs}}
	var errs [6]error
	m.requests, errs[0] = meter.Int64ObservableCounter("bulwark.cache.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Get and GetOrLoad calls, by outcome (hit or miss)."))
	m.evictions, errs[1] = meter.Int64ObservableCounter("bulwark.cache.evictions", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries that left a cache, by reason."))
	m.loads, errs[2] = meter.Int64ObservableCounter("bulwark.cache.loads", metric.WithUnit("{load}"),
		metric.WithDescription("Loader calls, by outcome (success or failure)."))
	m.refreshes, errs[3] = meter.Int64ObservableCounter("bulwark.cache.refreshes", metric.WithUnit("{load}"),
		metric.WithDescription("Background loads started by stale-while-revalidate, early refresh or Refresh."))
	m.size, errs[4] = meter.Int64ObservableUpDownCounter("bulwark.cache.size", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries a cache holds."))
	m.duration, errs[5] = meter.Float64Histogram("bulwark.cache.load.duration", metric.WithUnit("s"),
		metric.WithDescription("Time a cache's loader took, by outcome and kind (foreground or refresh)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
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
		o.ObserveInt64(m.requests, st.Hits, a.hit.obs...)
		o.ObserveInt64(m.requests, st.Misses, a.miss.obs...)
		e := st.Evictions
		o.ObserveInt64(m.evictions, e.Capacity, a.reasons[cache.EvictCapacity].obs...)
		o.ObserveInt64(m.evictions, e.Expired, a.reasons[cache.EvictExpired].obs...)
		o.ObserveInt64(m.evictions, e.Deleted, a.reasons[cache.EvictDeleted].obs...)
		o.ObserveInt64(m.evictions, e.Replaced, a.reasons[cache.EvictReplaced].obs...)
		o.ObserveInt64(m.evictions, e.Cleared, a.reasons[cache.EvictCleared].obs...)
		o.ObserveInt64(m.loads, st.Loads-st.LoadErrors, a.success.obs...)
		o.ObserveInt64(m.loads, st.LoadErrors, a.failure.obs...)
		o.ObserveInt64(m.refreshes, st.Refreshes, a.name.obs...)
		o.ObserveInt64(m.size, int64(c.Len()), a.name.obs...)
		return nil
	}, m.requests, m.evictions, m.loads, m.refreshes, m.size)
}

// CacheObserver returns the Config.Observer of a cache with keys of type K
// that records the duration of every load the cache reports in
// bulwark.cache.load.duration: an EventLoad (a GetOrLoad or GetOrLoadMany
// miss's loader call) with kind foreground, an EventRefresh (a background
// load: stale-while-revalidate, early refresh, Refresh) with kind refresh,
// and outcome failure when the event has an error (ErrNotFound for a key a
// GetOrLoadMany loader left out included), else success:
//
//	c, err := cache.New(cache.Config[string, User]{Name: "users", Capacity: 10_000,
//		Observer: bulwarkotel.CacheObserver[string](m)})
//
// Every loader call is recorded, also one whose result the cache dropped
// (every waiter left, or a write to the key came first), so the
// histogram's count is Stats.Loads, where bulwark.cache.loads{failure}
// leaves those out. The other kinds (hits, misses, evictions) are counted
// from Stats by Watch and ignored here at the cost of one comparison:
// an observed hit allocates nothing. A load allocates nothing once the
// cache's name has been seen. One CacheMetrics serves any number of
// caches, told apart by their Config.Name.
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
	m.duration.Record(context.Background(), seconds(d), m.attrs.get(name).load[refresh][failed].rec...)
}
