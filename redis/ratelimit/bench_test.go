package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/ratelimit"
	"github.com/bulwark-go/bulwark/redis/script"
)

// BenchmarkAllow: one limit shared by parallel callers, against redis_rate
// v10 on the same server. The limit is high enough never to refuse, so
// every call is an admitted event; roundtrips/op is Redis round trips per
// admitted event. 16 goroutines per core: a server's request handlers,
// not one caller per core.
func BenchmarkAllow(b *testing.B) {
	addr := redistest.Addr(b)
	const rate = 1_000_000
	b.Run("redis_rate", func(b *testing.B) {
		rdb := goredis.NewClient(&goredis.Options{Addr: addr})
		defer rdb.Close()
		lim := redis_rate.NewLimiter(rdb)
		limit := redis_rate.Limit{Rate: rate, Period: time.Second, Burst: rate}
		key := redistest.Prefix(b) + "k"
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := lim.Allow(context.Background(), key, limit); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(1, "roundtrips/op")
	})
	for _, bc := range []struct {
		name  string
		batch int
	}{{"bulwark", 0}, {"bulwark-preadmission", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := ratelimit.New(script.Rueidis(redistest.Client(b, addr)),
				ratelimit.Config{Prefix: redistest.Prefix(b), Rate: rate, Burst: rate, Batch: bc.batch})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			bucket, _ := l.Bucket("k")
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !bucket.Allow() {
						b.Error("refused")
						return
					}
				}
			})
			b.StopTimer()
			s := l.Stats()
			b.ReportMetric(float64(s.RoundTrips)/float64(s.Admitted), "roundtrips/op")
		})
	}
}

// BenchmarkBucketAllowLeased is the pre-admission fast path alone: a store
// that grants every lease in full, so nearly every Allow is served from
// memory (0 allocations).
func BenchmarkBucketAllowLeased(b *testing.B) {
	l, err := ratelimit.New(&fakeStore{reply: []string{"1000", "0", "0", "0"}}, ratelimit.Config{Rate: 1_000_000, Burst: 1000, Batch: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	bucket, _ := l.Bucket("k")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bucket.Allow()
		}
	})
}
