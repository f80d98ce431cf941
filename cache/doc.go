// Package cache provides a sharded generic LRU cache with TTLs, a
// context-correct singleflight GetOrLoad, stale-while-revalidate, negative
// caching and probabilistic early refresh (XFetch).
//
// The three-line use:
//
//	c, err := cache.New[string, User](cache.Config[string, User]{Capacity: 10_000})
//	...
//	u, err := c.GetOrLoad(ctx, id, loadUser)
//
// References: Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache
// Stampede Prevention", PVLDB 8(8), 2015 (XFetch); golang.org/x/sync/singleflight.
package cache
