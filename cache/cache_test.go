package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config[int, int]
		field string
	}{
		{"zero capacity", Config[int, int]{}, "Config.Capacity 0"},
		{"negative capacity", Config[int, int]{Capacity: -1}, "Config.Capacity -1"},
		{"shards not power of two", Config[int, int]{Capacity: 100, Shards: 3}, "Config.Shards 3"},
		{"negative shards", Config[int, int]{Capacity: 100, Shards: -2}, "Config.Shards -2"},
		{"shards above capacity", Config[int, int]{Capacity: 4, Shards: 8}, "Config.Shards 8"},
		{"negative TTL", Config[int, int]{Capacity: 1, TTL: -time.Second}, "Config.TTL -1s"},
		{"jitter one", Config[int, int]{Capacity: 1, TTLJitter: 1}, "Config.TTLJitter 1"},
		{"negative jitter", Config[int, int]{Capacity: 1, TTLJitter: -0.1}, "Config.TTLJitter -0.1"},
		{"negative StaleFor", Config[int, int]{Capacity: 1, StaleFor: -1}, "Config.StaleFor -1ns"},
		{"negative EarlyRefresh", Config[int, int]{Capacity: 1, EarlyRefresh: -1}, "Config.EarlyRefresh -1"},
		{"negative ErrorTTL", Config[int, int]{Capacity: 1, ErrorTTL: -time.Millisecond}, "Config.ErrorTTL -1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tt.field)
			assert.Contains(t, err.Error(), "cache: ")
		})
	}
}

func TestAutoShards(t *testing.T) {
	tests := []struct {
		name            string
		capacity, procs int
		want            int
	}{
		{"tiny cache", 10, 8, 1},
		{"one proc", 1_000_000, 1, 16},
		{"two procs", 1_000_000, 2, 32},
		{"three procs rounds up", 1_000_000, 3, 64},
		{"capped by entries per shard", 10_000, 8, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, autoShards(tt.capacity, tt.procs))
		})
	}
}

// refLRU is the reference for the differential test: a slice ordered from
// most to least recently used.
type refLRU struct {
	cap  int
	keys []int
	vals map[int]int
}

func (r *refLRU) touch(k int) {
	i := slices.Index(r.keys, k)
	r.keys = slices.Delete(r.keys, i, i+1)
	r.keys = slices.Insert(r.keys, 0, k)
}

func (r *refLRU) get(k int) (int, bool) {
	v, ok := r.vals[k]
	if ok {
		r.touch(k)
	}
	return v, ok
}

// event is one OnEvict call.
type event struct {
	k, v   int
	reason EvictReason
}

// set returns the evictions it causes.
func (r *refLRU) set(k, v int) []event {
	if old, ok := r.vals[k]; ok {
		r.vals[k] = v
		r.touch(k)
		return []event{{k, old, EvictReplaced}}
	}
	var evs []event
	if len(r.keys) == r.cap {
		last := r.keys[len(r.keys)-1]
		evs = append(evs, event{last, r.vals[last], EvictCapacity})
		r.keys = r.keys[:len(r.keys)-1]
		delete(r.vals, last)
	}
	r.keys = slices.Insert(r.keys, 0, k)
	r.vals[k] = v
	return evs
}

func (r *refLRU) del(k int) []event {
	v, ok := r.vals[k]
	if !ok {
		return nil
	}
	i := slices.Index(r.keys, k)
	r.keys = slices.Delete(r.keys, i, i+1)
	delete(r.vals, k)
	return []event{{k, v, EvictDeleted}}
}

func TestSingleShardIsExactLRU(t *testing.T) {
	tests := []struct {
		name                string
		capacity, keys, ops int
	}{
		{"small", 64, 160, 100_000},
		{"table grows", 2000, 4000, 20_000}, // past the initial 1024-entry table
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { differential(t, tt.capacity, tt.keys, tt.ops) })
	}
}

func differential(t *testing.T, capacity, keys, ops int) {
	var got []event
	c, err := New(Config[int, int]{Capacity: capacity, Shards: 1, OnEvict: func(k, v int, r EvictReason) {
		got = append(got, event{k, v, r})
	}})
	require.NoError(t, err)
	ref := &refLRU{cap: capacity, vals: map[int]int{}}
	rng := rand.New(rand.NewPCG(1, 2))
	for op := range ops {
		k := rng.IntN(keys)
		got = got[:0]
		var want []event
		switch r := rng.IntN(10); {
		case r < 5:
			v, ok := c.Get(k)
			wv, wok := ref.get(k)
			if ok != wok || v != wv {
				t.Fatalf("op %d: Get(%d) = %d, %v; want %d, %v", op, k, v, ok, wv, wok)
			}
		case r < 9:
			c.Set(k, op)
			want = ref.set(k, op)
		default:
			ok := c.Delete(k)
			want = ref.del(k)
			if ok != (len(want) == 1) {
				t.Fatalf("op %d: Delete(%d) = %v, want %v", op, k, ok, !ok)
			}
		}
		if !slices.Equal(want, got) {
			t.Fatalf("op %d: evictions %v, want %v", op, got, want)
		}
		if c.Len() != len(ref.keys) {
			t.Fatalf("op %d: Len() = %d, want %d", op, c.Len(), len(ref.keys))
		}
	}
	// The final recency order agrees too.
	l := &c.shards[0].lists[qLRU]
	var order []int
	for n := l.root.next; n != &l.root; n = n.next {
		order = append(order, n.key)
	}
	assert.Equal(t, ref.keys, order)
}

// zipfTrace returns n keys from a Zipf(s=1.01) distribution over universe
// keys, seeded; rand.Zipf needs s > 1, and 1.01 is indistinguishable from 1
// for hit ratios at these sizes.
func zipfTrace(seed uint64, n, universe int) []uint64 {
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, seed)), 1.01, 1, uint64(universe-1))
	trace := make([]uint64, n)
	for i := range trace {
		trace[i] = z.Uint64()
	}
	return trace
}

func hitRatio(t testing.TB, shards int, capacity int, trace []uint64) float64 {
	c, err := New(Config[uint64, uint64]{Capacity: capacity, Shards: shards})
	require.NoError(t, err)
	for _, k := range trace {
		if _, ok := c.Get(k); !ok {
			c.Set(k, k)
		}
	}
	return c.Stats().HitRatio()
}

func TestAutoShardHitRatioMatchesExactLRU(t *testing.T) {
	trace := zipfTrace(7, 150_000, 100_000)
	for _, capacity := range []int{5_000, 20_000} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			exact := hitRatio(t, 1, capacity, trace)
			seen := map[int]bool{}
			for _, procs := range []int{1, 2, 8} {
				n := autoShards(capacity, procs)
				if seen[n] {
					continue
				}
				seen[n] = true
				sharded := hitRatio(t, n, capacity, trace)
				t.Logf("shards=%d hit ratio %.4f, exact %.4f", n, sharded, exact)
				assert.InDelta(t, exact, sharded, 0.01, "shards=%d", n)
			}
			assert.Greater(t, exact, 0.3, "trace should be cacheable")
			assert.Less(t, exact, 0.9, "the cache should be under pressure")
		})
	}
}

func TestOnEvictReasons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type ev struct {
			k, v   string
			reason EvictReason
		}
		var got []ev
		c, err := New(Config[string, string]{Capacity: 2, Shards: 1, TTL: time.Minute,
			OnEvict: func(k, v string, r EvictReason) { got = append(got, ev{k, v, r}) }})
		require.NoError(t, err)
		c.Set("a", "1")
		c.Set("a", "2")
		c.Set("b", "1")
		c.Set("c", "1") // evicts a
		c.Delete("b")
		c.Delete("b")
		time.Sleep(time.Minute)
		_, ok := c.Get("c")
		assert.False(t, ok)
		c.Set("d", "1")
		c.Set("e", "1")
		c.Clear()
		want := []ev{
			{"a", "1", EvictReplaced}, {"a", "2", EvictCapacity}, {"b", "1", EvictDeleted},
			{"c", "1", EvictExpired}, {"d", "1", EvictCleared}, {"e", "1", EvictCleared},
		}
		slices.SortFunc(got[4:], func(a, b ev) int { return cmpString(a.k, b.k) })
		assert.Equal(t, want, got)
		st := c.Stats().Evictions
		assert.Equal(t, Evictions{Capacity: 1, Expired: 1, Deleted: 1, Replaced: 1, Cleared: 2}, st)
		assert.Equal(t, int64(6), st.Total())
		assert.Equal(t, 0, c.Len())
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestEvictReasonString(t *testing.T) {
	for r, want := range map[EvictReason]string{EvictCapacity: "capacity", EvictExpired: "expired",
		EvictDeleted: "deleted", EvictReplaced: "replaced", EvictCleared: "cleared", 0: "unknown", 99: "unknown"} {
		assert.Equal(t, want, r.String())
	}
}

// A callback that re-enters the cache must not deadlock: OnEvict runs
// outside the shard lock for every reason.
func TestOnEvictMayReenter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c *Cache[int, int]
		calls := 0
		var err error
		c, err = New(Config[int, int]{Capacity: 2, Shards: 1, TTL: time.Second, OnEvict: func(k, v int, r EvictReason) {
			calls++
			c.Get(k)
			c.Len()
			c.Stats()
			if k < 100 {
				c.Set(k+100, v) // may evict again, recursively
			}
		}})
		require.NoError(t, err)
		c.Set(1, 1)
		c.Set(1, 2)
		c.Set(2, 2)
		c.Set(3, 3)
		c.Delete(3)
		time.Sleep(2 * time.Second)
		c.Get(2)
		_, _ = c.GetOrLoad(t.Context(), 101, func(ctx context.Context, k int) (int, error) { return k, nil })
		c.Clear()
		assert.Greater(t, calls, 5)
	})
}

func TestTTLExpiresAndJitterBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 10 * time.Second
		c, err := New(Config[int, int]{Capacity: 1000, Shards: 1, TTL: ttl, TTLJitter: 0.5})
		require.NoError(t, err)
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(3, 4))
		c.rand = func() float64 { mu.Lock(); defer mu.Unlock(); return rng.Float64() }
		for k := range 1000 {
			c.Set(k, k)
		}
		alive := func() int {
			n := 0
			for k := range 1000 {
				if _, ok := c.Get(k); ok {
					n++
				}
			}
			return n
		}
		time.Sleep(ttl/2 - time.Nanosecond)
		assert.Equal(t, 1000, alive(), "none expires before TTL·(1−jitter)")
		time.Sleep(ttl / 4)
		mid := alive()
		assert.InDelta(t, 500, mid, 80, "about half expire by TTL·0.75")
		time.Sleep(ttl / 4)
		assert.Equal(t, 0, alive(), "all expire by TTL")
		assert.Equal(t, int64(1000), c.Stats().Evictions.Expired)
		assert.Equal(t, 0, c.Len())
	})
}

func TestSetTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config[string, int]{Capacity: 10, TTL: time.Hour, TTLJitter: 0.9})
		require.NoError(t, err)
		c.SetTTL("short", 1, time.Second)
		c.SetTTL("forever", 2, 0)
		time.Sleep(time.Second - 1)
		_, ok := c.Get("short")
		assert.True(t, ok, "exact ttl, no jitter")
		time.Sleep(time.Nanosecond)
		_, ok = c.Get("short")
		assert.False(t, ok)
		time.Sleep(1000 * time.Hour)
		v, ok := c.Get("forever")
		assert.True(t, ok)
		assert.Equal(t, 2, v)
	})
}

func TestDeleteLenClearStats(t *testing.T) {
	c, err := New(Config[string, int]{Capacity: 100, Shards: 4})
	require.NoError(t, err)
	for i := range 50 {
		c.Set(fmt.Sprint(i), i)
	}
	assert.Equal(t, 50, c.Len())
	assert.True(t, c.Delete("7"))
	assert.False(t, c.Delete("7"))
	assert.False(t, c.Delete("nope"))
	_, ok := c.Get("7")
	assert.False(t, ok)
	v, ok := c.Get("8")
	assert.True(t, ok)
	assert.Equal(t, 8, v)
	assert.Equal(t, 49, c.Len())
	c.Clear()
	assert.Equal(t, 0, c.Len())
	c.Set("x", 1) // slots are reusable after Clear
	assert.Equal(t, 1, c.Len())
	st := c.Stats()
	assert.Equal(t, int64(1), st.Hits)
	assert.Equal(t, int64(1), st.Misses)
	assert.Equal(t, 0.5, st.HitRatio())
	assert.Equal(t, int64(49), st.Evictions.Cleared)
	assert.Equal(t, 0.0, Stats{}.HitRatio())
}

func TestCapacitySplitsOverShards(t *testing.T) {
	c, err := New(Config[int, int]{Capacity: 10, Shards: 4})
	require.NoError(t, err)
	var caps []int
	for i := range c.shards {
		caps = append(caps, c.shards[i].capacity)
	}
	assert.Equal(t, []int{3, 3, 2, 2}, caps)
	for k := range 1000 {
		c.Set(k, k)
	}
	assert.Equal(t, 10, c.Len())
}

func TestHasherKinds(t *testing.T) {
	// Every kind spreads keys over 8 shards, and the same key maps to the
	// same shard.
	type pair struct{ a, b int32 }
	check := func(t *testing.T, n int, sum func(i int) uint64) {
		counts := make([]int, 8)
		for i := range n {
			counts[sum(i)>>61]++
			require.Equal(t, sum(i), sum(i))
		}
		for s, got := range counts {
			assert.InDelta(t, n/8, got, float64(n)/40, "shard %d", s)
		}
	}
	hi := newHasher[int]()
	hs := newHasher[string]()
	hp := newHasher[pair]()
	assert.Equal(t, kindWord, hi.kind)
	assert.Equal(t, kindString, hs.kind)
	assert.Equal(t, kindComparable, hp.kind)
	t.Run("int", func(t *testing.T) { check(t, 16_000, func(i int) uint64 { return hi.sum(i) }) })
	t.Run("string", func(t *testing.T) { check(t, 16_000, func(i int) uint64 { return hs.sum(fmt.Sprint(i)) }) })
	t.Run("struct", func(t *testing.T) {
		check(t, 16_000, func(i int) uint64 { return hp.sum(pair{int32(i), 1}) })
	})
}

// keysInShard returns n int keys that c places in shard 0.
func keysInShard(c *Cache[int, int], n int) []int {
	var keys []int
	for k := 0; len(keys) < n; k++ {
		if s, _ := c.shardFor(k); s == &c.shards[0] {
			keys = append(keys, k)
		}
	}
	return keys
}

// With more than one shard a read-locked hit only marks its entry, and
// eviction gives a marked tail entry a second chance (CLOCK).
func TestShardedEvictionGivesSecondChance(t *testing.T) {
	var evicted []int
	c, err := New(Config[int, int]{Capacity: 8, Shards: 2, OnEvict: func(k, v int, r EvictReason) {
		assert.Equal(t, EvictCapacity, r)
		evicted = append(evicted, k)
	}})
	require.NoError(t, err)
	k := keysInShard(c, 7)
	for _, key := range k[:4] { // shard 0 holds 4: order k3 k2 k1 k0
		c.Set(key, key)
	}
	_, ok := c.Get(k[0]) // marks k0, the tail
	require.True(t, ok)
	_, ok = c.Get(k[1])
	require.True(t, ok)
	c.Set(k[4], k[4]) // k0, k1 get a second chance; k2 goes
	assert.Equal(t, []int{k[2]}, evicted)
	c.Set(k[5], k[5]) // k3 goes
	c.Set(k[6], k[6]) // k0 again unmarked: now it goes
	assert.Equal(t, []int{k[2], k[3], k[0]}, evicted)
}

// A one-entry shard whose only entry is marked must still evict it.
func TestShardedOneEntryShardEvictsMarked(t *testing.T) {
	c, err := New(Config[int, int]{Capacity: 2, Shards: 2})
	require.NoError(t, err)
	k := keysInShard(c, 2)
	c.Set(k[0], 1)
	_, ok := c.Get(k[0])
	require.True(t, ok)
	c.Set(k[1], 2)
	_, ok = c.Get(k[0])
	assert.False(t, ok)
	v, ok := c.Get(k[1])
	assert.True(t, ok)
	assert.Equal(t, 2, v)
}

// The fields a hit reads sit in one cache line for 8-byte keys and values
// (node.go).
func TestHitFieldsFitCacheLine(t *testing.T) {
	var n node[uint64, uint64]
	assert.LessOrEqual(t, unsafe.Offsetof(n.neg), uintptr(63))
}
