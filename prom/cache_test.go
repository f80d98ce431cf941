package bulwarkprom_test

import (
	"context"
	"errors"
	"testing"

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
