package breaker_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

func TestGroupMaxKeysEvictsLeastRecentlyUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := breaker.NewGroup(breaker.Config{Name: "api"}, breaker.GroupConfig{MaxKeys: 3})
		require.NoError(t, err)
		first := map[string]*breaker.Breaker{}
		for _, k := range []string{"a", "b", "c"} {
			first[k] = g.Get(k)
			time.Sleep(10 * time.Millisecond)
		}
		require.Equal(t, "api/a", first["a"].Name())
		require.Same(t, first["a"], g.Get("a"), "a touched: b is now the least recent")
		time.Sleep(10 * time.Millisecond)
		g.Get("d")
		require.Equal(t, 3, g.Len())
		require.Same(t, first["a"], g.Get("a"))
		require.Same(t, first["c"], g.Get("c"))
		require.NotSame(t, first["b"], g.Get("b"), "b was evicted and comes back fresh")
		require.Equal(t, 3, g.Len())
	})
}

func TestGroupIdleTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{IdleTTL: time.Minute})
		require.NoError(t, err)
		a := g.Get("a")
		g.Get("b")
		time.Sleep(30 * time.Second)
		require.Same(t, a, g.Get("a"))
		time.Sleep(45 * time.Second) // b idle 75 s, a idle 45 s
		g.Get("c")
		require.Equal(t, 2, g.Len(), "b evicted, a and c kept")
		require.Same(t, a, g.Get("a"))
		time.Sleep(2 * time.Minute)
		g.Get("d")
		require.Equal(t, 1, g.Len(), "everything but d idle")
	})
}

func TestGroupConcurrentGetOneBreaker(t *testing.T) {
	g, err := breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{MaxKeys: 100})
	require.NoError(t, err)
	const n = 32
	got := make([]*breaker.Breaker, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			got[i] = g.Get("shared")
		})
	}
	start.Done()
	wg.Wait()
	for i := range got {
		require.Same(t, got[0], got[i], "goroutine %d", i)
	}
	require.Equal(t, 1, g.Len())
}

func TestGroupAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := breaker.NewGroup(breaker.Config{Name: "api"}, breaker.GroupConfig{IdleTTL: time.Minute})
		require.NoError(t, err)
		want := map[string]*breaker.Breaker{}
		for _, k := range []string{"c", "a", "b"} {
			want[k] = g.Get(k)
		}
		var keys []string
		for k, b := range g.All() {
			require.Same(t, want[k], b, k)
			keys = append(keys, k)
		}
		require.Equal(t, []string{"a", "b", "c"}, keys, "in key order")

		// Stopping early stops.
		n := 0
		for range g.All() {
			n++
			break
		}
		require.Equal(t, 1, n)

		// The loop body may use the group: no lock is held while it runs.
		// A key created during the loop is not yielded by it.
		keys = keys[:0]
		for k := range g.All() {
			keys = append(keys, k)
			g.Get("new-" + k)
		}
		require.Equal(t, []string{"a", "b", "c"}, keys)
		require.Equal(t, 6, g.Len())

		// Enumerating is not use: idle keys are still evicted.
		time.Sleep(50 * time.Second)
		g.Get("a")
		for range g.All() {
		}
		time.Sleep(20 * time.Second)
		g.Get("z") // sweeps keys idle for a minute
		keys = keys[:0]
		for k := range g.All() {
			keys = append(keys, k)
		}
		require.Equal(t, []string{"a", "z"}, keys)
	})
}
