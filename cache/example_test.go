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
		calls.Add(1) // however the 100 callers interleave, this runs once
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
// background load refreshes it. (TestStaleWhileRevalidate runs this sequence
// on testing/synctest's fake clock; an example cannot, so it has no Output
// check and is only compiled.)
func ExampleConfig_staleWhileRevalidate() {
	c, err := cache.New(cache.Config[string, int]{
		Capacity: 100,
		TTL:      time.Minute,
		StaleFor: 10 * time.Second,
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
	fmt.Println("first:", v) // 1
	// ... more than a minute later, within the next 10 s: the stale value
	// comes back at once and one background load fetches version 2.
	v, _ = c.GetOrLoad(ctx, "config", load)
	fmt.Println("served at once:", v)
}
