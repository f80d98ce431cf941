package cache

import (
	"context"
	"errors"
	"runtime/debug"
)

// ErrNotFound is the result for a key that a GetOrLoadMany loader left out
// of its map: GetOrLoadMany leaves such a key out of its result, and a
// GetOrLoad that joined the batch's load of that key returns ErrNotFound.
// Like any load error it is cached for ErrorTTL.
var ErrNotFound = errors.New("cache: key not returned by the loader")

// pending is one key a GetOrLoadMany call waits for.
type pending[K comparable, V any] struct {
	key K
	s   *shard[K, V]
	cl  *call[V]
}

// GetOrLoadMany returns the values for keys, loading every missing key in
// one call of load. The result holds each key that has a value (duplicates
// in keys count once); a key load leaves out of its map is absent from the
// result.
//
// It is GetOrLoad for many keys at once: a cached key is served as GetOrLoad
// serves it (stale-while-revalidate and XFetch refresh it alone, through
// load with a one-key slice); a key whose load is already in flight (from
// GetOrLoad, Refresh or another GetOrLoadMany) joins that load; the rest go
// to load together, and callers of GetOrLoad for one of them meanwhile
// join this batch's load of that key. If ctx ends, GetOrLoadMany returns
// ctx.Err() at once; the batch goes on while any key of it has a waiter,
// and its context is cancelled only when none has.
//
// The error is the first error met: a load error (for every key of a
// failed batch), a cached error (ErrorTTL), ctx.Err(), or ErrClosed; the
// map then still holds the values that were found.
func (c *Cache[K, V]) GetOrLoadMany(ctx context.Context, keys []K, load func(context.Context, []K) (map[K]V, error)) (map[K]V, error) {
	out := make(map[K]V, len(keys))
	one := func(ctx context.Context, k K) (V, error) {
		m, err := load(ctx, []K{k})
		if v, ok := m[k]; ok || err != nil {
			return v, err
		}
		var zero V
		return zero, ErrNotFound
	}
	var (
		first   error
		waits   []pending[K, V]
		batched []pending[K, V]
		b       *batchLoad
		bctx    context.Context
		seen    = make(map[K]struct{}, len(keys))
	)
	fail := func(err error) {
		if first == nil && err != nil && err != ErrNotFound {
			first = err
		}
	}
	for _, key := range keys {
		if _, dup := seen[key]; dup {
			continue
		}
		seen[key] = struct{}{}
		s, h := c.shardFor(key)
		s.mu.Lock()
		if n := s.lookup(h, key); n != nil {
			if v, err, hit := c.loadTimed(ctx, s, n, one); hit {
				if err == nil {
					out[key] = v
				}
				fail(err)
				continue
			}
		}
		if cl, ok := s.calls[key]; ok {
			cl.waiters++
			s.stats.sharedWaits++
			s.mu.Unlock()
			c.lookedUp(key, false)
			waits = append(waits, pending[K, V]{key, s, cl})
			continue
		}
		if b == nil {
			b, bctx = c.startBatch(ctx)
			if b == nil {
				s.mu.Unlock()
				c.lookedUp(key, false)
				fail(ErrClosed)
				break
			}
		}
		cl := &call[V]{done: make(chan struct{}), cancel: b.cancel, batch: &b.batch, waiters: 1}
		b.live.Add(1)
		s.fly(key, cl)
		s.stats.loads++
		s.mu.Unlock()
		c.lookedUp(key, false)
		p := pending[K, V]{key, s, cl}
		batched = append(batched, p)
		waits = append(waits, p)
	}
	if b != nil {
		go c.runBatch(bctx, b, batched, load)
	}
	for _, p := range waits {
		v, err := c.wait(ctx, p.s, p.key, p.cl)
		if err == nil {
			out[p.key] = v
		}
		fail(err)
	}
	return out, first
}

// batchLoad is a batch with its context's cancel.
type batchLoad struct {
	batch
	cancel context.CancelFunc
}

// startBatch registers one batch load goroutine, or returns nil if the
// cache is closed.
func (c *Cache[K, V]) startBatch(ctx context.Context) (*batchLoad, context.Context) {
	c.life.Lock()
	defer c.life.Unlock()
	if c.closed {
		return nil, nil
	}
	c.loads.Add(1)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &batchLoad{cancel: cancel}, lctx
}

// runBatch calls load once for the batch's keys and finishes each key's
// call with its value, ErrNotFound, or the batch's error.
func (c *Cache[K, V]) runBatch(ctx context.Context, b *batchLoad, keys []pending[K, V], load func(context.Context, []K) (map[K]V, error)) {
	defer c.loads.Done()
	stop := context.AfterFunc(c.closing, b.cancel)
	defer stop()
	start := c.now()
	var m map[K]V
	err := errGoexit
	defer func() {
		delta := c.now() - start
		for _, p := range keys {
			v, ok := m[p.key]
			kerr := err
			if kerr == nil && !ok {
				kerr = ErrNotFound
			}
			c.finish(p.s, p.key, p.cl, v, kerr, delta)
		}
	}()
	ks := make([]K, len(keys))
	for i, p := range keys {
		ks[i] = p.key
	}
	m, err = protectMany(ctx, ks, load)
}

func protectMany[K comparable, V any](ctx context.Context, keys []K, load func(context.Context, []K) (map[K]V, error)) (m map[K]V, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return load(ctx, keys)
}
