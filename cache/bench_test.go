package cache

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

const benchKeys = 10_000

var (
	benchTraceOnce sync.Once
	benchTrace     []uint64
)

// zipfKeys returns a precomputed Zipf trace over benchKeys keys, shared by
// all benchmarks so setup stays cheap.
func zipfKeys() []uint64 {
	benchTraceOnce.Do(func() { benchTrace = zipfTrace(11, 1<<16, benchKeys) })
	return benchTrace
}

func filled(b *testing.B, cfg Config[uint64, uint64]) *Cache[uint64, uint64] {
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for k := range uint64(benchKeys) {
		c.Set(k, k)
	}
	b.Cleanup(c.Close)
	return c
}

func BenchmarkGetHit(b *testing.B) {
	for _, shards := range []int{1, 0} {
		name := fmt.Sprintf("shards=%d", shards)
		keys := zipfKeys()
		b.Run(name, func(b *testing.B) {
			c := filled(b, Config[uint64, uint64]{Capacity: benchKeys, Shards: shards})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.Get(keys[i&(len(keys)-1)])
				i++
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			c := filled(b, Config[uint64, uint64]{Capacity: benchKeys, Shards: shards})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					c.Get(keys[i&(len(keys)-1)])
					i++
				}
			})
		})
	}
}

func BenchmarkGetHitTTL(b *testing.B) {
	keys := zipfKeys()
	c := filled(b, Config[uint64, uint64]{Capacity: benchKeys, TTL: 1 << 40})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Get(keys[i&(len(keys)-1)])
		i++
	}
}

func BenchmarkGetOrLoadHit(b *testing.B) {
	keys := zipfKeys()
	c := filled(b, Config[uint64, uint64]{Capacity: benchKeys})
	ctx := context.Background()
	load := func(ctx context.Context, k uint64) (uint64, error) { return k, nil }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.GetOrLoad(ctx, keys[i&(len(keys)-1)], load)
		i++
	}
}

func BenchmarkSetUpdate(b *testing.B) {
	keys := zipfKeys()
	c := filled(b, Config[uint64, uint64]{Capacity: benchKeys})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Set(keys[i&(len(keys)-1)], uint64(i))
		i++
	}
}

// BenchmarkObserved: the hot paths with an observer set (one that only
// counts), to compare with GetHit/shards=0 and SetUpdate.
func BenchmarkObserved(b *testing.B) {
	keys := zipfKeys()
	var events int
	cfg := Config[uint64, uint64]{Capacity: benchKeys, Observer: func(Event[uint64]) { events++ }}
	b.Run("GetHit", func(b *testing.B) {
		c := filled(b, cfg)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Get(keys[i&(len(keys)-1)])
			i++
		}
	})
	b.Run("SetUpdate", func(b *testing.B) {
		c := filled(b, cfg)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Set(keys[i&(len(keys)-1)], uint64(i))
			i++
		}
	})
}

func BenchmarkSetInsertEvict(b *testing.B) {
	c := filled(b, Config[uint64, uint64]{Capacity: benchKeys})
	b.ReportAllocs()
	k := uint64(benchKeys)
	for b.Loop() {
		c.Set(k, k)
		k++
	}
}

// BenchmarkSetInsertEvictTinyLFU is SetInsertEvict under TinyLFU, whose
// insertions also drive the window climber.
func BenchmarkSetInsertEvictTinyLFU(b *testing.B) {
	c := filled(b, Config[uint64, uint64]{Capacity: benchKeys, Policy: TinyLFU})
	b.ReportAllocs()
	k := uint64(benchKeys)
	for b.Loop() {
		c.Set(k, k)
		k++
	}
}

// BenchmarkGetOrLoadStampede: 100 goroutines miss the same key at once; one
// loads. Reports loads per round (1 is the goal).
func BenchmarkGetOrLoadStampede(b *testing.B) {
	c, err := New(Config[uint64, uint64]{Capacity: benchKeys})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var loads int
	load := func(ctx context.Context, k uint64) (uint64, error) { loads++; return k, nil }
	b.ReportAllocs()
	rounds := 0
	for b.Loop() {
		c.Delete(1)
		var start, wg sync.WaitGroup
		start.Add(1)
		for range 100 {
			wg.Go(func() { start.Wait(); c.GetOrLoad(ctx, 1, load) })
		}
		start.Done()
		wg.Wait()
		rounds++
	}
	b.ReportMetric(float64(loads)/float64(rounds), "loads/round")
}

// BenchmarkHitRatio reports the Zipf hit ratio of auto shards and of one
// exact LRU, both at capacity 1,000 over the 10,000-key trace.
func BenchmarkHitRatio(b *testing.B) {
	keys := zipfKeys()
	for _, shards := range []int{1, 0} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			var ratio float64
			for b.Loop() {
				c, _ := New(Config[uint64, uint64]{Capacity: 1000, Shards: shards})
				for _, k := range keys {
					if _, ok := c.Get(k); !ok {
						c.Set(k, k)
					}
				}
				ratio = c.Stats().HitRatio()
			}
			b.ReportMetric(100*ratio, "hit%")
		})
	}
}
