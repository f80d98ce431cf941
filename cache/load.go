package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"
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
	// batch is set for one key of a GetOrLoadMany load: cancel is then
	// the batch's, called when the last of its keys is abandoned.
	batch *batch
}

// batch is one GetOrLoadMany loader call serving several keys' calls.
type batch struct {
	live atomic.Int32 // calls not abandoned
}

// abandon cancels the load's context once no caller wants any of its
// results; the shard's mutex is held.
func (cl *call[V]) abandon() {
	if cl.batch != nil && cl.batch.live.Add(-1) > 0 {
		return
	}
	cl.cancel()
}

// GetOrLoad returns the value for key, calling load to produce it when the
// cache has none. It blocks until the value is available or ctx ends.
//
//   - One load per key at a time: concurrent callers for a key wait for
//     the load in flight and share its value or error (Stats.SharedWaits),
//     whether GetOrLoad, Refresh or GetOrLoadMany started it.
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
	// As in Get, a fresh hit that needs no XFetch draw takes no lock,
	// except in an exact LRU.
	if !s.exact {
		if n, _ := s.find(h, key); n != nil && !n.neg {
			if exp := n.expires.Load(); exp == 0 || ((c.beta == 0 || n.delta.Load() == 0) && c.now() < exp) {
				v := n.val.load(c.mode)
				n.mark(c.limit)
				c.counts.hit()
				if c.obs != nil {
					c.obs.Emit(Event[K]{Kind: EventHit, Key: key})
				}
				return v, nil
			}
		}
	}
	s.mu.Lock()
	if n := s.lookup(h, key); n != nil {
		if v, err, hit := c.loadTimed(ctx, s, n, load); hit {
			return v, err
		}
	}
	return c.miss(ctx, s, key, load)
}

// touch records a locked hit: an exact LRU moves the node to the front,
// the others mark it as a lock-free hit would.
func (c *Cache[K, V]) touch(s *shard[K, V], n *node[K, V]) {
	if s.exact {
		s.lists[qLRU].moveToFront(n)
	} else {
		n.mark(c.limit)
	}
}

// loadTimed handles a GetOrLoad hit under s.mu: it serves the value or
// cached error, starting a refresh if it is stale or XFetch draws one. On a
// hit it unlocks s.mu and returns hit=true; on a miss (the entry was dead
// and is now removed) it returns with s.mu still held.
func (c *Cache[K, V]) loadTimed(ctx context.Context, s *shard[K, V], n *node[K, V], load func(context.Context, K) (V, error)) (v V, err error, hit bool) {
	exp := n.expires.Load()
	var now int64
	if exp != 0 {
		now = c.now()
	}
	if dead := c.deadline(n); dead != 0 && now >= dead {
		var buf [1]eviction[K, V]
		evs := s.remove(n, EvictExpired, buf[:0])
		if len(evs) > 0 {
			// OnEvict must run unlocked; re-lock and look the key up again.
			s.mu.Unlock()
			c.notify(evs)
			s.mu.Lock()
			if m := s.lookup(n.hash, n.key); m != nil {
				return c.loadTimed(ctx, s, m, load)
			}
		}
		return v, nil, false
	}
	c.touch(s, n)
	if n.neg {
		err = n.err
	} else {
		v = n.val.load(c.mode)
	}
	refresh, stale := false, false
	if err == nil && exp != 0 {
		if now >= exp {
			refresh, stale = true, true // stale-while-revalidate
		} else if delta := n.delta.Load(); c.beta > 0 && delta > 0 {
			refresh = xfetch(exp-now, delta, c.beta, c.rand())
		}
	}
	var cl *call[V]
	var lctx context.Context
	if refresh {
		cl, lctx, _ = c.startRefresh(ctx, s, n.key)
	}
	s.mu.Unlock()
	c.counts.hit()
	if c.obs != nil {
		c.obs.Emit(Event[K]{Kind: EventHit, Key: n.key, Stale: stale, Err: err})
	}
	if cl != nil {
		// After the hit's event, so that it precedes the refresh's.
		go c.run(lctx, s, n.key, cl, load)
	}
	return v, err, true
}

// xfetch reports whether a read with remaining time to expiry should
// refresh early: u < exp(−remaining/(β·Δ)), which for u uniform in [0,1) is
// the paper's test now − Δ·β·ln(u) ≥ expiry.
func xfetch(remaining, delta int64, beta, u float64) bool {
	return u < math.Exp(-float64(remaining)/(beta*float64(delta)))
}

// Refresh starts a background load of key unless a load of key is already
// in flight, and returns at once; the new value replaces the entry when the
// load succeeds (a failed refresh changes nothing and is not cached). It
// shares the flight group with GetOrLoad: callers missing key meanwhile
// wait for this load instead of starting one. The load's context keeps
// ctx's values but not its cancellation; Close cancels it. After Close,
// Refresh returns ErrClosed.
func (c *Cache[K, V]) Refresh(ctx context.Context, key K, load func(context.Context, K) (V, error)) error {
	s, _ := c.shardFor(key)
	s.mu.Lock()
	cl, lctx, ok := c.startRefresh(ctx, s, key)
	s.mu.Unlock()
	if !ok {
		return ErrClosed
	}
	if cl != nil {
		go c.run(lctx, s, key, cl, load)
	}
	return nil
}

// startRefresh registers a background load for key unless one is in
// flight (then it returns a nil call); ok is false only if the cache is
// closed. s.mu is held; the caller releases it and then runs the call.
func (c *Cache[K, V]) startRefresh(ctx context.Context, s *shard[K, V], key K) (cl *call[V], lctx context.Context, ok bool) {
	if _, busy := s.calls[key]; busy {
		return nil, nil, true
	}
	cl, lctx = c.start(ctx, s, key)
	if cl == nil {
		return nil, nil, false
	}
	cl.background = true
	s.stats.refreshes++
	return cl, lctx, true
}

// miss joins the load in flight for key or starts one, then waits.
// s.mu is held on entry.
func (c *Cache[K, V]) miss(ctx context.Context, s *shard[K, V], key K, load func(context.Context, K) (V, error)) (V, error) {
	if cl, ok := s.calls[key]; ok {
		cl.waiters++
		s.stats.sharedWaits++
		s.mu.Unlock()
		c.lookedUp(key, false)
		return c.wait(ctx, s, key, cl)
	}
	cl, lctx := c.start(ctx, s, key)
	if cl == nil {
		s.mu.Unlock()
		c.lookedUp(key, false)
		var zero V
		return zero, ErrClosed
	}
	cl.waiters = 1
	s.mu.Unlock()
	c.lookedUp(key, false) // before the load's events
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
	s.fly(key, cl)
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
			s.land(key)
		}
		cl.abandon()
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

// finish stores a load's result (unless abandoned or superseded) and
// removes the call from the flight group in one critical section, then
// reports the load and the evictions its value caused, and wakes the
// waiters: a waiter returns after the load's events.
func (c *Cache[K, V]) finish(s *shard[K, V], key K, cl *call[V], val V, err error, delta int64) {
	var w uint32
	if err == nil {
		w = c.weight(key, val)
	}
	var buf [2]eviction[K, V]
	evs := buf[:0]
	s.mu.Lock()
	if !cl.abandoned && !cl.superseded {
		// Published before it leaves the flight group: a lock-free Set
		// (Cache.update) that finds the group empty then sees the load's
		// duration on the node and redoes itself under the lock.
		evs = c.publish(s, key, val, err, cl.background, max(delta, 1), w, evs)
		s.land(key)
	}
	cl.val, cl.err = val, err
	s.mu.Unlock()
	cl.cancel()
	if c.obs != nil {
		kind := EventLoad
		if cl.background {
			kind = EventRefresh
		}
		c.obs.Emit(Event[K]{Kind: kind, Key: key, Duration: time.Duration(delta), Err: err})
	}
	c.notify(evs)
	close(cl.done)
}

// publish caches a load result; s.mu is held. A failed refresh leaves the
// stale value in place; panics and context errors are never cached.
func (c *Cache[K, V]) publish(s *shard[K, V], key K, val V, err error, background bool, delta int64, w uint32, evs []eviction[K, V]) []eviction[K, V] {
	h := c.hash.sum(key)
	if err == nil {
		return s.put(h, key, val, nil, c.expiry(c.now(), c.ttl, true), delta, w, evs)
	}
	s.stats.loadErrors++
	var pe *PanicError
	if background || c.errorTTL <= 0 || errors.As(err, &pe) || err == errGoexit ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return evs
	}
	var zero V
	return s.put(h, key, zero, err, c.expiry(c.now(), c.errorTTL, false), delta, 0, evs)
}
