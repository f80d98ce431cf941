package cache

import (
	"sync/atomic"

	"github.com/bulwark-go/bulwark/internal/stripe"
)

// Stats is a snapshot of a cache's counters since New.
type Stats struct {
	// Hits counts Get and GetOrLoad calls answered from the cache,
	// including stale values and cached errors returned by GetOrLoad.
	Hits int64
	// Misses counts calls that found no usable entry.
	Misses int64
	// Evictions counts entries that left the cache, by reason.
	Evictions Evictions
	// Loads counts loader calls started (foreground, refreshes, and one per
	// key of a GetOrLoadMany batch).
	Loads int64
	// LoadErrors counts loads that returned an error or panicked, except
	// abandoned or superseded loads, whose results are not stored.
	LoadErrors int64
	// SharedWaits counts GetOrLoad misses that joined a load already in
	// flight instead of starting one.
	SharedWaits int64
	// Refreshes counts background loads started by stale-while-revalidate,
	// XFetch or Refresh (they are included in Loads too).
	Refreshes int64
	// ObserverPanics counts panics of Config.Observer, recovered.
	ObserverPanics int64
}

// Evictions counts removed entries by EvictReason.
type Evictions struct {
	Capacity, Expired, Deleted, Replaced, Cleared int64
}

// Total returns the sum over all reasons.
func (e Evictions) Total() int64 {
	return e.Capacity + e.Expired + e.Deleted + e.Replaced + e.Cleared
}

// HitRatio returns Hits/(Hits+Misses), or 0 before any lookup.
func (s Stats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Stats returns the counters summed over the shards. It locks each shard in
// turn, so it is consistent per shard, not across shards.
func (c *Cache[K, V]) Stats() Stats {
	var st Stats
	st.Hits, st.Misses, st.Evictions.Replaced = c.counts.sum()
	if c.obs != nil {
		st.ObserverPanics = c.obs.Panics()
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		p := s.stats
		s.mu.Unlock()
		st.Evictions.Capacity += p.evictions[EvictCapacity]
		st.Evictions.Expired += p.evictions[EvictExpired]
		st.Evictions.Deleted += p.evictions[EvictDeleted]
		st.Evictions.Replaced += p.evictions[EvictReplaced]
		st.Evictions.Cleared += p.evictions[EvictCleared]
		st.Loads += p.loads
		st.LoadErrors += p.loadErrors
		st.SharedWaits += p.sharedWaits
		st.Refreshes += p.refreshes
	}
	return st
}

const countStripes = 16

var countShift = stripe.Shift(countStripes)

// counters are the counts of the lock-free paths (hits, misses, values
// replaced by a lock-free Set), striped by the calling goroutine's stack
// (package stripe) so that calls running on different cores add to
// different cache lines: the only atomic add of a lock-free hit.
type counters struct {
	_       [64]byte
	stripes [countStripes]countStripe
}

type countStripe struct {
	hits, misses, replaced atomic.Int64
	_                      [40]byte
}

func (c *counters) hit()     { c.stripes[stripe.Index(countShift)].hits.Add(1) }
func (c *counters) miss()    { c.stripes[stripe.Index(countShift)].misses.Add(1) }
func (c *counters) replace() { c.stripes[stripe.Index(countShift)].replaced.Add(1) }

func (c *counters) sum() (hits, misses, replaced int64) {
	for i := range c.stripes {
		hits += c.stripes[i].hits.Load()
		misses += c.stripes[i].misses.Load()
		replaced += c.stripes[i].replaced.Load()
	}
	return hits, misses, replaced
}
