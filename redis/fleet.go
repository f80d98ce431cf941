package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// fill is the L1 loader: it runs inside the L1 flight of k, so at most one
// fill per key per instance runs at a time, and an invalidation of k that
// arrives while it runs keeps its result out of L1 (cache.Cache.Delete
// supersedes the load in flight). That is what makes the read of Redis
// safe: the flight starts before the GET is sent, so any write Redis
// executes after the GET is invalidated while the flight is still open, or
// after its value is stored, and either way the old value leaves L1.
func (c *Cache[V]) fill(ctx context.Context, k string, load func(context.Context, string) (V, error)) (V, error) {
	if !c.healthy.Load() {
		c.stats.localLoads.Add(1)
		return load(ctx, k)
	}
	v, err, done := c.fleetLoad(ctx, k, load)
	if done {
		return v, err
	}
	if ctx.Err() != nil {
		var zero V
		return zero, ctx.Err()
	}
	c.stats.localLoads.Add(1)
	return load(ctx, k)
}

// errBadReply is a script reply of the wrong shape: untrusted input.
var errBadReply = errors.New("redis: malformed script reply")

// fleetLoad reads k from Redis, else takes the fleet lock and loads, else
// waits for the holder's value. done is false when Redis failed (or ctx
// ended) before this instance took the lock: the caller loads locally.
func (c *Cache[V]) fleetLoad(ctx context.Context, k string, load func(context.Context, string) (V, error)) (v V, err error, done bool) {
	vk, lk, nk := c.keys.value(k), c.keys.lock(k), c.keys.ver(k)
	token := rand.Text()
	skipValue := false // the value in Redis is undecodable: load over it
	waited := false
	for {
		// Register before asking Redis, so that a release or write that
		// happens after the reply still wakes this call.
		wake := c.waiters.add(k)
		reply, err := c.readOrLock(ctx, k, vk, lk, nk, token, skipValue)
		if err != nil {
			c.waiters.remove(k, wake)
			if ctx.Err() == nil {
				c.redisFailed(k, err)
			}
			return v, nil, false
		}
		switch reply[0] {
		case "v":
			c.waiters.remove(k, wake)
			val, derr := decode(c.codec, []byte(reply[1]))
			if derr != nil && skipValue {
				// Asked to skip the value, the script returned one all the
				// same: the reply is not to be trusted.
				c.decodeFailed(k, derr)
				c.redisFailed(k, fmt.Errorf("%w: acquire returned a value it was told to skip", errBadReply))
				return v, nil, false
			}
			if derr != nil {
				c.decodeFailed(k, derr)
				skipValue = true
				continue
			}
			c.stats.l2Hits.Add(1)
			return val, nil, true
		case "l":
			c.waiters.remove(k, wake)
			if !waited {
				c.stats.l2Misses.Add(1)
			}
			v, err := c.holdAndLoad(ctx, k, vk, lk, nk, token, reply[1], load)
			return v, err, true
		}
		// "w": another instance holds the lock for pttl more milliseconds.
		pttl, perr := strconv.ParseInt(reply[1], 10, 64)
		if perr != nil {
			c.waiters.remove(k, wake)
			c.redisFailed(k, fmt.Errorf("%w: lock TTL %q", errBadReply, reply[1]))
			return v, nil, false
		}
		if !waited {
			waited = true
			c.stats.l2Misses.Add(1)
			c.stats.waits.Add(1)
			c.emit(Event{Kind: EventWaiting, Key: k})
		}
		// The lock ends by its TTL at the latest (a negative PTTL means it
		// has just gone); its holder's write or release wakes us sooner.
		timer := time.NewTimer(time.Duration(max(pttl, 0)+1) * time.Millisecond)
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
		case <-c.done:
		}
		timer.Stop()
		c.waiters.remove(k, wake)
		if ctx.Err() != nil {
			return v, ctx.Err(), true
		}
		if isClosed(c.done) || !c.healthy.Load() {
			return v, nil, false
		}
	}
}

// readOrLock is one Redis phase, bounded by Timeout: a GET of the value,
// then, on a miss, the acquire script. Its reply is {"v", value},
// {"l", fence} or {"w", pttl}.
func (c *Cache[V]) readOrLock(ctx context.Context, k, vk, lk, nk, token string, skipValue bool) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if !skipValue {
		b, found, err := c.store.Get(rctx, vk)
		if err != nil {
			return nil, err
		}
		if found {
			return []string{"v", string(b)}, nil
		}
	}
	skip := "0"
	if skipValue {
		skip = "1"
	}
	reply, err := c.store.Eval(rctx, acquireScript, []string{vk, lk, nk}, token, c.lockTTLMs, skip, c.verTTLMs)
	if err != nil {
		return nil, err
	}
	if len(reply) != 2 || (reply[0] != "v" && reply[0] != "l" && reply[0] != "w") {
		return nil, fmt.Errorf("%w: acquire returned %q", errBadReply, reply)
	}
	return reply, nil
}

// holdAndLoad runs load while this instance holds the fleet lock of k, then
// writes the value with its fence and releases the lock in one script.
// Nothing but the lock key is held across load. If load fails or panics,
// the lock is released (compare-and-delete) so that a waiter can load at
// once rather than after the lock's TTL.
func (c *Cache[V]) holdAndLoad(ctx context.Context, k, vk, lk, nk, token, fence string, load func(context.Context, string) (V, error)) (v V, err error) {
	c.stats.fleetLoads.Add(1)
	released := false
	defer func() {
		if !released {
			c.release(ctx, k, lk, token)
		}
	}()
	v, err = load(ctx, k)
	if err != nil {
		return v, err
	}
	b, err := c.codec.Encode(v)
	if err != nil {
		var zero V
		return zero, err
	}
	// The write is bounded by Timeout but not by the callers' ctx: the
	// value is loaded, and storing it spares the fleet another load.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	reply, werr := c.store.Eval(wctx, writeScript, []string{vk, lk, nk},
		token, fence, string(b), c.ttlMs, c.verTTLMs, c.keys.channel, k)
	released = true // by the script, or, if Redis failed, by the lock's TTL
	switch {
	case werr != nil:
		c.redisFailed(k, werr)
	case len(reply) == 1 && reply[0] == "stale":
		// Someone wrote k, or took the lock after ours expired, while we
		// loaded: our value is older. The callers still get what they
		// asked the origin for, but L1 must not keep it.
		c.stats.staleWrites.Add(1)
		c.l1.Delete(k)
		c.emit(Event{Kind: EventStaleWrite, Key: k})
	case len(reply) != 1 || reply[0] != "ok":
		c.redisFailed(k, fmt.Errorf("%w: write returned %q", errBadReply, reply))
	}
	return v, nil
}

// release deletes the lock of k if token still holds it.
func (c *Cache[V]) release(ctx context.Context, k, lk, token string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	if _, err := c.store.Eval(rctx, releaseScript, []string{lk}, token, c.keys.channel, k); err != nil {
		c.redisFailed(k, err)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
