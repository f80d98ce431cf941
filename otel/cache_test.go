package bulwarkotel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/cache"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCacheMetrics runs a fixed sequence on an exact LRU of two entries —
// three misses (one loaded, one a failed load), one hit, one eviction each
// by capacity, replacement and deletion — and reads every instrument.
func TestCacheMetrics(t *testing.T) {
	meter, reader := newMeter(t)
	m, err := bulwarkotel.Cache(meter)
	require.NoError(t, err)
	c, err := cache.New(cache.Config[string, int]{Capacity: 2, Shards: 1})
	require.NoError(t, err)
	defer c.Close()
	reg, err := m.Watch("users", c)
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()

	ctx := context.Background()
	_, _ = c.Get("a")
	_, err = c.GetOrLoad(ctx, "a", func(context.Context, string) (int, error) { return 1, nil })
	require.NoError(t, err)
	_, ok := c.Get("a")
	require.True(t, ok)
	c.Set("b", 2)
	c.Set("c", 3)  // evicts "a": capacity
	c.Set("b", 22) // replaced
	require.True(t, c.Delete("c"))
	_, err = c.GetOrLoad(ctx, "x", func(context.Context, string) (int, error) { return 0, errors.New("down") })
	require.Error(t, err)

	got := collect(t, reader)
	assert.Equal(t, map[string]int64{"name=users,outcome=hit": 1, "name=users,outcome=miss": 3},
		got.values(t, "bulwark.cache.requests"))
	assert.Equal(t, map[string]int64{
		"name=users,reason=capacity": 1, "name=users,reason=expired": 0, "name=users,reason=deleted": 1,
		"name=users,reason=replaced": 1, "name=users,reason=cleared": 0,
	}, got.values(t, "bulwark.cache.evictions"))
	assert.Equal(t, map[string]int64{"name=users,outcome=success": 1, "name=users,outcome=failure": 1},
		got.values(t, "bulwark.cache.loads"))
	assert.Equal(t, map[string]int64{"name=users": 0}, got.values(t, "bulwark.cache.refreshes"))
	assert.Equal(t, map[string]int64{"name=users": 1}, got.values(t, "bulwark.cache.size"))
	st := c.Stats()
	assert.Equal(t, st.Hits, got.values(t, "bulwark.cache.requests")["name=users,outcome=hit"], "from Stats")
}

// scriptLoads runs, in a synctest bubble, five loads of known durations on
// c: two foreground loads that succeed (250 ms, 500 ms), one that fails
// (125 ms), a refresh that succeeds (2 s) and one that fails (1 s), with a
// hit, misses and an eviction among them, which the load histogram ignores.
func scriptLoads(t *testing.T, c *cache.Cache[string, int]) {
	t.Helper()
	ctx := context.Background()
	load := func(d time.Duration, err error) func(context.Context, string) (int, error) {
		return func(context.Context, string) (int, error) {
			time.Sleep(d)
			return 1, err
		}
	}
	_, err := c.GetOrLoad(ctx, "a", load(250*time.Millisecond, nil))
	require.NoError(t, err)
	_, err = c.GetOrLoad(ctx, "b", load(500*time.Millisecond, nil))
	require.NoError(t, err)
	_, err = c.GetOrLoad(ctx, "x", load(125*time.Millisecond, errDown))
	require.ErrorIs(t, err, errDown)
	_, ok := c.Get("a")
	require.True(t, ok)
	require.True(t, c.Delete("b"))
	c.Set("b", 2)
	require.NoError(t, c.Refresh(ctx, "a", load(2*time.Second, nil)))
	time.Sleep(2 * time.Second)
	synctest.Wait()
	require.NoError(t, c.Refresh(ctx, "b", load(time.Second, errDown)))
	time.Sleep(time.Second)
	synctest.Wait()
	st := c.Stats()
	require.Equal(t, int64(5), st.Loads)
	require.Equal(t, int64(2), st.Refreshes)
	require.Equal(t, int64(1), st.Hits)
}

// bucketsAt returns the per-bucket counts of durationBuckets' 15 buckets
// with one sample in each bucket listed (a bucket index twice counts 2).
func bucketsAt(idx ...int) []uint64 {
	b := make([]uint64, 15)
	for _, i := range idx {
		b[i]++
	}
	return b
}

// TestCacheLoadDuration reads bulwark.cache.load.duration after
// scriptLoads: one point per kind and outcome, with exact counts, sums,
// extremes and buckets (0.25 s falls in the bucket ending at 0.25, 0.125 s
// too, 0.5 s in the one ending at 0.5, 1 s in the one ending at 1, 2 s in
// the one ending at 2.5).
func TestCacheLoadDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Cache(meter)
		require.NoError(t, err)
		c, err := cache.New(cache.Config[string, int]{Name: "users", Capacity: 2, Shards: 1,
			Observer: bulwarkotel.CacheObserver[string](m)})
		require.NoError(t, err)
		defer c.Close()

		scriptLoads(t, c)

		got := collect(t, reader)
		assert.Equal(t, "s", got.unit("bulwark.cache.load.duration"))
		points := got.histogram(t, "bulwark.cache.load.duration")
		type point struct {
			count    uint64
			sum      float64
			min, max float64
			buckets  []uint64
		}
		summary := map[string]point{}
		for k, p := range points {
			assert.Equal(t, []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}, p.Bounds, k)
			lo, _ := p.Min.Value()
			hi, _ := p.Max.Value()
			summary[k] = point{p.Count, p.Sum, lo, hi, p.BucketCounts}
		}
		assert.Equal(t, map[string]point{
			"kind=foreground,name=users,outcome=success": {2, 0.75, 0.25, 0.5, bucketsAt(6, 7)},
			"kind=foreground,name=users,outcome=failure": {1, 0.125, 0.125, 0.125, bucketsAt(6)},
			"kind=refresh,name=users,outcome=success":    {1, 2, 2, 2, bucketsAt(10)},
			"kind=refresh,name=users,outcome=failure":    {1, 1, 1, 1, bucketsAt(9)},
		}, summary)
		var count uint64
		for _, p := range summary {
			count += p.count
		}
		assert.Equal(t, uint64(c.Stats().Loads), count, "every loader call is recorded")
	})
}

// TestCacheObserverKinds checks that only loads and refreshes are
// recorded: the other kinds, an unknown one included, leave no point.
func TestCacheObserverKinds(t *testing.T) {
	meter, reader := newMeter(t)
	m, err := bulwarkotel.Cache(meter)
	require.NoError(t, err)
	observe := bulwarkotel.CacheObserver[int](m)
	for _, k := range []cache.EventKind{cache.EventHit, cache.EventMiss, cache.EventEvict, 0, 200} {
		observe(cache.Event[int]{Kind: k, Name: "c", Key: 1, Duration: time.Second})
	}
	_, ok := collect(t, reader)["bulwark.cache.load.duration"]
	assert.False(t, ok, "no load, no point")
	observe(cache.Event[int]{Kind: cache.EventLoad, Name: "c", Key: 1, Duration: time.Second, Err: cache.ErrNotFound})
	p := collect(t, reader).histogram(t, "bulwark.cache.load.duration")
	require.Len(t, p, 1)
	assert.Equal(t, uint64(1), p["kind=foreground,name=c,outcome=failure"].Count, "ErrNotFound is a failure")
}
