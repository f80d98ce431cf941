package cache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/cache"
)

func ExampleCache_Get() {
	c, err := cache.New(cache.Config[string, int]{Capacity: 2, Shards: 1})
	if err != nil {
		panic(err)
	}
	c.Set("a", 1)
	c.Set("b", 2)
	c.Get("a")    // a is now the most recently used
	c.Set("c", 3) // evicts b, the least recently used
	_, okB := c.Get("b")
	a, okA := c.Get("a")
	fmt.Println(okB, a, okA, c.Len())
	// Output: false 1 true 2
}

func ExampleCache_GetOrLoad() {
	c, err := cache.New(cache.Config[string, string]{Capacity: 100, TTL: time.Minute})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	var calls atomic.Int32
	slowOrigin := func(ctx context.Context, key string) (string, error) {
		calls.Add(1)
		time.Sleep(10 * time.Millisecond)
		return "profile of " + key, nil
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := c.GetOrLoad(context.Background(), "user:42", slowOrigin); err != nil {
				panic(err)
			}
		})
	}
	wg.Wait()
	v, _ := c.GetOrLoad(context.Background(), "user:42", slowOrigin)
	fmt.Println(v)
	fmt.Println("origin calls:", calls.Load())
	// Output:
	// profile of user:42
	// origin calls: 1
}

// With StaleFor, a value past its TTL is still served at once while one
// background load refreshes it.
func ExampleConfig_staleWhileRevalidate() {
	c, err := cache.New(cache.Config[string, int]{
		Capacity: 100,
		TTL:      20 * time.Millisecond,
		StaleFor: time.Minute,
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	var version atomic.Int32
	load := func(ctx context.Context, key string) (int, error) {
		return int(version.Add(1)), nil
	}
	ctx := context.Background()
	v, _ := c.GetOrLoad(ctx, "config", load)
	fmt.Println("first:", v)
	time.Sleep(30 * time.Millisecond) // past the TTL
	v, _ = c.GetOrLoad(ctx, "config", load)
	fmt.Println("stale, served at once:", v)
	for v == 1 { // the refresh runs in the background
		time.Sleep(time.Millisecond)
		v, _ = c.GetOrLoad(ctx, "config", load)
	}
	fmt.Println("refreshed:", v > 1, "refreshes:", c.Stats().Refreshes > 0)
	// Output:
	// first: 1
	// stale, served at once: 1
	// refreshed: true refreshes: true
}
