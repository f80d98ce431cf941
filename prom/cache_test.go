package bulwarkprom_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/cache"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptCache runs a fixed sequence on an exact LRU of two entries: three
// misses (one of them loaded, one a failed load), one hit, one eviction
// each by capacity, replacement and deletion, and leaves one entry.
func scriptCache(t *testing.T, c *cache.Cache[string, int]) {
	t.Helper()
	ctx := context.Background()
	_, ok := c.Get("a") // miss
	require.False(t, ok)
	v, err := c.GetOrLoad(ctx, "a", func(context.Context, string) (int, error) { return 1, nil }) // miss, load
	require.NoError(t, err)
	require.Equal(t, 1, v)
	_, ok = c.Get("a") // hit
	require.True(t, ok)
	c.Set("b", 2)
	c.Set("c", 3)  // evicts "a", the least recently used: capacity
	c.Set("b", 22) // replaced
	require.True(t, c.Delete("c"))
	_, err = c.GetOrLoad(ctx, "x", func(context.Context, string) (int, error) { return 0, errors.New("down") }) // miss, failed load
	require.Error(t, err)
	st := c.Stats()
	require.Equal(t, int64(1), st.Hits)
	require.Equal(t, int64(3), st.Misses)
	require.Equal(t, 1, c.Len())
}

func TestCacheMetrics(t *testing.T) {
	c, err := cache.New(cache.Config[string, int]{Capacity: 2, Shards: 1})
	require.NoError(t, err)
	defer c.Close()
	m := bulwarkprom.Cache()
	require.NoError(t, prometheus.NewPedanticRegistry().Register(m))
	stop := m.Watch("users", c)
	scriptCache(t, c)
	compareGolden(t, m, "cache.txt")
	stop()
	assert.Zero(t, testutil.CollectAndCount(m), "nothing collected after stop")
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

// TestCacheLoadDuration checks the complete exposition of a watched cache
// whose loads CacheObserver records, after scriptLoads: one histogram per
// kind and outcome, with exact counts, sums and buckets (0.25 s and
// 0.125 s fall in the bucket ending at 0.25, 0.5 s in the one ending at
// 0.5, 1 s in the one ending at 1, 2 s in the one ending at 2.5), whose
// counts add up to Stats.Loads.
func TestCacheLoadDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Cache()
		c, err := cache.New(cache.Config[string, int]{Name: "users", Capacity: 2, Shards: 1,
			Observer: bulwarkprom.CacheObserver[string](m)})
		require.NoError(t, err)
		defer c.Close()
		defer m.Watch("users", c)()

		scriptLoads(t, c)

		compareGolden(t, m, "cache_load.txt")
		var count uint64
		for _, kind := range []string{"foreground", "refresh"} {
			for _, outcome := range []string{"success", "failure"} {
				count += histogramCount(t, m, "bulwark_cache_load_duration_seconds", "kind", kind, "name", "users", "outcome", outcome)
			}
		}
		assert.Equal(t, uint64(c.Stats().Loads), count, "every loader call is recorded")
	})
}

// TestCacheObserverKinds checks that only loads and refreshes are
// recorded: the other kinds, an unknown one included, leave no series.
func TestCacheObserverKinds(t *testing.T) {
	m := bulwarkprom.Cache()
	observe := bulwarkprom.CacheObserver[int](m)
	for _, k := range []cache.EventKind{cache.EventHit, cache.EventMiss, cache.EventEvict, 0, 200} {
		observe(cache.Event[int]{Kind: k, Name: "c", Key: 1, Duration: time.Second})
	}
	assert.Zero(t, testutil.CollectAndCount(m, "bulwark_cache_load_duration_seconds"), "no load, no series")
	observe(cache.Event[int]{Kind: cache.EventLoad, Name: "c", Key: 1, Duration: time.Second, Err: cache.ErrNotFound})
	assert.Equal(t, 1, testutil.CollectAndCount(m, "bulwark_cache_load_duration_seconds"))
	assert.Equal(t, uint64(1), histogramCount(t, m, "bulwark_cache_load_duration_seconds", "kind", "foreground", "name", "c", "outcome", "failure"),
		"ErrNotFound is a failure")
}

// histogramCount returns the sample count of the histogram series of
// family name with the given label pairs, collected from c; it fails the
// test when c has no such series.
func histogramCount(t *testing.T, c prometheus.Collector, name string, labelPairs ...string) uint64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	defer reg.Unregister(c)
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labelPairs); i += 2 {
				if got[labelPairs[i]] != labelPairs[i+1] {
					continue series
				}
			}
			return s.GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no series %s%v", name, labelPairs)
	return 0
}
