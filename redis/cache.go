package redis

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/cache"
)

// Invalidation selects how an instance learns that another changed a key.
type Invalidation uint8

const (
	// InvalidateAuto uses client tracking, and pub/sub where the store or
	// server rejects tracking.
	InvalidateAuto Invalidation = iota
	// InvalidateTracking uses RESP3 client tracking in broadcast mode only.
	// It sees every write to the prefix, by any Redis client.
	InvalidateTracking
	// InvalidatePubSub subscribes to the prefix's invalidation channel, on
	// which every write of this package publishes its key. It does not see
	// writes made to Redis by other code.
	InvalidatePubSub
)

// String returns "auto", "tracking" or "pubsub".
func (m Invalidation) String() string {
	switch m {
	case InvalidateAuto:
		return "auto"
	case InvalidateTracking:
		return "tracking"
	case InvalidatePubSub:
		return "pubsub"
	}
	return "Invalidation(" + strconv.Itoa(int(m)) + ")"
}

// Config configures a Cache. Prefix and L1.Capacity are required; every
// other zero field picks the documented default.
type Config[V any] struct {
	// Prefix starts every Redis key and the invalidation channel of this
	// cache, so that several services or caches share one Redis without
	// colliding. Required; it may not contain '{' or '}' (the hash tag
	// follows it).
	Prefix string

	// L1 configures the in-process cache, with all its features
	// (stale-while-revalidate, XFetch, negative caching, OnEvict).
	// L1.Capacity is required. L1.TTL caps the age of any L1 entry and so
	// bounds staleness when invalidations cannot arrive (see the package
	// doc); 0 means 1 minute.
	L1 cache.Config[string, V]

	// TTL is how long a value lives in Redis. 0 means 1 hour.
	TTL time.Duration

	// Codec encodes values for Redis. nil means JSON[V].
	Codec Codec[V]

	// Timeout bounds every Redis call a method makes, and the heartbeat.
	// 0 means 100ms: well above a same-region round trip (well under a
	// millisecond), well below what a caller notices.
	Timeout time.Duration

	// LockTTL is how long a fleet load's lock lives: the longest another
	// instance waits for a loader that died or hangs before it loads
	// itself. Loads that take longer than LockTTL may run twice (the fence
	// keeps the older one from overwriting). 0 means 5 seconds.
	LockTTL time.Duration

	// Heartbeat is how often the invalidation stream is pinged; a silent
	// stream is noticed within Heartbeat+Timeout. 0 means 1 second.
	Heartbeat time.Duration

	// Invalidation selects the invalidation stream. The zero value is
	// InvalidateAuto.
	Invalidation Invalidation

	// OnEvent, if set, receives every Event, synchronously, on the
	// goroutine where it happened, never under a lock of the cache. It
	// must be fast: invalidation events are delivered on the connection's
	// reading goroutine.
	OnEvent func(Event)
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventRedisError: a Redis call failed or timed out (Err). The call
	// went on without Redis: GetOrLoad ran the loader locally.
	EventRedisError EventKind = iota + 1
	// EventDecodeError: the value at Key could not be decoded (Err); it
	// was treated as a miss.
	EventDecodeError
	// EventStaleWrite: this instance loaded Key, but the key was written
	// or its lock taken after its lock was granted, so the loaded value was
	// not stored (the fence refused it).
	EventStaleWrite
	// EventWaiting: another instance holds the lock of Key; this call
	// waits for its value.
	EventWaiting
	// EventInvalidate: an invalidation for Key arrived; L1 dropped it.
	EventInvalidate
	// EventStreamUp: the invalidation stream (Mode) is open and L1 was
	// emptied, since invalidations before it were not seen.
	EventStreamUp
	// EventStreamDown: the invalidation stream broke or failed its
	// heartbeat (Err); L1 was emptied.
	EventStreamDown
)

// String returns the kind's name, e.g. "redis-error".
func (k EventKind) String() string {
	switch k {
	case EventRedisError:
		return "redis-error"
	case EventDecodeError:
		return "decode-error"
	case EventStaleWrite:
		return "stale-write"
	case EventWaiting:
		return "waiting"
	case EventInvalidate:
		return "invalidate"
	case EventStreamUp:
		return "stream-up"
	case EventStreamDown:
		return "stream-down"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports something the cache did because of Redis.
type Event struct {
	Kind EventKind
	Key  string       // the cache key concerned, if any
	Err  error        // the cause, for errors
	Mode Invalidation // the stream's mode, for EventStreamUp
}

// Stats counts what a Cache did. L1 holds the in-process cache's counters.
type Stats struct {
	L1 cache.Stats

	L2Hits      uint64 // L1 misses answered by Redis
	L2Misses    uint64 // L1 misses Redis did not have
	FleetLoads  uint64 // loads this instance ran holding the fleet lock
	LocalLoads  uint64 // loads run without Redis, because it failed or was marked down
	Waits       uint64 // times a call waited for another instance's load
	StaleWrites uint64 // loaded values the fence refused

	RedisErrors   uint64 // Redis calls that failed or timed out
	DecodeErrors  uint64 // values in Redis the codec could not decode
	Invalidations uint64 // keys dropped from L1 on another's write
	Flushes       uint64 // times L1 was emptied because the stream opened or broke
}

type counters struct {
	l2Hits, l2Misses, fleetLoads, localLoads, waits, staleWrites atomic.Uint64
	redisErrors, decodeErrors, invalidations, flushes            atomic.Uint64
}

// Cache is a two-level cache: an in-process cache.Cache in front of Redis,
// kept coherent across every instance that uses the same Prefix.
//
// All methods are safe for concurrent use. An L1 hit takes what a
// cache.Cache Get takes and allocates nothing (with L1.StaleFor or
// L1.EarlyRefresh set it goes through cache.GetOrLoad and allocates the
// loader closure). New starts one goroutine that keeps the invalidation
// stream open; Close stops it.
type Cache[V any] struct {
	l1        *cache.Cache[string, V]
	store     Store
	codec     Codec[V]
	keys      keySpace
	ttl       time.Duration
	ttlMs     string // ttl in ms, for scripts
	verTTLMs  string // ttl+lockTTL in ms: the fence outlives the value and any lock
	lockTTL   time.Duration
	lockTTLMs string
	timeout   time.Duration
	heartbeat time.Duration
	mode      Invalidation
	onEvent   func(Event)
	l1Direct  bool // no stale serving or early refresh: the L1 fast path is a plain Get

	// healthy is false after a Redis call failed, until the heartbeat
	// answers; calls skip Redis meanwhile.
	healthy atomic.Bool
	kick    chan struct{} // asks the stream goroutine for a heartbeat now
	waiters waiters
	stats   counters

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New returns a Cache on store configured by cfg, or an error naming the
// first invalid field (wrapping ErrInvalidConfig). It does not wait for
// Redis: the invalidation stream opens in the background (EventStreamUp),
// and until it does, L1 entries are emptied when it opens.
func New[V any](store Store, cfg Config[V]) (*Cache[V], error) {
	if store == nil {
		return nil, configErrorf("New store nil")
	}
	if cfg.Prefix == "" {
		return nil, configErrorf("Config.Prefix empty")
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, configErrorf("Config.Prefix %q contains '{' or '}', which would break the hash tag", cfg.Prefix)
	}
	durations := []struct {
		name string
		p    *time.Duration
		def  time.Duration
	}{
		{"L1.TTL", &cfg.L1.TTL, time.Minute},
		{"TTL", &cfg.TTL, time.Hour},
		{"Timeout", &cfg.Timeout, 100 * time.Millisecond},
		{"LockTTL", &cfg.LockTTL, 5 * time.Second},
		{"Heartbeat", &cfg.Heartbeat, time.Second},
	}
	for _, d := range durations {
		if *d.p < 0 {
			return nil, configErrorf("Config.%s %v negative", d.name, *d.p)
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if cfg.LockTTL < time.Millisecond || cfg.TTL < time.Millisecond {
		return nil, configErrorf("Config.LockTTL %v and Config.TTL %v must be at least 1ms (Redis PX)", cfg.LockTTL, cfg.TTL)
	}
	if cfg.Invalidation > InvalidatePubSub {
		return nil, configErrorf("Config.Invalidation %d unknown", cfg.Invalidation)
	}
	if cfg.Codec == nil {
		cfg.Codec = JSON[V]{}
	}
	l1, err := cache.New(cfg.L1)
	if err != nil {
		return nil, configErrorf("Config.L1: %v", err)
	}
	c := &Cache[V]{
		l1:        l1,
		store:     store,
		codec:     cfg.Codec,
		keys:      newKeySpace(cfg.Prefix),
		ttl:       cfg.TTL,
		ttlMs:     ms(cfg.TTL),
		verTTLMs:  ms(cfg.TTL + cfg.LockTTL),
		lockTTL:   cfg.LockTTL,
		lockTTLMs: ms(cfg.LockTTL),
		timeout:   cfg.Timeout,
		heartbeat: cfg.Heartbeat,
		mode:      cfg.Invalidation,
		onEvent:   cfg.OnEvent,
		l1Direct:  cfg.L1.StaleFor == 0 && cfg.L1.EarlyRefresh == 0,
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	c.waiters.m = map[string][]chan struct{}{}
	c.healthy.Store(true)
	c.wg.Add(1)
	go c.stream()
	return c, nil
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// GetOrLoad returns the value for key: from L1, else from Redis, else from
// load, run by one instance of the fleet at a time for key while the other
// instances wait for its value. It blocks until the value is there or ctx
// ends; the caller's ctx ending returns ctx.Err() and leaves the load to
// the other waiters (as cache.GetOrLoad does within the instance).
//
// A Redis call that fails or exceeds Config.Timeout makes the call run load
// locally (within the instance's own singleflight) and report
// EventRedisError; a value Redis holds that the codec cannot decode is a
// miss. Each of the Redis phases of a call — the read and lock before load,
// the fenced write after it — is bounded by Config.Timeout. A wait for
// another instance's load ends when the value arrives, when the lock's TTL
// runs out (this instance then loads), or when ctx ends.
//
// An empty key, a key starting with '}' or a nil load is an error wrapping
// ErrInvalidArgument.
func (c *Cache[V]) GetOrLoad(ctx context.Context, key string, load func(context.Context, string) (V, error)) (V, error) {
	if c.l1Direct {
		if v, ok := c.l1.Get(key); ok {
			return v, nil
		}
	}
	if err := checkKey("GetOrLoad", key); err != nil {
		var zero V
		return zero, err
	}
	if load == nil {
		var zero V
		return zero, argumentErrorf("GetOrLoad load nil")
	}
	return c.l1.GetOrLoad(ctx, key, func(ctx context.Context, k string) (V, error) {
		return c.fill(ctx, k, load)
	})
}

// Get returns the value for key from L1, else from Redis; ok is false when
// neither has it. Get never loads and never fills L1 (GetOrLoad does). A
// Redis failure is returned as an error.
func (c *Cache[V]) Get(ctx context.Context, key string) (v V, ok bool, err error) {
	if v, ok := c.l1.Get(key); ok {
		return v, true, nil
	}
	if err := checkKey("Get", key); err != nil {
		return v, false, err
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	b, found, err := c.store.Get(rctx, c.keys.value(key))
	if err != nil {
		if ctx.Err() == nil {
			c.redisFailed(key, err)
		}
		return v, false, err
	}
	if !found {
		c.stats.l2Misses.Add(1)
		return v, false, nil
	}
	v, err = decode(c.codec, b)
	if err != nil {
		c.decodeFailed(key, err)
		var zero V
		return zero, false, nil
	}
	c.stats.l2Hits.Add(1)
	return v, true, nil
}

// Set stores value for key in Redis (with Config.TTL) and removes key from
// the L1 of every instance, this one included (the next read here fetches
// the value from Redis). A load of key in flight anywhere in the fleet
// does not overwrite it. When Redis does not confirm within Config.Timeout,
// Set keeps value in this instance's L1 only and returns an error wrapping
// ErrUnavailable.
func (c *Cache[V]) Set(ctx context.Context, key string, value V) error {
	if err := checkKey("Set", key); err != nil {
		return err
	}
	b, err := c.codec.Encode(value)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err = c.store.Eval(rctx, setScript, []string{c.keys.value(key), c.keys.ver(key)},
		string(b), c.ttlMs, c.verTTLMs, c.keys.channel, key)
	if err != nil {
		c.l1.Set(key, value)
		if ctx.Err() == nil {
			c.redisFailed(key, err)
		}
		return &unavailableError{op: "Set", cause: err}
	}
	// Not l1.Set: two Sets racing here could store their values in L1 in
	// the other order than in Redis, after both invalidations passed.
	c.l1.Delete(key)
	return nil
}

// Delete removes key from Redis and from the L1 of every instance. A load
// of key in flight anywhere in the fleet does not store its older value
// afterwards. When Redis does not confirm within Config.Timeout, the key
// is removed from this instance's L1 only and the error wraps
// ErrUnavailable.
func (c *Cache[V]) Delete(ctx context.Context, key string) error {
	if err := checkKey("Delete", key); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.store.Eval(rctx, deleteScript, []string{c.keys.value(key), c.keys.ver(key)},
		c.verTTLMs, c.keys.channel, key)
	c.l1.Delete(key)
	if err != nil {
		if ctx.Err() == nil {
			c.redisFailed(key, err)
		}
		return &unavailableError{op: "Delete", cause: err}
	}
	return nil
}

// RedisKeys returns the Redis keys that hold key's value, its fleet lock
// and its fencing counter.
func (c *Cache[V]) RedisKeys(key string) (value, lock, version string) {
	return c.keys.value(key), c.keys.lock(key), c.keys.ver(key)
}

// Stats returns the cache's counters.
func (c *Cache[V]) Stats() Stats {
	s := &c.stats
	return Stats{
		L1:            c.l1.Stats(),
		L2Hits:        s.l2Hits.Load(),
		L2Misses:      s.l2Misses.Load(),
		FleetLoads:    s.fleetLoads.Load(),
		LocalLoads:    s.localLoads.Load(),
		Waits:         s.waits.Load(),
		StaleWrites:   s.staleWrites.Load(),
		RedisErrors:   s.redisErrors.Load(),
		DecodeErrors:  s.decodeErrors.Load(),
		Invalidations: s.invalidations.Load(),
		Flushes:       s.flushes.Load(),
	}
}

// Close stops the invalidation stream, cancels the loads in flight and
// waits for them (cache.Cache.Close). It does not close the Redis client.
// After Close, GetOrLoad misses return cache.ErrClosed. Close is
// idempotent.
func (c *Cache[V]) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.wg.Wait()
		c.l1.Close()
		c.waiters.wakeAll()
	})
}

func (c *Cache[V]) emit(e Event) {
	if c.onEvent != nil {
		c.onEvent(e)
	}
}

// redisFailed records a failed Redis call, marks Redis down until the
// heartbeat answers, and asks for that heartbeat now.
func (c *Cache[V]) redisFailed(key string, err error) {
	c.stats.redisErrors.Add(1)
	c.healthy.Store(false)
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.emit(Event{Kind: EventRedisError, Key: key, Err: err})
}

func (c *Cache[V]) decodeFailed(key string, err error) {
	c.stats.decodeErrors.Add(1)
	c.emit(Event{Kind: EventDecodeError, Key: key, Err: err})
}
