package cache

// Stats is a snapshot of a cache's counters since New.
type Stats struct {
	// Hits counts Get and GetOrLoad calls answered from the cache,
	// including stale values and cached errors returned by GetOrLoad.
	Hits uint64
	// Misses counts calls that found no usable entry.
	Misses uint64
	// Evictions counts entries that left the cache, by reason.
	Evictions Evictions
	// Loads counts loader calls started (foreground and refreshes).
	Loads uint64
	// LoadErrors counts loads that returned an error or panicked, except
	// abandoned or superseded loads, whose results are not stored.
	LoadErrors uint64
	// SharedWaits counts GetOrLoad misses that joined a load already in
	// flight instead of starting one.
	SharedWaits uint64
	// Refreshes counts background loads started by stale-while-revalidate
	// or XFetch (they are included in Loads too).
	Refreshes uint64
}

// Evictions counts removed entries by EvictReason.
type Evictions struct {
	Capacity, Expired, Deleted, Replaced, Cleared uint64
}

// Total returns the sum over all reasons.
func (e Evictions) Total() uint64 {
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
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		p := s.stats
		s.mu.RUnlock()
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
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
