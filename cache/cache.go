package cache

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

var (
	// ErrClosed is returned by GetOrLoad, GetOrLoadMany and Refresh when
	// they would have to start a load on a cache that has been closed. Get,
	// Set and the other in-memory operations keep working after Close.
	ErrClosed = errors.New("cache: closed")

	// ErrInvalidConfig matches every configuration error of this package,
	// from New and Resize. The message names the field and its value, e.g.
	// "cache: Config.Capacity 0 must be > 0".
	ErrInvalidConfig = errors.New("cache: invalid config")
)

// configError is an ErrInvalidConfig whose message names the field and value.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "cache: " + fmt.Sprintf(format, args...)}
}

// EvictReason says why an entry left the cache; OnEvict receives it.
type EvictReason uint8

const (
	// EvictCapacity: the policy chose the entry to make room (or Resize
	// shrank the cache, or the entry alone outweighs MaxCost).
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

// Policy chooses which entry a full cache gives up.
type Policy uint8

const (
	// LRU evicts the least recently used entry. With Shards: 1 it is an
	// exact LRU; with more shards each shard approximates it by CLOCK
	// (second chance), within a point of exact LRU's hit ratio on skewed
	// traffic, so that hits need no lock.
	LRU Policy = iota
	// TinyLFU is W-TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly
	// Efficient Cache Admission Policy", ACM Transactions on Storage 13(4),
	// 2017): a small LRU window admits new entries, and an entry leaving
	// it replaces the main segment's victim only if a frequency sketch
	// says it is requested more often. It resists scans and one-hit
	// wonders, and on skewed traffic keeps the popular keys LRU loses.
	// Choose it when keys differ in popularity and a miss is expensive.
	//
	// The window's share of the capacity adapts to the traffic (1% at
	// first, at most 99%): each shard remembers the keys its window and
	// its main segment recently dropped, and once per Capacity lookups the
	// cache moves the window toward the part whose dropped keys came back
	// more often, in steps as in Einziger, Eytan, Friedman, Manes,
	// "Adaptive Software Cache Management" (Middleware 2018), with ghosts
	// as in Megiddo and Modha's ARC (FAST 2003). Skewed traffic, scans and
	// loops keep it small; a hot set that keeps moving to new keys, where
	// recency predicts better than frequency, grows it towards an LRU. The
	// climb runs on the insertion path, under a shard's lock; hits only
	// count, as they do for Stats.
	//
	// It was chosen over S3-FIFO (Yang et al., "FIFO queues are all you
	// need for cache eviction", SOSP 2023) because its admission test
	// keeps a loop slightly larger than the cache mostly cached (S3-FIFO
	// and LRU cycle through it), and its frequency state lives in the
	// sketch, not in per-entry counters that every hit would write.
	TinyLFU
)

var policyNames = [...]string{"LRU", "TinyLFU"}

// String returns the policy's name, e.g. "TinyLFU".
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Config configures a Cache. Only Capacity is required; every other zero
// field turns its feature off or picks the documented default.
type Config[K comparable, V any] struct {
	// Capacity is the maximum number of entries, required > 0. It is split
	// evenly over the shards (the first Capacity%Shards shards hold one
	// more), and each shard evicts by Policy when full. Resize changes it.
	Capacity int

	// Policy chooses what a full shard evicts: LRU (the zero value) or
	// TinyLFU.
	Policy Policy

	// MaxCost, if > 0, also bounds the sum of Weigher(key, value) over the
	// entries, split over the shards like Capacity. An entry weighing more
	// than its shard's share is not stored (OnEvict sees it leave with
	// EvictCapacity). 0 means no cost bound; then Weigher must be nil.
	MaxCost int64

	// Weigher returns an entry's cost for MaxCost, e.g. its size in bytes.
	// It is called once per stored value, outside every lock. Required
	// when MaxCost > 0.
	Weigher func(key K, value V) uint32

	// TTL is how long a stored value stays fresh. 0 means values never expire.
	TTL time.Duration

	// TTLJitter, in [0,1), shortens each TTL by a uniformly random fraction
	// of up to TTLJitter, so an entry lives for a duration in
	// [TTL·(1−TTLJitter), TTL]. Spreading expiries keeps keys loaded together
	// from all missing at the same instant. 0 means no jitter.
	TTLJitter float64

	// Shards is the number of independently locked shards, a power of two
	// no larger than Capacity. With Policy LRU, 1 makes the whole cache one
	// exact LRU, whose every hit takes the lock to move its entry; with more
	// shards hits take no lock (see Policy). 0 picks 16×GOMAXPROCS rounded
	// up to a power of two, halved until every shard holds at least 256
	// entries: writes to different shards never wait for each other.
	Shards int

	// StaleFor is the stale-while-revalidate window: for StaleFor after a
	// value's TTL ends, GetOrLoad still returns it at once and starts one
	// background refresh. Get never returns a stale value. 0 turns it off.
	StaleFor time.Duration

	// EarlyRefresh is the XFetch β (Vattani, Chierichetti, Lowenstein,
	// "Optimal Probabilistic Cache Stampede Prevention", PVLDB 8(8), 2015):
	// a GetOrLoad hit on a value with a TTL starts one background refresh
	// with probability exp(−remaining/(β·Δ)), Δ being the duration of the
	// load that produced the value. The paper's default is 1.0; larger
	// values refresh earlier. 0 turns it off.
	EarlyRefresh float64

	// ErrorTTL caches a load error for this long (negative caching): within
	// it, GetOrLoad returns the error without calling the loader. Panics
	// and context errors are never cached. 0 turns it off.
	ErrorTTL time.Duration

	// OnEvict, if set, is called once for every value that leaves the
	// cache, with the reason. It is never called while a lock is held, so it
	// may call back into the cache. It is not called for cached load errors.
	// For the evictions a load's value causes, it runs on the load's
	// goroutine before the load's waiters return.
	OnEvict func(key K, value V, reason EvictReason)

	// Name names the cache in its events (Event.Name), so that an observer
	// shared by several caches can tell them apart.
	Name string

	// Observer, if set, receives the cache's events: hits, misses, loads,
	// refreshes and evictions (see Event for the delivery rule). Nil costs
	// the hot paths one predictable branch.
	Observer func(Event[K])
}

// Cache is a bounded in-memory cache with TTLs and a singleflight
// GetOrLoad. All methods are safe for concurrent use. A Get hit takes no
// lock and does not allocate (with Policy LRU and Shards: 1 it takes the
// cache's one lock, to keep exact LRU order). Expired entries are reclaimed
// lazily, when an operation finds them; there is no janitor goroutine. The
// only goroutines a Cache starts run loads, and Close cancels and waits for
// them.
type Cache[K comparable, V any] struct {
	shards []shard[K, V]
	shift  uint // shard index = hash >> shift; 64 (giving 0) for one shard
	hash   hasher[K]
	mode   uint8  // cell mode of V
	limit  uint32 // cap of a node's hit marks: 1 (CLOCK) or 15 (TinyLFU)
	// obs is Config.Observer, nil when none: its nil test is the one branch
	// an unobserved hit pays, and a pointer keeps the fields a hit reads
	// together.
	obs *observer[K]

	ttl      int64
	jitter   float64
	staleFor int64
	errorTTL int64
	beta     float64
	weigher  func(K, V) uint32
	onEvict  func(K, V, EvictReason)

	epoch time.Time
	// rand returns a uniform float in [0,1); tests replace it with a seeded source.
	rand func() float64

	resize sync.Mutex // serialises Resize
	life   sync.Mutex // guards closed and orders wg.Add before wg.Wait
	closed bool
	loads  sync.WaitGroup // every load goroutine
	// closing is cancelled by Close; every load context follows it.
	closing context.Context
	stop    context.CancelFunc

	counts counters
	climb  *climber // TinyLFU's window climber, nil for LRU
}

// New returns a cache configured by cfg, or an error wrapping
// ErrInvalidConfig that names the first invalid field.
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
		mode:     cellMode[V](),
		limit:    markLimit(cfg.Policy),
		ttl:      int64(cfg.TTL),
		jitter:   cfg.TTLJitter,
		staleFor: int64(cfg.StaleFor),
		errorTTL: int64(cfg.ErrorTTL),
		beta:     cfg.EarlyRefresh,
		weigher:  cfg.Weigher,
		onEvict:  cfg.OnEvict,
		epoch:    time.Now(),
		rand:     rand.Float64,
	}
	if cfg.Observer != nil {
		obs := newObserver(cfg.Observer, cfg.Name)
		c.obs = &obs
	}
	c.closing, c.stop = context.WithCancel(context.Background())
	exact := n == 1 && cfg.Policy == LRU
	if cfg.Policy == TinyLFU {
		c.climb = newClimber(&c.counts, cfg.Capacity)
	}
	for i := range c.shards {
		size, cost := split(cfg.Capacity, cfg.MaxCost, n, i)
		c.shards[i].init(size, cost, cfg.Policy, exact, c.mode, c.onEvict != nil || c.obs != nil, c.climb)
	}
	return c, nil
}

// split returns shard i's share of capacity and maxCost over n shards.
func split(capacity int, maxCost int64, n, i int) (int, int64) {
	size := capacity / n
	if i < capacity%n {
		size++
	}
	cost := maxCost / int64(n)
	if int64(i) < maxCost%int64(n) {
		cost++
	}
	return size, cost
}

func validate[K comparable, V any](cfg Config[K, V]) error {
	switch {
	case cfg.Capacity <= 0:
		return configErrorf("Config.Capacity %d must be > 0", cfg.Capacity)
	case cfg.Policy > TinyLFU:
		return configErrorf("Config.Policy %d unknown (LRU or TinyLFU)", uint8(cfg.Policy))
	case cfg.MaxCost < 0:
		return configErrorf("Config.MaxCost %d is negative", cfg.MaxCost)
	case cfg.MaxCost > 0 && cfg.Weigher == nil:
		return configErrorf("Config.Weigher nil with Config.MaxCost %d", cfg.MaxCost)
	case cfg.MaxCost == 0 && cfg.Weigher != nil:
		return configErrorf("Config.Weigher set with Config.MaxCost 0")
	case cfg.Shards < 0 || cfg.Shards&(cfg.Shards-1) != 0:
		return configErrorf("Config.Shards %d is not a power of two", cfg.Shards)
	case cfg.Shards > cfg.Capacity:
		return configErrorf("Config.Shards %d exceeds Config.Capacity %d", cfg.Shards, cfg.Capacity)
	case cfg.Shards > 1<<24:
		return configErrorf("Config.Shards %d exceeds %d", cfg.Shards, 1<<24)
	case cfg.MaxCost > 0 && cfg.MaxCost < int64(max(cfg.Shards, 1)):
		return configErrorf("Config.MaxCost %d below Config.Shards %d", cfg.MaxCost, cfg.Shards)
	case cfg.TTL < 0:
		return configErrorf("Config.TTL %v is negative", cfg.TTL)
	case !(cfg.TTLJitter >= 0 && cfg.TTLJitter < 1):
		return configErrorf("Config.TTLJitter %v outside [0,1)", cfg.TTLJitter)
	case cfg.StaleFor < 0:
		return configErrorf("Config.StaleFor %v is negative", cfg.StaleFor)
	case !(cfg.EarlyRefresh >= 0) || cfg.EarlyRefresh > 1e9:
		return configErrorf("Config.EarlyRefresh %v outside [0,1e9]", cfg.EarlyRefresh)
	case cfg.ErrorTTL < 0:
		return configErrorf("Config.ErrorTTL %v is negative", cfg.ErrorTTL)
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
// low bits the bucket.
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

// deadline returns when n may no longer be served even stale, 0 = never:
// StaleFor after a value expires, at once for a cached error.
func (c *Cache[K, V]) deadline(n *node[K, V]) int64 {
	exp := n.expires.Load()
	if exp == 0 || n.neg {
		return exp
	}
	return addSat(exp, c.staleFor)
}

// fresh reports whether n holds a value that may be returned by Get.
func (c *Cache[K, V]) fresh(n *node[K, V]) bool {
	if n.neg {
		return false
	}
	exp := n.expires.Load()
	return exp == 0 || c.now() < exp
}

// weight returns the entry's cost, 0 without MaxCost.
func (c *Cache[K, V]) weight(key K, value V) uint32 {
	if c.weigher == nil {
		return 0
	}
	return c.weigher(key, value)
}

// Get returns the fresh value stored for key and records the hit for the
// eviction policy. Stale values, cached load errors and expired entries
// are misses; an expired entry found here is removed (OnEvict with
// EvictExpired). Get never blocks on a load.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	s, h := c.shardFor(key)
	if !s.exact {
		n, sure := s.find(h, key)
		if n != nil && c.fresh(n) {
			v := n.val.load(c.mode)
			n.mark(c.limit)
			c.counts.hit()
			if c.obs != nil {
				c.obs.Emit(Event[K]{Kind: EventHit, Key: key})
			}
			return v, true
		}
		if n == nil && sure {
			c.counts.miss()
			if c.obs != nil {
				c.obs.Emit(Event[K]{Kind: EventMiss, Key: key})
			}
			var zero V
			return zero, false
		}
	}
	return c.getLocked(s, h, key)
}

// lookedUp counts a lookup's hit or miss and reports it to the observer;
// no lock is held.
func (c *Cache[K, V]) lookedUp(key K, hit bool) {
	if hit {
		c.counts.hit()
	} else {
		c.counts.miss()
	}
	if c.obs != nil {
		kind := EventMiss
		if hit {
			kind = EventHit
		}
		c.obs.Emit(Event[K]{Kind: kind, Key: key})
	}
}

// getLocked is Get under the shard's lock: for an exact LRU, whose hits
// move the entry, and for entries that are not fresh, which may have to be
// removed. The entry may have changed since Get looked.
func (c *Cache[K, V]) getLocked(s *shard[K, V], h uint64, key K) (V, bool) {
	var zero V
	s.mu.Lock()
	n := s.lookup(h, key)
	if n == nil {
		s.mu.Unlock()
		c.lookedUp(key, false)
		return zero, false
	}
	var now int64
	if n.expires.Load() != 0 {
		now = c.now()
	}
	if dead := c.deadline(n); dead != 0 && now >= dead {
		var buf [1]eviction[K, V]
		evs := s.remove(n, EvictExpired, buf[:0])
		s.mu.Unlock()
		c.notify(evs)
		c.lookedUp(key, false)
		return zero, false
	}
	if !c.fresh(n) {
		s.mu.Unlock()
		c.lookedUp(key, false)
		return zero, false
	}
	if s.exact {
		s.lists[qLRU].moveToFront(n)
	} else {
		n.mark(c.limit)
	}
	v := n.val.load(c.mode)
	s.mu.Unlock()
	c.lookedUp(key, true)
	return v, true
}

// Peek returns the fresh value stored for key without recording an access:
// the eviction policy and Stats do not see it, and an expired entry stays
// until another operation reclaims it.
func (c *Cache[K, V]) Peek(key K) (V, bool) {
	s, h := c.shardFor(key)
	n, sure := s.find(h, key)
	if n == nil && !sure {
		s.mu.Lock()
		n = s.lookup(h, key)
		s.mu.Unlock()
	}
	if n != nil && c.fresh(n) {
		return n.val.load(c.mode), true
	}
	var zero V
	return zero, false
}

// Contains reports whether key has a fresh value, like Peek without the
// value.
func (c *Cache[K, V]) Contains(key K) bool {
	_, ok := c.Peek(key)
	return ok
}

// Set stores value for key with the configured TTL (and jitter), replacing
// any previous entry (OnEvict with EvictReplaced) and evicting by the
// policy if the shard is full (EvictCapacity). A load of key in flight does
// not overwrite value when it finishes (see GetOrLoad). A Set of a key the
// cache holds counts as a hit for the policy; in a cache without TTL it
// usually takes no lock (see the package doc's Concurrency).
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
	if s.quick && expires == 0 && c.update(s, h, key, value) {
		return
	}
	w := c.weight(key, value)
	var buf [2]eviction[K, V]
	s.mu.Lock()
	s.supersede(key)
	evs := s.put(h, key, value, nil, expires, 0, w, buf[:0])
	s.mu.Unlock()
	c.notify(evs)
}

// update is a Set, of a value that never expires, of a key the shard holds
// with a value that never expires: it takes no lock, stores the value in
// the key's node and marks it as a hit would, and reports whether it did.
// It applies only where the shard's lock would guard nothing but the value
// (shard.quick), as the entry keeps its expiry (a cache without TTL, or
// SetTTL with ttl <= 0), and only while no load is in flight on the shard
// (a Set must keep such a load from storing its older value). It checks
// the node again after the store: if it was removed, or a locked writer
// gave it an expiry, or a load started, it returns false and the caller
// redoes the Set under the lock, which orders it after them (see
// shard.rewrite). Otherwise, once the writers are done, every entry holds
// one write's value with that write's expiry. While they race, a Get may
// see their values in an order no serial execution gives (the value of a
// Set that is redone under the lock shows before and after a racing
// Delete or write); the entry's final state is always one of them.
func (c *Cache[K, V]) update(s *shard[K, V], h uint64, key K, value V) bool {
	n := s.held(h, key)
	if n == nil {
		return false
	}
	n.val.store(c.mode, value)
	n.mark(c.limit)
	return c.settled(s, n)
}

// settled is update's check after its store: the node is still live, no
// locked writer gave it an expiry or a load duration, and no load started.
// Then the Set is done and counted; otherwise it is redone under the lock.
func (c *Cache[K, V]) settled(s *shard[K, V], n *node[K, V]) bool {
	// flights first: a load that leaves the flight group after this read
	// has already published, so the node checks below see its duration.
	if s.flights.Load() != 0 || n.dead.Load() || n.delta.Load() != 0 || n.expires.Load() != 0 {
		return false
	}
	c.counts.replace()
	return true
}

// Delete removes key and reports whether it had an entry (fresh, stale or a
// cached error). A removed value is passed to OnEvict with EvictDeleted.
// A load of key in flight does not store its (older) result afterwards.
func (c *Cache[K, V]) Delete(key K) bool {
	s, h := c.shardFor(key)
	var buf [1]eviction[K, V]
	evs := buf[:0]
	s.mu.Lock()
	s.supersede(key)
	n := s.lookup(h, key)
	if n != nil {
		evs = s.remove(n, EvictDeleted, evs)
	}
	s.mu.Unlock()
	c.notify(evs)
	return n != nil
}

// Clear removes every entry, passing each value to OnEvict with
// EvictCleared. Loads in flight still return their results to their
// waiters but do not store them (see GetOrLoad); refreshes are cancelled.
func (c *Cache[K, V]) Clear() {
	var evs []eviction[K, V]
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		evs = s.clear(evs[:0])
		s.mu.Unlock()
		c.notify(evs)
	}
}

// Len returns the number of entries, including stale values and cached
// errors not yet reclaimed. It locks each shard in turn, so under
// concurrent writes it is a close estimate, not a snapshot.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Resize sets the cache's capacity (Config.Capacity) at run time, evicting
// by the policy down to it (OnEvict with EvictCapacity). The number of
// shards stays as New chose it, so capacity must be at least that number;
// otherwise Resize changes nothing and returns an error wrapping
// ErrInvalidConfig. With TinyLFU, a shard whose capacity changes starts a
// fresh frequency sketch.
func (c *Cache[K, V]) Resize(capacity int) error {
	n := len(c.shards)
	switch {
	case capacity <= 0:
		return configErrorf("Resize(%d) capacity must be > 0", capacity)
	case capacity < n:
		return configErrorf("Resize(%d) below the cache's %d shards", capacity, n)
	case capacity/n >= math.MaxInt32:
		return configErrorf("Resize(%d) exceeds %d entries per shard", capacity, math.MaxInt32-1)
	}
	c.resize.Lock()
	defer c.resize.Unlock()
	if c.climb != nil {
		c.climb.setCapacity(capacity)
	}
	var evs []eviction[K, V]
	for i := range c.shards {
		s := &c.shards[i]
		size, _ := split(capacity, 0, n, i)
		s.mu.Lock()
		s.setCapacity(size, s.maxCost)
		evs = s.evict(evs[:0])
		s.mu.Unlock()
		c.notify(evs)
	}
	return nil
}

// All returns an iterator over the fresh entries. It is weakly consistent:
// it visits each entry present for the whole iteration once, may or may not
// visit entries stored or removed meanwhile, and yields each value as it is
// when visited. No lock is held while the loop body runs (each shard is
// locked only to list its entries), so the body may call the cache. Visits
// do not count as accesses for the policy or Stats.
func (c *Cache[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		var buf []*node[K, V]
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			buf = s.nodes(buf[:0])
			s.mu.Unlock()
			for j, n := range buf {
				buf[j] = nil
				if n.dead.Load() || !c.fresh(n) {
					continue
				}
				if !yield(n.key, n.val.load(c.mode)) {
					return
				}
			}
		}
	}
}

// Keys returns an iterator over the keys of the fresh entries, with the
// consistency of All.
func (c *Cache[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) {
		for k := range c.All() {
			if !yield(k) {
				return
			}
		}
	}
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

// notify calls OnEvict and the observer for evs outside every lock. evs
// is empty unless one of them is set (shard.notify).
func (c *Cache[K, V]) notify(evs []eviction[K, V]) {
	for i := range evs {
		ev := &evs[i]
		if c.onEvict != nil {
			c.onEvict(ev.key, ev.value, ev.reason)
		}
		if c.obs != nil {
			c.obs.Emit(Event[K]{Kind: EventEvict, Key: ev.key, Reason: ev.reason})
		}
	}
}
