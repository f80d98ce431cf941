package cache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
// background load refreshes it.
func ExampleConfig_staleWhileRevalidate() {
	refreshed := make(chan struct{}, 1)
	c, err := cache.New(cache.Config[string, int]{
		Capacity: 100,
		TTL:      time.Millisecond,
		StaleFor: time.Hour,
		OnEvict: func(key string, old int, reason cache.EvictReason) {
			if reason == cache.EvictReplaced {
				refreshed <- struct{}{} // the refresh stored its value
			}
		},
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
	fmt.Println("loaded:", v)
	for c.Contains("config") {
		runtime.Gosched() // until the millisecond TTL has passed
	}
	v, _ = c.GetOrLoad(ctx, "config", load) // stale: served at once, refresh starts
	fmt.Println("stale, served at once:", v)
	<-refreshed
	fmt.Println("after the refresh:", version.Load())
	// Output:
	// loaded: 1
	// stale, served at once: 1
	// after the refresh: 2
}

// With ErrorTTL a failing origin is asked once per ErrorTTL, not once per
// request: the error is cached like a value.
func ExampleConfig_errorTTL() {
	c, err := cache.New(cache.Config[string, string]{Capacity: 100, ErrorTTL: time.Minute})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	calls := 0
	down := errors.New("origin down")
	load := func(ctx context.Context, key string) (string, error) {
		calls++
		return "", down
	}
	for range 3 {
		_, err := c.GetOrLoad(context.Background(), "user:7", load)
		fmt.Println(err, errors.Is(err, down))
	}
	fmt.Println("origin calls:", calls)
	// Output:
	// origin down true
	// origin down true
	// origin down true
	// origin calls: 1
}

// TinyLFU keeps the frequently requested keys when a scan of one-off keys
// passes through, where LRU would let the scan push them out.
func ExampleConfig_policy() {
	for _, p := range []cache.Policy{cache.LRU, cache.TinyLFU} {
		c, err := cache.New(cache.Config[int, int]{Capacity: 100, Shards: 1, Policy: p})
		if err != nil {
			panic(err)
		}
		for range 3 { // 50 popular keys, requested repeatedly
			for k := range 50 {
				if _, ok := c.Get(k); !ok {
					c.Set(k, k)
				}
			}
		}
		for k := 1000; k < 1200; k++ { // a scan of 200 one-off keys
			if _, ok := c.Get(k); !ok {
				c.Set(k, k)
			}
		}
		kept := 0
		for k := range 50 {
			if c.Contains(k) {
				kept++
			}
		}
		fmt.Printf("%v kept %d of 50 popular keys\n", p, kept)
	}
	// Output:
	// LRU kept 0 of 50 popular keys
	// TinyLFU kept 50 of 50 popular keys
}

func ExampleCache_GetOrLoadMany() {
	c, err := cache.New(cache.Config[int, string]{Capacity: 100})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Set(1, "one")
	origin := map[int]string{2: "two", 3: "three"}
	loadMany := func(ctx context.Context, keys []int) (map[int]string, error) {
		fmt.Println("origin asked for", len(keys), "keys") // 2, 3 and 4, in one call
		found := map[int]string{}
		for _, k := range keys {
			if v, ok := origin[k]; ok {
				found[k] = v
			}
		}
		return found, nil
	}
	m, err := c.GetOrLoadMany(context.Background(), []int{1, 2, 3, 4}, loadMany)
	fmt.Println(m, err)
	// Output:
	// origin asked for 3 keys
	// map[1:one 2:two 3:three] <nil>
}

func ExampleCache_All() {
	c, err := cache.New(cache.Config[string, int]{Capacity: 10})
	if err != nil {
		panic(err)
	}
	c.Set("a", 1)
	c.Set("b", 2)
	total := 0
	for _, v := range c.All() {
		total += v
	}
	fmt.Println(total)
	// Output: 3
}
