// Package cache is a bounded in-memory cache for Go values, with TTLs,
// a choice of eviction policy (LRU or W-TinyLFU), and a GetOrLoad that
// calls a slow origin once per key however many callers miss it at once.
//
// The three-line use:
//
//	c, err := cache.New(cache.Config[string, User]{Capacity: 10_000, TTL: time.Minute})
//	defer c.Close()
//	u, err := c.GetOrLoad(ctx, id, loadUser) // one loadUser per id at a time
//
// Most callers want GetOrLoad: it returns the cached value, or joins the
// load in flight for the key, or starts one. Get, Set and Delete are the
// plain map-like operations; Peek and Contains look without counting as an
// access; All and Keys iterate; GetOrLoadMany loads many missing keys in
// one batch; Refresh reloads a key in the background.
//
// # Choosing a policy
//
// Config.Policy LRU (the default) evicts the least recently used entry.
// TinyLFU admits a new entry into the main part of the cache only if it is
// requested more often than the entry it would replace, which keeps popular
// keys through scans and bursts of one-off keys: on skewed traffic it hits
// more often than LRU, and on a loop a little larger than the cache, where
// LRU hits never, it keeps most of the loop. Its window of recent entries
// adapts: the cache remembers the keys each part recently dropped and
// moves the window toward the part whose dropped keys come back more
// often, so it stays small for skewed traffic, scans and loops and grows
// (close to LRU) when the popular keys keep changing. bench/cache has the
// hit-ratio traces and a plot.
//
// # Loads
//
// GetOrLoad carries its own flight group keyed by K. Unlike
// golang.org/x/sync/singleflight (string keys; the first caller's
// cancellation ends the shared call), a waiter leaves on its own ctx, and
// the load runs in its own goroutine under context.WithoutCancel of the
// first caller's ctx, cancelled only when every waiter has gone or the cache
// is closed. A loader panic is recovered and returned to every waiter as a
// *PanicError. A Set, SetTTL, Delete or Clear of a key while its load runs
// wins: the load's result goes to its waiters but is not stored.
//
// With Config.StaleFor, GetOrLoad serves a value past its TTL at once and
// refreshes it in the background (stale-while-revalidate); with
// Config.EarlyRefresh it refreshes a value shortly before its TTL ends, with
// the probability of XFetch (Vattani, Chierichetti, Lowenstein, "Optimal
// Probabilistic Cache Stampede Prevention", PVLDB 8(8), 2015,
// https://www.vldb.org/pvldb/vol8/p886-vattani.pdf); with Config.ErrorTTL it
// caches load errors (negative caching).
//
// # Events
//
// Config.Observer receives an Event for every hit and miss of Get,
// GetOrLoad and GetOrLoadMany, for the end of every load and refresh (with
// its duration and error) and for every entry leaving (with the
// EvictReason OnEvict gets), tagged with Config.Name. It is called on the
// caller's or the load's goroutine, never under a lock, so it may call the
// cache back; a panic in it is recovered and counted in
// Stats.ObserverPanics. Events are passed by value: an observed hit
// allocates nothing, and with no observer a hit pays one branch.
//
// # Concurrency
//
// A Cache is safe for concurrent use. A Get hit takes no lock, writes no
// memory shared with other cores except, rarely, the entry's access mark,
// and allocates nothing, so reads scale with cores. Writes lock one of
// Config.Shards shards, except a Set of a key the cache holds in a cache
// with neither TTL nor OnEvict, Observer or MaxCost, and more than one
// shard or Policy TinyLFU: the lock would guard nothing but the value, so
// such a Set stores it in the entry without the lock, and redoes itself
// under the lock if a write or removal of the key, or a load on its shard,
// races it (readers may then see its value before and after the other
// write; the entry ends with one write's value and that write's expiry).
// OnEvict is never called with a lock held. Expired
// entries are reclaimed when an operation finds them; no goroutine runs but
// loads, and Close cancels and waits for those.
//
// # Defaults
//
// Every zero Config field except Capacity turns a feature off (no TTL, no
// jitter, no stale serving, no early refresh, no negative caching, no cost
// bound) or picks a default: Policy LRU, and Shards 16 per GOMAXPROCS (a
// power of two), halved until each shard holds at least 256 entries.
package cache
