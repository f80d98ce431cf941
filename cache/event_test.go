package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark"
)

var _ bulwark.Event = Event[string]{}

// describe renders an event as a short string: kind, key and the fields set.
func describe(e Event[int]) string {
	s := fmt.Sprintf("%s %d", e.Kind, e.Key)
	if e.Reason != 0 {
		s += " " + e.Reason.String()
	}
	if e.Stale {
		s += " stale"
	}
	if e.Duration != 0 {
		s += " " + e.Duration.String()
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
	}
	return s
}

// eventLog collects described events; safe for concurrent use.
type eventLog struct {
	t   *testing.T
	mu  sync.Mutex
	got []string
}

func (l *eventLog) observe(e Event[int]) {
	if e.Name != "test" {
		l.t.Errorf("event %v named %q, want %q", e, e.Name, "test")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, describe(e))
}

// take returns the events since the last take.
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

// observed returns a cache named "test" whose events go to the returned log.
func observed(t *testing.T, cfg Config[int, int]) (*Cache[int, int], *eventLog) {
	l := &eventLog{t: t}
	cfg.Name, cfg.Observer = "test", l.observe
	return newCache(t, cfg), l
}

// slowLoad returns a loader that takes d and returns key*10, or err.
func slowLoad(d time.Duration, err error) func(context.Context, int) (int, error) {
	return func(_ context.Context, k int) (int, error) {
		time.Sleep(d)
		return k * 10, err
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{EventHit: "hit", EventMiss: "miss", EventLoad: "load",
		EventRefresh: "refresh", EventEvict: "evict", EventKind(0): "EventKind(0)", EventKind(9): "EventKind(9)"} {
		assert.Equal(t, want, k.String())
	}
	e := Event[int]{Kind: EventEvict, Name: "users"}
	assert.Equal(t, "cache", e.Component())
	assert.Equal(t, "users", e.Source())
	assert.Equal(t, "evict", e.Type())
}

// The lookups and writes of a scripted series of calls, each with the
// exact events it causes, on an exact LRU and on a sharded cache (whose
// hits take the lock-free path) with each policy.
func TestEventsScripted(t *testing.T) {
	for _, tt := range []struct {
		shards int
		policy Policy
	}{{1, LRU}, {2, LRU}, {2, TinyLFU}} {
		t.Run(fmt.Sprintf("shards=%d/%v", tt.shards, tt.policy), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { scripted(t, tt.shards, tt.policy) })
		})
	}
}

func scripted(t *testing.T, shards int, policy Policy) {
	ctx := t.Context()
	c, log := observed(t, Config[int, int]{Capacity: 64, Shards: shards, Policy: policy, TTL: time.Second})
	step := func(name string, want ...string) {
		t.Helper()
		got := log.take()
		if len(want) == 0 {
			want = nil
		}
		assert.Equal(t, want, got, name)
	}

	v, err := c.GetOrLoad(ctx, 1, slowLoad(10*time.Millisecond, nil))
	require.NoError(t, err)
	require.Equal(t, 10, v)
	step("GetOrLoad miss", "miss 1", "load 1 10ms")

	_, err = c.GetOrLoad(ctx, 1, slowLoad(time.Millisecond, nil))
	require.NoError(t, err)
	step("GetOrLoad hit", "hit 1")

	_, ok := c.Get(1)
	require.True(t, ok)
	_, ok = c.Get(2)
	require.False(t, ok)
	step("Get", "hit 1", "miss 2")

	c.Peek(1)
	c.Contains(2)
	for range c.All() {
	}
	step("Peek, Contains and All are silent")

	c.Set(1, 11)
	c.Set(2, 20)
	step("Set", "evict 1 replaced")

	require.True(t, c.Delete(1))
	require.False(t, c.Delete(1))
	step("Delete", "evict 1 deleted")

	time.Sleep(2 * time.Second) // key 2 expires
	_, ok = c.Get(2)
	require.False(t, ok)
	step("Get of an expired key", "evict 2 expired", "miss 2")

	c.Set(3, 30)
	time.Sleep(2 * time.Second)
	_, err = c.GetOrLoad(ctx, 3, slowLoad(5*time.Millisecond, nil))
	require.NoError(t, err)
	step("GetOrLoad of an expired key", "evict 3 expired", "miss 3", "load 3 5ms")

	require.NoError(t, c.Refresh(ctx, 3, slowLoad(7*time.Millisecond, nil)))
	time.Sleep(time.Second / 2)
	synctest.Wait()
	step("Refresh", "refresh 3 7ms", "evict 3 replaced")

	_, err = c.GetOrLoad(ctx, 4, slowLoad(time.Millisecond, assert.AnError))
	require.ErrorIs(t, err, assert.AnError)
	step("failed load, not cached", "miss 4", "load 4 1ms err="+assert.AnError.Error())

	// An abandoned load still reports its end.
	lctx, cancel := context.WithCancel(ctx)
	go func() {
		time.Sleep(time.Millisecond)
		cancel()
	}()
	_, err = c.GetOrLoad(lctx, 5, func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	require.ErrorIs(t, err, context.Canceled)
	synctest.Wait()
	step("abandoned load", "miss 5", "load 5 1ms err=context canceled")

	// A superseded load too; its result is not stored.
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err := c.GetOrLoad(ctx, 6, func(context.Context, int) (int, error) { <-release; return 60, nil })
		assert.NoError(t, err)
		assert.Equal(t, 60, v)
	}()
	synctest.Wait()
	c.Set(6, 61)
	close(release)
	<-done
	step("superseded load", "miss 6", "load 6")
	v, _ = c.Get(6)
	assert.Equal(t, 61, v)
	step("Get", "hit 6")

	c.Clear()
	got := log.take()
	assert.ElementsMatch(t, []string{"evict 3 cleared", "evict 6 cleared"}, got, "Clear")
}

func TestEventsCapacityEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, log := observed(t, Config[int, int]{Capacity: 2, Shards: 1})
		c.Set(1, 1)
		c.Set(2, 2)
		c.Get(1)
		c.Set(3, 3) // 2 is the least recently used
		assert.Equal(t, []string{"hit 1", "evict 2 capacity"}, log.take())

		_, err := c.GetOrLoad(t.Context(), 4, slowLoad(time.Millisecond, nil))
		require.NoError(t, err)
		assert.Equal(t, []string{"miss 4", "load 4 1ms", "evict 1 capacity"}, log.take(),
			"a load's evictions are delivered before its waiters return")
	})
}

func TestEventsStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, log := observed(t, Config[int, int]{Capacity: 8, TTL: time.Second, StaleFor: time.Minute})
		_, err := c.GetOrLoad(ctx, 1, slowLoad(3*time.Millisecond, nil))
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		v, err := c.GetOrLoad(ctx, 1, slowLoad(4*time.Millisecond, nil))
		require.NoError(t, err)
		assert.Equal(t, 10, v, "stale value served")
		_, ok := c.Get(1)
		assert.False(t, ok, "Get does not serve stale values")
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"miss 1", "load 1 3ms", "hit 1 stale", "miss 1", "refresh 1 4ms", "evict 1 replaced"}, log.take())

		// A failed refresh leaves the stale value.
		time.Sleep(2 * time.Second)
		_, err = c.GetOrLoad(ctx, 1, slowLoad(2*time.Millisecond, assert.AnError))
		require.NoError(t, err)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"hit 1 stale", "refresh 1 2ms err=" + assert.AnError.Error()}, log.take())
		st := c.Stats()
		assert.Equal(t, int64(3), st.Loads)
		assert.Equal(t, int64(2), st.Refreshes)
	})
}

func TestEventsCachedError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, log := observed(t, Config[int, int]{Capacity: 8, ErrorTTL: time.Second})
		fail := slowLoad(time.Millisecond, assert.AnError)
		_, err := c.GetOrLoad(ctx, 1, fail)
		require.ErrorIs(t, err, assert.AnError)
		_, err = c.GetOrLoad(ctx, 1, fail)
		require.ErrorIs(t, err, assert.AnError)
		_, ok := c.Get(1)
		assert.False(t, ok)
		e := "err=" + assert.AnError.Error()
		assert.Equal(t, []string{"miss 1", "load 1 1ms " + e, "hit 1 " + e, "miss 1"}, log.take())

		time.Sleep(2 * time.Second) // the cached error expires, silently
		_, err = c.GetOrLoad(ctx, 1, slowLoad(time.Millisecond, nil))
		require.NoError(t, err)
		c.Delete(1)
		assert.Equal(t, []string{"miss 1", "load 1 1ms", "evict 1 deleted"}, log.take())
	})
}

func TestEventsGetOrLoadMany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		c, log := observed(t, Config[int, int]{Capacity: 8, Shards: 1})
		c.Set(1, 10)
		load := func(_ context.Context, keys []int) (map[int]int, error) {
			time.Sleep(5 * time.Millisecond)
			m := map[int]int{}
			for _, k := range keys {
				if k != 3 {
					m[k] = k * 10
				}
			}
			return m, nil
		}
		got, err := c.GetOrLoadMany(ctx, []int{1, 2, 3, 2}, load)
		require.NoError(t, err)
		assert.Equal(t, map[int]int{1: 10, 2: 20}, got)
		assert.Equal(t, []string{"hit 1", "miss 2", "miss 3", "load 2 5ms", "load 3 5ms err=" + ErrNotFound.Error()}, log.take())

		_, err = c.GetOrLoadMany(ctx, []int{1, 2}, load)
		require.NoError(t, err)
		assert.Equal(t, []string{"hit 1", "hit 2"}, log.take())
	})
}

// Over a concurrent random workload, the observer's counts equal Stats and
// the OnEvict calls.
func TestEventCountsMatchStats(t *testing.T) {
	for _, policy := range []Policy{LRU, TinyLFU} {
		t.Run(policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { countsMatch(t, policy) })
		})
	}
}

func countsMatch(t *testing.T, policy Policy) {
	var kinds [EventEvict + 1]atomic.Int64
	var reasons, onEvict [len(reasonNames)]atomic.Int64
	var stale atomic.Int64
	c, err := New(Config[int, int]{Capacity: 32, Shards: 4, Policy: policy, TTL: 30 * time.Millisecond,
		StaleFor: 20 * time.Millisecond, EarlyRefresh: 1,
		OnEvict: func(_, _ int, r EvictReason) { onEvict[r].Add(1) },
		Observer: func(e Event[int]) {
			kinds[e.Kind].Add(1)
			if e.Kind == EventEvict {
				reasons[e.Reason].Add(1)
			}
			if e.Stale {
				stale.Add(1)
			}
		}})
	require.NoError(t, err)
	load := func(context.Context, int) (int, error) { time.Sleep(time.Millisecond); return 1, nil }
	many := func(_ context.Context, keys []int) (map[int]int, error) {
		time.Sleep(time.Millisecond)
		m := map[int]int{}
		for _, k := range keys {
			m[k] = k
		}
		return m, nil
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 1500 {
				k := rng.IntN(96)
				switch r := rng.IntN(20); {
				case r < 6:
					c.Get(k)
				case r < 12:
					_, _ = c.GetOrLoad(t.Context(), k, load)
				case r < 14:
					_, _ = c.GetOrLoadMany(t.Context(), []int{k, k + 1, k + 2}, many)
				case r < 17:
					c.Set(k, k)
				case r < 19:
					c.Delete(k)
				default:
					_ = c.Refresh(t.Context(), k, load)
				}
				if rng.IntN(10) == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	c.Close() // waits for the refreshes
	c.Clear()
	st := c.Stats()
	assert.Equal(t, st.Hits, kinds[EventHit].Load(), "hits")
	assert.Equal(t, st.Misses, kinds[EventMiss].Load(), "misses")
	assert.Equal(t, st.Loads, kinds[EventLoad].Load()+kinds[EventRefresh].Load(), "loads")
	assert.Equal(t, st.Refreshes, kinds[EventRefresh].Load(), "refreshes")
	assert.Equal(t, st.Evictions.Total(), kinds[EventEvict].Load(), "evictions")
	for r := EvictCapacity; r <= EvictCleared; r++ {
		assert.Equal(t, onEvict[r].Load(), reasons[r].Load(), "evictions %v: observer vs OnEvict", r)
	}
	assert.Equal(t, st.Evictions, Evictions{Capacity: reasons[EvictCapacity].Load(), Expired: reasons[EvictExpired].Load(),
		Deleted: reasons[EvictDeleted].Load(), Replaced: reasons[EvictReplaced].Load(), Cleared: reasons[EvictCleared].Load()})
	assert.Zero(t, st.ObserverPanics)
	t.Logf("stats %+v, stale hits %d", st, stale.Load())
	assert.Positive(t, st.Hits)
	assert.Positive(t, st.Refreshes)
	assert.Positive(t, st.Evictions.Capacity)
	assert.Positive(t, st.Evictions.Expired)
	assert.Positive(t, stale.Load())
}

// A panicking observer changes nothing the cache does: the same script gives
// the same results, Stats and OnEvict calls as without an observer, and every
// event's panic is counted.
func TestObserverPanicIsRecovered(t *testing.T) {
	run := func(observer func(Event[int])) (results []string, evicted []event, st Stats) {
		synctest.Test(t, func(t *testing.T) {
			c := newCache(t, Config[int, int]{Capacity: 4, Shards: 1, TTL: time.Second, StaleFor: time.Second,
				OnEvict:  func(k, v int, r EvictReason) { evicted = append(evicted, event{k, v, r}) },
				Observer: observer})
			ctx := t.Context()
			record := func(v int, err error) { results = append(results, fmt.Sprint(v, err)) }
			for i := range 12 {
				record(c.GetOrLoad(ctx, i%6, slowLoad(time.Millisecond, nil)))
				v, ok := c.Get(i % 5)
				record(v, errors.New(fmt.Sprint(ok)))
				c.Set(i%3, i)
				if i%4 == 0 {
					c.Delete(i % 6)
				}
				time.Sleep(700 * time.Millisecond)
				synctest.Wait()
			}
			m, err := c.GetOrLoadMany(ctx, []int{1, 7, 8}, func(_ context.Context, ks []int) (map[int]int, error) {
				return map[int]int{7: 70, 8: 80}, nil
			})
			results = append(results, fmt.Sprint(m, err))
			synctest.Wait() // key 1's refresh, if it was stale
			c.Clear()
			synctest.Wait()
			st = c.Stats()
		})
		return results, evicted, st
	}
	wantResults, wantEvicted, wantStats := run(nil)
	var events atomic.Int64
	results, evicted, st := run(func(e Event[int]) {
		events.Add(1)
		panic("observer bug")
	})
	assert.Equal(t, wantResults, results, "results")
	assert.Equal(t, wantEvicted, evicted, "OnEvict calls")
	assert.Equal(t, events.Load(), st.ObserverPanics, "panics counted")
	assert.Positive(t, st.ObserverPanics)
	st.ObserverPanics = 0
	assert.Equal(t, wantStats, st, "Stats")
}

// An observer may call the cache back from any event, Get, Set, Delete and
// Stats included, without deadlocking (synctest reports a deadlock as a
// failure).
func TestObserverMayReenter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c *Cache[int, int]
		var depth atomic.Int32
		var calls atomic.Int64
		var err error
		c, err = New(Config[int, int]{Capacity: 4, Shards: 1, TTL: time.Second, StaleFor: time.Second, Observer: func(e Event[int]) {
			if depth.Add(1) > 2 {
				depth.Add(-1)
				return
			}
			defer depth.Add(-1)
			calls.Add(1)
			_ = c.Stats()
			switch e.Kind {
			case EventHit, EventMiss:
				c.Set(100+e.Key, 1)
				c.Get(e.Key)
			case EventLoad, EventRefresh:
				c.Get(e.Key)
				_, _ = c.GetOrLoad(context.Background(), e.Key+1000, slowLoad(0, nil))
			case EventEvict:
				c.Delete(e.Key)
				c.Len()
			}
		}})
		require.NoError(t, err)
		defer c.Close()
		ctx := t.Context()
		for i := range 20 {
			_, _ = c.GetOrLoad(ctx, i%5, slowLoad(time.Millisecond, nil))
			c.Get(i % 7)
			c.Set(i%3, i)
			c.Delete(i % 4)
			time.Sleep(600 * time.Millisecond)
			synctest.Wait()
		}
		c.Clear()
		assert.Positive(t, calls.Load())
		assert.Zero(t, c.Stats().ObserverPanics)
	})
}

// Events are passed by value: an observed Get hit, GetOrLoad hit and Set of
// an existing key allocate nothing, as unobserved ones, with either policy.
func TestObservedHotPathsDoNotAllocate(t *testing.T) {
	var n atomic.Int64
	for _, obs := range []func(Event[int]){nil, func(e Event[int]) { n.Add(int64(e.Key)) }} {
		for _, shards := range []int{1, 4, -4} {
			policy := LRU
			if shards < 0 {
				shards, policy = -shards, TinyLFU
			}
			c := newCache(t, Config[int, int]{Capacity: 1024, Shards: shards, Policy: policy, Observer: obs, Name: "x"})
			for k := range 64 {
				c.Set(k, k)
			}
			ctx := context.Background()
			load := slowLoad(0, nil)
			k := 0
			name := fmt.Sprintf("observer=%v shards=%d %v", obs != nil, shards, policy)
			assert.Zero(t, testing.AllocsPerRun(1000, func() { c.Get(k & 63); k++ }), "Get hit, %s", name)
			assert.Zero(t, testing.AllocsPerRun(1000, func() { c.Get(1000 + k); k++ }), "Get miss, %s", name)
			assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = c.GetOrLoad(ctx, k&63, load); k++ }), "GetOrLoad hit, %s", name)
			assert.Zero(t, testing.AllocsPerRun(1000, func() { c.Set(k&63, k); k++ }), "Set existing, %s", name)
		}
	}
	assert.Positive(t, n.Load())
}
