package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// ErrClosed is returned by GetOrLoad when it would have to start a load on a
// cache that has been closed. Get, Set and the other in-memory operations keep
// working after Close.
var ErrClosed = errors.New("cache: closed")

// EvictReason says why an entry left the cache; OnEvict receives it.
type EvictReason uint8

const (
	// EvictCapacity: the entry was the least recently used of a full shard.
	EvictCapacity EvictReason = iota + 1
	// EvictExpired: the entry was found past its TTL (and StaleFor window).
	EvictExpired
	// EvictDeleted: Delete removed the entry.
	EvictDeleted
	// EvictReplaced: Set, SetTTL or a load stored a new value for the key.
	EvictReplaced
	// EvictCleared: Clear removed the entry.
	EvictCleared
)

var reasonNames = [...]string{"unknown", "capacity", "expired", "deleted", "replaced", "cleared"}

// String returns the reason's lower-case name, e.g. "capacity".
func (r EvictReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return reasonNames[0]
}

// Config configures a Cache. Only Capacity is required; every other zero
// field turns its feature off or picks the documented default.
type Config[K comparable, V any] struct {
	// Capacity is the maximum number of entries, required > 0. It is split
	// evenly over the shards (the first Capacity%Shards shards hold one more),
	// and each shard evicts its own least recently used entry when full.
	Capacity int

	// TTL is how long a stored value stays fresh. 0 means values never expire.
	TTL time.Duration

	// TTLJitter, in [0,1), shortens each TTL by a uniformly random fraction
	// of up to TTLJitter, so an entry lives for a duration in
	// [TTL·(1−TTLJitter), TTL]. Spreading expiries keeps keys loaded together
	// from all missing at the same instant. 0 means no jitter.
	TTLJitter float64

	// Shards is the number of independently locked shards, a power of two
	// no larger than Capacity. 1 makes the whole cache one exact LRU, whose
	// every hit takes the shard's write lock to move its entry. With more
	// than one shard, each shard runs CLOCK on its LRU list: a hit takes
	// only a read lock and marks the entry, and eviction gives a marked
	// entry a second chance (see the package doc); the Zipf hit ratio stays
	// within a point of an exact LRU of the same capacity (cache_test.go,
	// bench/cache). 0 picks 16×GOMAXPROCS rounded up to a power of two
	// (measured in bench/cache: contention falls off by 16 shards per
	// core), halved until every shard holds at least 256 entries.
	Shards int

	// StaleFor is the stale-while-revalidate window: for StaleFor after a
	// value's TTL ends, GetOrLoad still returns it at once and starts one
	// background refresh. Get never returns a stale value. 0 turns it off.
	StaleFor time.Duration

	// EarlyRefresh is the XFetch β (Vattani, Chierichetti, Lowenstein,
	// PVLDB 8(8), 2015): a GetOrLoad hit on a value with a TTL starts one
	// background refresh with probability exp(−remaining/(β·Δ)), Δ being the
	// duration of the load that produced the value. The paper's default is
	// 1.0; larger values refresh earlier. 0 turns it off.
	EarlyRefresh float64

	// ErrorTTL caches a load error for this long (negative caching): within
	// it, GetOrLoad returns the error without calling the loader. Panics
	// and context errors are never cached. 0 turns it off.
	ErrorTTL time.Duration

	// OnEvict, if set, is called once for every value that leaves the
	// cache, with the reason. It is never called while a lock is held, so it
	// may call back into the cache. It is not called for cached load errors.
	OnEvict func(key K, value V, reason EvictReason)
}

// Cache is a sharded LRU cache with TTLs and a singleflight GetOrLoad. All
// methods are safe for concurrent use. Get hits take one shard's read lock
// (with Shards: 1, its write lock) and do not allocate. Expired entries are
// reclaimed lazily, when an operation finds them; there is no janitor
// goroutine. The only goroutines a Cache starts run loads, and Close
// cancels and waits for them.
type Cache[K comparable, V any] struct {
	shards []shard[K, V]
	shift  uint // shard index = hash >> shift; 64 (giving 0) for one shard
	hash   hasher[K]

	ttl      int64
	jitter   float64
	staleFor int64
	errorTTL int64
	beta     float64
	onEvict  func(K, V, EvictReason)

	epoch time.Time
	// rand returns a uniform float in [0,1); tests replace it with a seeded source.
	rand func() float64

	life   sync.Mutex // guards closed and orders wg.Add before wg.Wait
	closed bool
	loads  sync.WaitGroup // every load goroutine
	// closing is cancelled by Close; every load context follows it.
	closing context.Context
	stop    context.CancelFunc
}

// New returns a cache configured by cfg, or an error naming the first
// invalid field.
func New[K comparable, V any](cfg Config[K, V]) (*Cache[K, V], error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	n := cfg.Shards
	if n == 0 {
		n = autoShards(cfg.Capacity, runtime.GOMAXPROCS(0))
	}
	c := &Cache[K, V]{
		shards:   make([]shard[K, V], n),
		shift:    uint(64 - bits.TrailingZeros(uint(n))),
		hash:     newHasher[K](),
		ttl:      int64(cfg.TTL),
		jitter:   cfg.TTLJitter,
		staleFor: int64(cfg.StaleFor),
		errorTTL: int64(cfg.ErrorTTL),
		beta:     cfg.EarlyRefresh,
		onEvict:  cfg.OnEvict,
		epoch:    time.Now(),
		rand:     rand.Float64,
	}
	c.closing, c.stop = context.WithCancel(context.Background())
	for i := range c.shards {
		size := cfg.Capacity / n
		if i < cfg.Capacity%n {
			size++
		}
		c.shards[i].init(size, n == 1)
	}
	return c, nil
}

func validate[K comparable, V any](cfg Config[K, V]) error {
	switch {
	case cfg.Capacity <= 0:
		return fmt.Errorf("cache: Config.Capacity %d must be > 0", cfg.Capacity)
	case cfg.Shards < 0 || cfg.Shards&(cfg.Shards-1) != 0:
		return fmt.Errorf("cache: Config.Shards %d is not a power of two", cfg.Shards)
	case cfg.Shards > cfg.Capacity:
		return fmt.Errorf("cache: Config.Shards %d exceeds Config.Capacity %d", cfg.Shards, cfg.Capacity)
	case cfg.Shards > 1<<24:
		return fmt.Errorf("cache: Config.Shards %d exceeds %d", cfg.Shards, 1<<24)
	case cfg.Capacity/max(cfg.Shards, 1) >= 1<<31-1:
		return fmt.Errorf("cache: Config.Capacity %d per shard exceeds %d", cfg.Capacity, 1<<31-2)
	case cfg.TTL < 0:
		return fmt.Errorf("cache: Config.TTL %v is negative", cfg.TTL)
	case !(cfg.TTLJitter >= 0 && cfg.TTLJitter < 1):
		return fmt.Errorf("cache: Config.TTLJitter %v outside [0,1)", cfg.TTLJitter)
	case cfg.StaleFor < 0:
		return fmt.Errorf("cache: Config.StaleFor %v is negative", cfg.StaleFor)
	case !(cfg.EarlyRefresh >= 0) || cfg.EarlyRefresh > 1e9:
		return fmt.Errorf("cache: Config.EarlyRefresh %v outside [0,1e9]", cfg.EarlyRefresh)
	case cfg.ErrorTTL < 0:
		return fmt.Errorf("cache: Config.ErrorTTL %v is negative", cfg.ErrorTTL)
	}
	return nil
}

// autoShards returns 16 shards per P rounded up to a power of two, halved
// until each shard holds at least 256 entries (or one shard is left).
func autoShards(capacity, procs int) int {
	n := 1 << bits.Len(uint(16*procs-1))
	for n > 1 && capacity/n < 256 {
		n /= 2
	}
	return n
}

// shardFor returns key's shard and hash: the top bits pick the shard, the
// low bits the shard's table slot.
func (c *Cache[K, V]) shardFor(key K) (*shard[K, V], uint64) {
	h := c.hash.sum(key)
	return &c.shards[h>>c.shift], h
}

// now returns nanoseconds since New on the monotonic clock, always >= 1 so
// that 0 can mean "never expires".
func (c *Cache[K, V]) now() int64 {
	return int64(time.Since(c.epoch)) + 1
}

// expiry returns when a value stored at now with ttl stops being fresh, 0
// (never) for ttl <= 0; jitter shortens it by up to TTLJitter·ttl.
func (c *Cache[K, V]) expiry(now, ttl int64, jitter bool) int64 {
	if ttl <= 0 {
		return 0
	}
	if jitter && c.jitter > 0 {
		ttl -= int64(c.jitter * c.rand() * float64(ttl))
	}
	return addSat(now, ttl)
}

// addSat returns a+b for b >= 0, saturating at math.MaxInt64, so that a TTL,
// StaleFor or ErrorTTL meaning "practically forever" (up to the largest
// time.Duration) does not wrap a deadline into the past.
func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// deadline returns when e may no longer be served even stale, 0 = never:
// StaleFor after a value expires, at once for a cached error.
func (c *Cache[K, V]) deadline(e *entry[K, V]) int64 {
	if e.expires == 0 || e.err != nil {
		return e.expires
	}
	return addSat(e.expires, c.staleFor)
}

// Get returns the fresh value stored for key. Stale values, cached load
// errors and expired entries are misses; an expired entry found here is
// removed (OnEvict with EvictExpired). Get never blocks on a load.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	s, h := c.shardFor(key)
	if s.exact {
		return c.getLocked(s, h, key)
	}
	s.mu.RLock()
	i := s.find(h, key)
	if i == 0 {
		s.misses.Add(1)
		s.mu.RUnlock()
		var zero V
		return zero, false
	}
	// A fresh hit needs only the read lock (CLOCK mode, see shard). No
	// clock read for values without a TTL.
	if e := &s.entries[i]; e.err == nil && (e.expires == 0 || c.now() < e.expires) {
		v := e.value
		s.touch(i)
		s.hits.Add(1)
		s.mu.RUnlock()
		return v, true
	}
	s.mu.RUnlock()
	return c.getLocked(s, h, key)
}

// getLocked is Get under the shard's write lock: for an exact LRU, whose
// hits move the entry, and for entries that are not fresh, which may have
// to be removed. The entry may have changed since Get looked.
func (c *Cache[K, V]) getLocked(s *shard[K, V], h uint64, key K) (V, bool) {
	var zero V
	s.mu.Lock()
	i := s.find(h, key)
	if i == 0 {
		s.misses.Add(1)
		s.mu.Unlock()
		return zero, false
	}
	e := &s.entries[i]
	var now int64
	if e.expires != 0 {
		now = c.now()
	}
	if dead := c.deadline(e); dead != 0 && now >= dead {
		ev := s.remove(i, EvictExpired)
		s.misses.Add(1)
		s.mu.Unlock()
		c.notify(ev)
		return zero, false
	}
	if e.err != nil || (e.expires != 0 && now >= e.expires) {
		s.misses.Add(1)
		s.mu.Unlock()
		return zero, false
	}
	s.moveToFront(i)
	s.hits.Add(1)
	v := e.value
	s.mu.Unlock()
	return v, true
}

// Set stores value for key with the configured TTL (and jitter), replacing
// any previous entry (OnEvict with EvictReplaced) and evicting the shard's
// least recently used entry if the shard is full (EvictCapacity). A load of
// key in flight does not overwrite value when it finishes (see GetOrLoad).
func (c *Cache[K, V]) Set(key K, value V) {
	var expires int64
	if c.ttl > 0 {
		expires = c.expiry(c.now(), c.ttl, true)
	}
	c.store(key, value, expires)
}

// SetTTL is Set with an explicit ttl for this entry, used exactly (no
// jitter); ttl <= 0 stores a value that never expires. StaleFor still
// applies after ttl.
func (c *Cache[K, V]) SetTTL(key K, value V, ttl time.Duration) {
	var expires int64
	if ttl > 0 {
		expires = c.expiry(c.now(), int64(ttl), false)
	}
	c.store(key, value, expires)
}

func (c *Cache[K, V]) store(key K, value V, expires int64) {
	s, h := c.shardFor(key)
	s.mu.Lock()
	s.supersede(key)
	ev := s.put(h, key, value, nil, expires, 0)
	s.mu.Unlock()
	c.notify(ev)
}

// Delete removes key and reports whether it had an entry (fresh, stale or a
// cached error). A removed value is passed to OnEvict with EvictDeleted.
// A load of key in flight does not store its (older) result afterwards.
func (c *Cache[K, V]) Delete(key K) bool {
	s, h := c.shardFor(key)
	s.mu.Lock()
	s.supersede(key)
	i := s.find(h, key)
	ok := i != 0
	var ev eviction[K, V]
	if ok {
		ev = s.remove(i, EvictDeleted)
	}
	s.mu.Unlock()
	c.notify(ev)
	return ok
}

// Clear removes every entry, passing each value to OnEvict with
// EvictCleared. Loads in flight still return their results to their
// waiters but do not store them (see GetOrLoad); refreshes are cancelled.
func (c *Cache[K, V]) Clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		evs := s.clear(c.onEvict != nil)
		s.mu.Unlock()
		for _, ev := range evs {
			c.notify(ev)
		}
	}
}

// Len returns the number of entries, including stale values and cached
// errors not yet reclaimed. It locks each shard in turn, so under
// concurrent writes it is a close estimate, not a snapshot.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.n
		s.mu.RUnlock()
	}
	return n
}

// Close cancels the contexts of every load in flight (foreground loads and
// background refreshes) and waits for the loaders to return; after Close,
// GetOrLoad returns ErrClosed instead of starting a load. The cache's
// contents stay readable. Close is idempotent.
func (c *Cache[K, V]) Close() {
	c.life.Lock()
	c.closed = true
	c.life.Unlock()
	c.stop()
	c.loads.Wait()
}

// notify calls OnEvict for ev outside every lock.
func (c *Cache[K, V]) notify(ev eviction[K, V]) {
	if ev.reason != 0 && c.onEvict != nil {
		c.onEvict(ev.key, ev.value, ev.reason)
	}
}
