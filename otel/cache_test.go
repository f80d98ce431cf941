package bulwarkotel_test

import (
	"context"
	"errors"
	"testing"

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
		got.values(t, "bulwark.cache.lookups"))
	assert.Equal(t, map[string]int64{
		"name=users,reason=capacity": 1, "name=users,reason=expired": 0, "name=users,reason=deleted": 1,
		"name=users,reason=replaced": 1, "name=users,reason=cleared": 0,
	}, got.values(t, "bulwark.cache.evictions"))
	assert.Equal(t, map[string]int64{"name=users,outcome=success": 1, "name=users,outcome=failure": 1},
		got.values(t, "bulwark.cache.loads"))
	assert.Equal(t, map[string]int64{"name=users": 0}, got.values(t, "bulwark.cache.refreshes"))
	assert.Equal(t, map[string]int64{"name=users": 1}, got.values(t, "bulwark.cache.size"))
	st := c.Stats()
	assert.Equal(t, st.Hits, got.values(t, "bulwark.cache.lookups")["name=users,outcome=hit"], "from Stats")
}
