package cache

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A TTL, StaleFor or ErrorTTL near the top of time.Duration ("practically
// forever") must not wrap the int64 deadline into the past.
func TestHugeDurationsDoNotWrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const forever = time.Duration(math.MaxInt64)
		time.Sleep(time.Second) // now() well above 1

		c := newCache(t, Config[int, int]{Capacity: 8, TTL: forever})
		c.Set(1, 1)
		v, ok := c.Get(1)
		assert.True(t, ok, "TTL forever: value expired at once")
		assert.Equal(t, 1, v)

		c.SetTTL(2, 2, forever)
		_, ok = c.Get(2)
		assert.True(t, ok, "SetTTL forever: value expired at once")

		loads := 0
		load := func(context.Context, int) (int, error) { loads++; return loads, nil }
		s := newCache(t, Config[int, int]{Capacity: 8, TTL: time.Second, StaleFor: forever})
		v, err := s.GetOrLoad(t.Context(), 1, load)
		require.NoError(t, err)
		require.Equal(t, 1, v)
		time.Sleep(2 * time.Second)
		// Stale but within StaleFor: served stale (1) while a refresh runs.
		v, err = s.GetOrLoad(t.Context(), 1, load)
		require.NoError(t, err)
		assert.Equal(t, 1, v, "StaleFor forever: stale value dropped")
		synctest.Wait()

		e := newCache(t, Config[int, int]{Capacity: 8, ErrorTTL: forever})
		calls := 0
		fail := func(context.Context, int) (int, error) { calls++; return 0, assert.AnError }
		_, err = e.GetOrLoad(t.Context(), 1, fail)
		require.ErrorIs(t, err, assert.AnError)
		_, err = e.GetOrLoad(t.Context(), 1, fail)
		require.ErrorIs(t, err, assert.AnError)
		assert.Equal(t, 1, calls, "ErrorTTL forever: error not cached")
	})
}

// Concurrent differential stress with several shards: each goroutine owns
// the keys k ≡ g (mod G), so per key the operations are sequential and a Get
// must return the last value stored for it or miss, while shards, eviction
// and Clear are shared. Every value stored leaves exactly once (OnEvict) or
// is still present at the end (a loaded value may also never be stored, if
// a Clear superseded its load); Stats agree with the OnEvict count; no shard
// ever holds more than its capacity. Time advances (synctest) so TTLs
// expire mid-run.
func TestShardedConcurrentDifferential(t *testing.T) {
	for _, tt := range []struct {
		name             string
		shards, capacity int
	}{
		{"2 shards", 2, 32},
		{"8 shards", 8, 32},
		{"one entry per shard", 8, 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { shardedDifferential(t, tt.shards, tt.capacity) })
		})
	}
}

func shardedDifferential(t *testing.T, shards, capacity int) {
	const (
		G    = 4
		keys = 96
		ops  = 6000
	)
	var (
		mu       sync.Mutex
		evicted  = map[int]int{}  // value -> times passed to OnEvict
		stored   = map[int]int{}  // value -> key
		fromLoad = map[int]bool{} // values from the loader: a Clear may supersede them
		next     = 0
	)
	newValue := func(k int, load bool) int {
		mu.Lock()
		defer mu.Unlock()
		next++
		stored[next] = k
		fromLoad[next] = load
		return next
	}
	c := newCache(t, Config[int, int]{Capacity: capacity, Shards: shards, TTL: 50 * time.Millisecond,
		OnEvict: func(k, v int, r EvictReason) {
			mu.Lock()
			defer mu.Unlock()
			evicted[v]++
			if stored[v] != k {
				t.Errorf("OnEvict(%d, %d, %v): value was stored for key %d", k, v, r, stored[v])
			}
		}})
	var wg sync.WaitGroup
	for g := range G {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), uint64(shards)))
			last := map[int]int{}        // key -> last value stored (0 = none)
			fresh := map[int]time.Time{} // key -> when last[k] stops being fresh (zero = never)
			checkFresh := func(op string, k int) {
				if d := fresh[k]; !d.IsZero() && !time.Now().Before(d) {
					t.Errorf("%s(%d) returned %d %v after it expired", op, k, last[k], time.Since(d))
				}
			}
			for op := range ops {
				k := rng.IntN(keys/G)*G + g
				switch r := rng.IntN(100); {
				case r < 40:
					if v, ok := c.Get(k); ok {
						if v != last[k] {
							t.Errorf("Get(%d) = %d, want %d or a miss", k, v, last[k])
						}
						checkFresh("Get", k)
					}
				case r < 60:
					v := newValue(k, false)
					if rng.IntN(2) == 0 {
						c.Set(k, v)
						fresh[k] = time.Now().Add(50 * time.Millisecond)
					} else {
						ttl := time.Duration(rng.IntN(100)) * time.Millisecond
						c.SetTTL(k, v, ttl)
						fresh[k] = time.Time{}
						if ttl > 0 {
							fresh[k] = time.Now().Add(ttl)
						}
					}
					last[k] = v
				case r < 80:
					loaded := 0
					v, err := c.GetOrLoad(context.Background(), k, func(context.Context, int) (int, error) {
						loaded = newValue(k, true)
						return loaded, nil
					})
					switch {
					case err != nil:
						t.Errorf("GetOrLoad(%d): %v", k, err)
					case loaded != 0 && v != loaded:
						t.Errorf("GetOrLoad(%d) loaded %d, returned %d", k, loaded, v)
					case loaded == 0 && v != last[k]:
						t.Errorf("GetOrLoad(%d) hit %d, want %d", k, v, last[k])
					case loaded == 0:
						checkFresh("GetOrLoad", k)
					default:
						fresh[k] = time.Now().Add(50 * time.Millisecond)
					}
					last[k] = v
				case r < 95:
					c.Delete(k)
				case r < 96 && g == 0:
					c.Clear()
				default:
					time.Sleep(time.Millisecond)
				}
				if op%64 == 0 {
					for i := range c.shards {
						s := &c.shards[i]
						s.mu.Lock()
						if s.n > s.capacity {
							t.Errorf("shard %d holds %d > capacity %d", i, s.n, s.capacity)
						}
						s.mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, c.Len(), capacity)

	present := map[int]bool{}
	for i := range c.shards {
		s := &c.shards[i]
		nodes := s.nodes(nil)
		for _, n := range nodes {
			present[n.val.load(c.mode)] = true
			_, h := c.shardFor(n.key)
			assert.Same(t, n, s.lookup(h, n.key), "shard %d: key %d not found at its node", i, n.key)
		}
		assert.Equal(t, s.n, len(nodes), "shard %d: lists and count disagree", i)
		indexed := 0
		tab := s.tab.Load()
		for b := range tab.buckets {
			for n := tab.buckets[b].Load(); n != nil; n = n.chain.Load() {
				indexed++
			}
		}
		assert.Equal(t, s.n, indexed, "shard %d: nodes in the index", i)
	}
	mu.Lock()
	defer mu.Unlock()
	var total int64
	for v := range stored {
		n := evicted[v]
		if present[v] {
			n++
		}
		if n != 1 && !(n == 0 && fromLoad[v]) {
			t.Errorf("value %d (key %d): evicted %d times, present %v", v, stored[v], evicted[v], present[v])
		}
		total += int64(evicted[v])
	}
	assert.Equal(t, total, c.Stats().Evictions.Total(), "Stats evictions vs OnEvict calls")
}

// A write (Set, SetTTL, Delete, Clear) that lands while a load or refresh
// for the key is in flight wins: the load read the source before the
// write, so its older result must not overwrite or resurrect the entry.
// The load's waiters still get its value, and callers after the write
// start a fresh load instead of joining the superseded one.
func TestWriteDuringLoadWins(t *testing.T) {
	writes := map[string]func(c *Cache[int, int]){
		"Set":    func(c *Cache[int, int]) { c.Set(1, 100) },
		"SetTTL": func(c *Cache[int, int]) { c.SetTTL(1, 100, time.Hour) },
		"Delete": func(c *Cache[int, int]) { c.Delete(1) },
		"Clear":  func(c *Cache[int, int]) { c.Clear() },
	}
	for name, write := range writes {
		want, wantOK := 100, name == "Set" || name == "SetTTL"
		t.Run(name+" during load", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache(t, Config[int, int]{Capacity: 8, Shards: 2, TTL: time.Hour})
				release := make(chan struct{})
				loads := 0
				slow := func(context.Context, int) (int, error) { loads++; <-release; return 1, nil }
				var got int
				var err error
				done := make(chan struct{})
				go func() { got, err = c.GetOrLoad(t.Context(), 1, slow); close(done) }()
				synctest.Wait() // the load is blocked
				write(c)
				if !wantOK {
					// A caller after the write does not join the old load.
					v, err := c.GetOrLoad(t.Context(), 1, func(context.Context, int) (int, error) { loads++; return 2, nil })
					require.NoError(t, err)
					assert.Equal(t, 2, v)
					want, wantOK = 2, true
				}
				close(release)
				<-done
				require.NoError(t, err)
				assert.Equal(t, 1, got, "the load's waiter gets its value")
				v, ok := c.Get(1)
				assert.Equal(t, wantOK, ok)
				assert.Equal(t, want, v, "the write was overwritten by the older load")
			})
		})
		t.Run(name+" during refresh", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache(t, Config[int, int]{Capacity: 8, Shards: 2, TTL: time.Second, StaleFor: time.Hour})
				c.Set(1, 0)
				time.Sleep(2 * time.Second) // stale
				release := make(chan struct{})
				v, err := c.GetOrLoad(t.Context(), 1, func(context.Context, int) (int, error) { <-release; return 1, nil })
				require.NoError(t, err)
				require.Equal(t, 0, v, "stale value served")
				synctest.Wait() // the refresh is blocked
				write(c)
				close(release)
				synctest.Wait()
				v, ok := c.Get(1)
				wantOK := name == "Set" || name == "SetTTL"
				assert.Equal(t, wantOK, ok)
				if wantOK {
					assert.Equal(t, 100, v, "the write was overwritten by the older refresh")
				}
			})
		})
	}
}

// Delete-heavy churn on one shard's index: the table never grows past what
// its capacity needs, and every key stays findable.
func TestTableChurnStaysBounded(t *testing.T) {
	const capacity = 1500 // past the initial 1024-entry sizing
	c, err := New(Config[int, int]{Capacity: capacity, Shards: 1})
	require.NoError(t, err)
	ref := map[int]int{}
	rng := rand.New(rand.NewPCG(3, 4))
	for op := range 200_000 {
		k := rng.IntN(4 * capacity)
		if len(ref) < capacity && rng.IntN(2) == 0 {
			c.Set(k, op)
			ref[k] = op
		} else {
			_, want := ref[k]
			require.Equal(t, want, c.Delete(k), "op %d: Delete(%d)", op, k)
			delete(ref, k)
		}
	}
	s := &c.shards[0]
	assert.Equal(t, len(ref), s.n)
	assert.LessOrEqual(t, len(s.tab.Load().buckets), pow2(capacity))
	for k, v := range ref {
		got, ok := c.Get(k)
		require.True(t, ok, "key %d lost", k)
		require.Equal(t, v, got)
	}
}
