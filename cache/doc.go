// Package cache provides a sharded generic LRU cache with TTLs, a
// context-correct singleflight GetOrLoad, stale-while-revalidate, negative
// caching and probabilistic early refresh (XFetch).
//
// The three-line use:
//
//	c, err := cache.New(cache.Config[string, User]{Capacity: 10_000, TTL: time.Minute})
//	defer c.Close()
//	u, err := c.GetOrLoad(ctx, id, loadUser) // one loadUser per id at a time
//
// # Structure
//
// Keys are spread over Config.Shards shards by a per-cache hash/maphash seed
// (an in-process hash is all shard choice needs). Each shard is an exact LRU
// with its own sync.Mutex: a Get hit moves the entry to the front, so it
// writes and a sync.RWMutex would not help. Entries live in one slice per
// shard and link by int32 index, so the list allocates nothing per entry;
// Get and Set of an existing key allocate nothing. With Shards: 1 the whole
// cache is one exact LRU (cache_test.go checks it against a reference LRU
// over 100,000 random operations); with automatic sharding the Zipf hit
// ratio stays within a percentage point of the exact LRU.
//
// Expired entries are reclaimed lazily when an operation finds them; there
// is no janitor goroutine. Get never reads the clock for an entry without a
// deadline.
//
// # Loads
//
// GetOrLoad carries its own flight group, keyed by K and kept in each shard
// under the shard's mutex, so "look up, else join or start the load" is one
// critical section and "store the value, leave the flight group" another: at
// most one load per key runs at a time, and no caller falls between a load
// finishing and its value appearing. Unlike golang.org/x/sync/singleflight
// (string keys; the first caller's cancellation ends the shared call), a
// waiter leaves on its own ctx, and the load runs in its own goroutine under
// context.WithoutCancel of the first caller's ctx, cancelled only when every
// waiter has gone or the cache is closed. A loader panic is recovered and
// returned to every waiter as a *PanicError.
//
// XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache
// Stampede Prevention", PVLDB 8(8), 2015; REFERENCES.md §8): a read with t
// left before expiry refreshes early with probability exp(−t/(β·Δ)), Δ being
// the last load's duration; for β = 1 that is 0.368 at t = Δ and 0.0067 at
// t = 5Δ. Refreshes (XFetch and stale-while-revalidate) run in the
// background, one per key, and Close cancels and waits for them.
//
// # Defaults
//
// Every zero Config field except Capacity turns a feature off (no TTL, no
// jitter, no stale serving, no early refresh, no negative caching), except
// Shards, where 0 picks 16 shards per GOMAXPROCS (a power of two), halved
// until each shard holds at least 256 entries.
package cache
