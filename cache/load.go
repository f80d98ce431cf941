package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
)

// PanicError is the error every waiter of a load gets when the loader
// panics. The panic does not cross goroutines: it is recovered in the load's
// goroutine, nothing is cached, and the next GetOrLoad loads again.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the loader goroutine's stack at the panic
}

// Error returns the panic value, not the stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("cache: loader panicked: %v", p.Value)
}

// Unwrap returns the panic value if it is an error, so errors.Is sees
// through panic(err).
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// errGoexit is the result waiters get if a loader calls runtime.Goexit.
var errGoexit = errors.New("cache: loader called runtime.Goexit")

// call is one load in flight: the flight group is each shard's calls map,
// guarded by the shard's mutex, so finding an entry and joining a load is
// one atomic step and a finished load stores its value and leaves the map
// in another: no caller can miss both.
type call[V any] struct {
	done chan struct{} // closed when val and err are final
	val  V
	err  error
	// waiters counts callers still waiting; guarded by the shard's mutex.
	waiters int
	// background loads (refreshes) are not abandoned when waiters reach 0.
	background bool
	// abandoned: every waiter left, the load's ctx is cancelled and its
	// result is discarded. Guarded by the shard's mutex.
	abandoned bool
	// superseded: a Set, SetTTL, Delete or Clear of the key came while the
	// load ran, so its result, read from the source before that write, is
	// returned to its waiters but not stored; the call has left the flight
	// group. Guarded by the shard's mutex.
	superseded bool
	cancel     context.CancelFunc
}

// GetOrLoad returns the value for key, calling load to produce it when the
// cache has none. It blocks until the value is available or ctx ends.
//
//   - One load per key at a time: concurrent callers for a key wait for
//     the load in flight and share its value or error (Stats.SharedWaits).
//   - A caller whose ctx ends returns ctx.Err() at once; the load goes on
//     for the others. The load runs in its own goroutine under a context
//     that keeps the first caller's values (context.WithoutCancel) and is
//     cancelled only when every waiter has left, or by Close.
//   - A panicking loader yields a *PanicError for every waiter.
//   - With ErrorTTL, a load error is cached and returned without loading.
//   - With StaleFor, a value past its TTL but within StaleFor is returned
//     at once and one background refresh starts; if it fails the stale
//     value stays until StaleFor ends.
//   - With EarlyRefresh (XFetch), a fresh hit starts one background refresh
//     with probability exp(−remaining/(β·Δ)).
//   - A Set, SetTTL, Delete or Clear of the key while its load or refresh
//     runs wins: the load's waiters still get its result, but it is not
//     stored (it was read before the write), a refresh is cancelled, and
//     later callers start a new load.
//
// A hit does not allocate. After Close a miss returns ErrClosed.
func (c *Cache[K, V]) GetOrLoad(ctx context.Context, key K, load func(context.Context, K) (V, error)) (V, error) {
	s, h := c.shardFor(key)
	// As in Get, a fresh hit that needs no XFetch draw takes only the read
	// lock, except in an exact LRU.
	if !s.exact {
		s.mu.RLock()
		if i := s.find(h, key); i != 0 {
			e := &s.entries[i]
			if e.err == nil && (e.expires == 0 || (c.now() < e.expires && (c.beta == 0 || e.delta == 0))) {
				v := e.value
				s.touch(i)
				s.hits.Add(1)
				s.mu.RUnlock()
				return v, nil
			}
		}
		s.mu.RUnlock()
	}
	s.mu.Lock()
	if i := s.find(h, key); i != 0 {
		e := &s.entries[i]
		if e.expires == 0 && e.err == nil {
			s.moveToFront(i)
			s.hits.Add(1)
			v := e.value
			s.mu.Unlock()
			return v, nil
		}
		if v, err, hit := c.loadTimed(ctx, s, i, load); hit {
			return v, err
		}
	}
	return c.miss(ctx, s, key, load)
}

// loadTimed handles a GetOrLoad hit on an entry with a deadline or a cached
// error. On a hit it unlocks s.mu and returns hit=true; on a miss (the entry
// was dead and is now removed) it returns with s.mu still held.
func (c *Cache[K, V]) loadTimed(ctx context.Context, s *shard[K, V], i int32, load func(context.Context, K) (V, error)) (v V, err error, hit bool) {
	now := c.now()
	e := &s.entries[i]
	if dead := c.deadline(e); dead != 0 && now >= dead {
		ev := s.remove(i, EvictExpired)
		if ev.reason != 0 && c.onEvict != nil {
			// OnEvict must run unlocked; re-lock and look the key up again.
			s.mu.Unlock()
			c.notify(ev)
			s.mu.Lock()
			if j := s.find(c.hash.sum(ev.key), ev.key); j != 0 {
				return c.loadTimed(ctx, s, j, load)
			}
		}
		return v, nil, false
	}
	key := e.key
	s.moveToFront(i)
	s.hits.Add(1)
	v, err = e.value, e.err
	refresh := false
	if err == nil && e.expires != 0 {
		if now >= e.expires {
			refresh = true // stale-while-revalidate
		} else if c.beta > 0 && e.delta > 0 {
			refresh = xfetch(e.expires-now, e.delta, c.beta, c.rand())
		}
	}
	if refresh {
		c.refresh(ctx, s, key, load) // unlocks
	} else {
		s.mu.Unlock()
	}
	return v, err, true
}

// xfetch reports whether a read with remaining time to expiry should
// refresh early: u < exp(−remaining/(β·Δ)), which for u uniform in [0,1) is
// the paper's test now − Δ·β·ln(rand) ≥ expiry (REFERENCES.md §8).
func xfetch(remaining, delta int64, beta, u float64) bool {
	return u < math.Exp(-float64(remaining)/(beta*float64(delta)))
}

// refresh starts a background load for key unless one is in flight.
// s.mu is held on entry and released before returning.
func (c *Cache[K, V]) refresh(ctx context.Context, s *shard[K, V], key K, load func(context.Context, K) (V, error)) {
	if _, busy := s.calls[key]; busy {
		s.mu.Unlock()
		return
	}
	cl, lctx := c.start(ctx, s, key)
	if cl == nil {
		s.mu.Unlock()
		return
	}
	cl.background = true
	s.stats.refreshes++
	s.mu.Unlock()
	go c.run(lctx, s, key, cl, load)
}

// miss joins the load in flight for key or starts one, then waits.
// s.mu is held on entry.
func (c *Cache[K, V]) miss(ctx context.Context, s *shard[K, V], key K, load func(context.Context, K) (V, error)) (V, error) {
	s.misses.Add(1)
	if cl, ok := s.calls[key]; ok {
		cl.waiters++
		s.stats.sharedWaits++
		s.mu.Unlock()
		return c.wait(ctx, s, key, cl)
	}
	cl, lctx := c.start(ctx, s, key)
	if cl == nil {
		s.mu.Unlock()
		var zero V
		return zero, ErrClosed
	}
	cl.waiters = 1
	s.mu.Unlock()
	go c.run(lctx, s, key, cl, load)
	return c.wait(ctx, s, key, cl)
}

// start registers a new load for key, or returns nil if the cache is
// closed. s.mu is held.
func (c *Cache[K, V]) start(ctx context.Context, s *shard[K, V], key K) (*call[V], context.Context) {
	c.life.Lock()
	defer c.life.Unlock()
	if c.closed {
		return nil, nil
	}
	c.loads.Add(1)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cl := &call[V]{done: make(chan struct{}), cancel: cancel}
	s.calls[key] = cl
	s.stats.loads++
	return cl, lctx
}

// wait returns the load's result, or ctx.Err() as soon as ctx ends; the last
// waiter to leave cancels and abandons the load.
func (c *Cache[K, V]) wait(ctx context.Context, s *shard[K, V], key K, cl *call[V]) (V, error) {
	select {
	case <-cl.done:
		return cl.val, cl.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	cl.waiters--
	if cl.waiters == 0 && !cl.background && !cl.abandoned {
		// The call may have left the flight group already (finished, or
		// superseded by a write); then another call may hold the key.
		cl.abandoned = true
		if s.calls[key] == cl {
			delete(s.calls, key)
		}
		cl.cancel()
	}
	s.mu.Unlock()
	var zero V
	return zero, ctx.Err()
}

// run executes one load in its own goroutine, so that waiters can leave,
// and publishes the result even if the loader panics or calls Goexit.
func (c *Cache[K, V]) run(ctx context.Context, s *shard[K, V], key K, cl *call[V], load func(context.Context, K) (V, error)) {
	defer c.loads.Done()
	stop := context.AfterFunc(c.closing, cl.cancel)
	defer stop()
	start := c.now()
	val, err := *new(V), errGoexit
	defer func() { c.finish(s, key, cl, val, err, c.now()-start) }()
	val, err = protect(ctx, key, load)
}

func protect[K comparable, V any](ctx context.Context, key K, load func(context.Context, K) (V, error)) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return load(ctx, key)
}

// finish stores a load's result (unless abandoned or superseded), removes
// the call from the flight group and wakes the waiters, in one critical
// section.
func (c *Cache[K, V]) finish(s *shard[K, V], key K, cl *call[V], val V, err error, delta int64) {
	var ev eviction[K, V]
	s.mu.Lock()
	if !cl.abandoned && !cl.superseded {
		delete(s.calls, key)
		ev = c.publish(s, key, val, err, cl.background, max(delta, 1))
	}
	cl.val, cl.err = val, err
	s.mu.Unlock()
	cl.cancel()
	close(cl.done)
	c.notify(ev)
}

// publish caches a load result; s.mu is held. A failed refresh leaves the
// stale value in place; panics and context errors are never cached.
func (c *Cache[K, V]) publish(s *shard[K, V], key K, val V, err error, background bool, delta int64) eviction[K, V] {
	h := c.hash.sum(key)
	if err == nil {
		return s.put(h, key, val, nil, c.expiry(c.now(), c.ttl, true), delta)
	}
	s.stats.loadErrors++
	var pe *PanicError
	if background || c.errorTTL <= 0 || errors.As(err, &pe) || err == errGoexit ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return eviction[K, V]{}
	}
	var zero V
	return s.put(h, key, zero, err, c.expiry(c.now(), c.errorTTL, false), delta)
}
