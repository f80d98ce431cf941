package redis_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/cache"
	"github.com/bulwark-go/bulwark/redis"
)

// BenchmarkL1Hit compares a two-level hit in L1 with the root cache's Get
// hit: the fleet tier adds a branch and nothing else. No server is needed.
func BenchmarkL1Hit(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	b.Run("cache", func(b *testing.B) {
		c, err := cache.New(cache.Config[string, string]{Capacity: 4096, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for _, k := range keys {
			c.Set(k, k)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, ok := c.Get(keys[i&1023]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
	})
	b.Run("redis", func(b *testing.B) {
		c, err := redis.New(&fakeStore{}, redis.Config[string]{Prefix: "bench:", Codec: redis.String{},
			L1: cache.Config[string, string]{Capacity: 4096, TTL: time.Hour}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		load := func(_ context.Context, k string) (string, error) { return k, nil }
		for _, k := range keys {
			if _, err := c.GetOrLoad(ctx, k, load); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := c.GetOrLoad(ctx, keys[i&1023], load); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkL2Hit reads a value that is in Redis and not in L1: the
// two-level cache (L1 of one entry, two keys read in turn, so every read
// misses L1), rueidis's own client-side cache (DoCache, a local hit after
// the first read) and a plain GET round trip.
func BenchmarkL2Hit(b *testing.B) {
	addr := env(b, "BULWARK_REDIS_ADDR")
	ctx := context.Background()
	pfx := prefix(b)
	b.Run("bulwark", func(b *testing.B) {
		in := newInstance(b, []string{addr}, pfx, redis.Config[string]{L1: cache.Config[string, string]{Capacity: 1, Shards: 1}})
		for _, k := range []string{"a", "b"} {
			if err := in.Set(ctx, k, "value"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := in.GetOrLoad(ctx, [2]string{"a", "b"}[i&1], nil2); err != nil {
				b.Fatal(err)
			}
		}
	})
	c := newBenchClient(b, addr, false)
	key := pfx + "{plain}"
	if err := c.Do(ctx, c.B().Set().Key(key).Value("value").Build()).Error(); err != nil {
		b.Fatal(err)
	}
	b.Run("rueidis-DoCache", func(b *testing.B) {
		cc := newBenchClient(b, addr, true)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := cc.DoCache(ctx, cc.B().Get().Key(key).Cache(), time.Minute).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GET", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := c.Do(ctx, c.B().Get().Key(key).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func newBenchClient(b *testing.B, addr string, cached bool) rueidis.Client {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: !cached})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkStampede: 1,000 concurrent misses of one cold key spread over 8
// instances, each with its own client; loads/op is the number of origin
// loads. "bulwark" is the two-level cache (1); "cache-aside" is each
// instance's cache.Cache (its own singleflight) in front of Redis GET,
// origin, SET (one load per instance that misses before the first SET).
func BenchmarkStampede(b *testing.B) {
	addr := env(b, "BULWARK_REDIS_ADDR")
	const instances, callers = 8, 1000
	origin := func(loads *atomic.Int64) func(context.Context, string) (string, error) {
		return func(_ context.Context, k string) (string, error) {
			loads.Add(1)
			time.Sleep(2 * time.Millisecond) // the origin's latency
			return "value of " + k, nil
		}
	}
	run := func(b *testing.B, get []func(ctx context.Context, key string, load func(context.Context, string) (string, error)) (string, error)) {
		var loads atomic.Int64
		load := origin(&loads)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			key := "cold-" + strconv.Itoa(i)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for j := range callers {
				wg.Go(func() {
					<-start
					if _, err := get[j%instances](context.Background(), key, load); err != nil {
						b.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
		}
		b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
	}
	b.Run("bulwark", func(b *testing.B) {
		ins := fleet(b, instances, []string{addr}, redis.Config[string]{})
		get := make([]func(context.Context, string, func(context.Context, string) (string, error)) (string, error), instances)
		for i, in := range ins {
			get[i] = in.GetOrLoad
		}
		run(b, get)
	})
	b.Run("cache-aside", func(b *testing.B) {
		pfx := prefix(b)
		get := make([]func(context.Context, string, func(context.Context, string) (string, error)) (string, error), instances)
		for i := range get {
			c := newBenchClient(b, addr, false)
			l1, err := cache.New(cache.Config[string, string]{Capacity: 1 << 16})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(l1.Close)
			get[i] = func(ctx context.Context, key string, load func(context.Context, string) (string, error)) (string, error) {
				return l1.GetOrLoad(ctx, key, func(ctx context.Context, k string) (string, error) {
					v, err := c.Do(ctx, c.B().Get().Key(pfx+k).Build()).ToString()
					if err == nil {
						return v, nil
					}
					if v, err = load(ctx, k); err != nil {
						return v, err
					}
					return v, c.Do(ctx, c.B().Set().Key(pfx+k).Value(v).Build()).Error()
				})
			}
		}
		run(b, get)
	})
}
