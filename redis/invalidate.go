package redis

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// waiters are the calls of this instance waiting for another instance's
// load, by key. Only fleet misses touch it, never an L1 hit, so one mutex
// is enough.
type waiters struct {
	mu sync.Mutex // guards m
	m  map[string][]chan struct{}
}

func (w *waiters) add(k string) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	w.m[k] = append(w.m[k], ch)
	w.mu.Unlock()
	return ch
}

// remove forgets ch unless wake already took it.
func (w *waiters) remove(k string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[k]
	if i := slices.Index(list, ch); i >= 0 {
		list = slices.Delete(list, i, i+1)
		if len(list) == 0 {
			delete(w.m, k)
		} else {
			w.m[k] = list
		}
	}
}

func (w *waiters) wake(k string) {
	w.mu.Lock()
	list := w.m[k]
	delete(w.m, k)
	w.mu.Unlock()
	for _, ch := range list {
		close(ch)
	}
}

func (w *waiters) wakeAll() {
	w.mu.Lock()
	m := w.m
	w.m = map[string][]chan struct{}{}
	w.mu.Unlock()
	for _, list := range m {
		for _, ch := range list {
			close(ch)
		}
	}
}

// onInvalidate handles tracking invalidations: the Redis keys modified, or
// nil for "everything". It runs on the connection's reading goroutine.
func (c *Cache[V]) onInvalidate(redisKeys []string) {
	if redisKeys == nil {
		c.flush()
		return
	}
	for _, rk := range redisKeys {
		k, isValue, ok := c.keys.parse(rk)
		if !ok {
			continue
		}
		if isValue {
			c.invalidate(k)
		} else {
			c.waiters.wake(k) // a lock released: a waiter may take it
		}
	}
}

// onMessage handles a key published on the invalidation channel.
func (c *Cache[V]) onMessage(k string) {
	if k != "" {
		c.invalidate(k)
	}
}

func (c *Cache[V]) invalidate(k string) {
	c.stats.invalidations.Add(1)
	c.l1.Delete(k)
	c.waiters.wake(k)
	c.emit(Event{Kind: EventInvalidate, Key: k})
}

// flush empties L1 (loads in flight do not store their results either)
// and wakes every waiter, which then rereads Redis.
func (c *Cache[V]) flush() {
	c.stats.flushes.Add(1)
	c.l1.Clear()
	c.waiters.wakeAll()
}

var errStreamLost = errors.New("redis: invalidation stream lost")

// stream keeps the invalidation stream open until Close: it opens it,
// flushes L1 (whatever was invalidated before is unknown), pings it every
// Heartbeat and when a call reports a Redis failure, and on any failure
// flushes L1 again and reopens it, at once the first time and every
// Heartbeat after that.
func (c *Cache[V]) stream() {
	defer c.wg.Done()
	retry := false
	for {
		if retry && !c.sleep(c.heartbeat) {
			return
		}
		w, mode, err := c.open()
		if err != nil {
			c.healthy.Store(false)
			c.emit(Event{Kind: EventStreamDown, Err: err})
			retry = true
			if isClosed(c.done) {
				return
			}
			continue
		}
		c.flush()
		c.healthy.Store(true)
		c.emit(Event{Kind: EventStreamUp, Mode: mode})
		err = c.keepAlive(w)
		w.Close()
		if err == nil { // closed
			return
		}
		c.healthy.Store(false)
		c.flush()
		c.emit(Event{Kind: EventStreamDown, Err: err})
		retry = false
	}
}

// open opens the stream of the configured mode, falling back from
// tracking to pub/sub in InvalidateAuto.
func (c *Cache[V]) open() (Watch, Invalidation, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	mode := c.mode
	if mode == InvalidateAuto || mode == InvalidateTracking {
		w, err := c.store.Track(ctx, c.keys.tracked(), c.onInvalidate)
		if err == nil {
			return w, InvalidateTracking, nil
		}
		if mode == InvalidateTracking || !errors.Is(err, ErrUnsupported) {
			return nil, mode, err
		}
		mode = InvalidatePubSub
	}
	w, err := c.store.Subscribe(ctx, c.keys.channel, c.onMessage)
	return w, mode, err
}

// keepAlive pings w until it fails (the error) or the cache closes (nil).
func (c *Cache[V]) keepAlive(w Watch) error {
	t := time.NewTicker(c.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return nil
		case <-w.Lost():
			return errStreamLost
		case <-t.C:
		case <-c.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := w.Ping(ctx)
		cancel()
		if err != nil {
			return err
		}
		c.healthy.Store(true)
	}
}

// sleep waits d, or returns false at once when the cache closes.
func (c *Cache[V]) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}
