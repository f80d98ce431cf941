// Package cachebench compares bulwark's cache with peer caches: Get and Set
// speed on a 10,000-entry cache read by precomputed Zipf keys, and hit ratio
// on a Zipf trace. See RESULTS.md for the commands and the figures.
package cachebench

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cache"
	"github.com/dgraph-io/ristretto/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"
)

// full selects the RESULTS.md hit-ratio trace (2,000,000 requests over
// 1,000,000 keys); the default trace is small so -benchtime=1x stays fast.
var full = flag.Bool("full", false, "hit ratio on the full 2M-request trace")

const (
	capacity = 10_000
	traceLen = 1 << 16 // Get/Set keys, indexed with a mask
)

// store is the common surface of every cache under test.
type store interface {
	Get(k uint64) (uint64, bool)
	Set(k, v uint64)
}

type bulwarkStore struct{ c *cache.Cache[uint64, uint64] }

func (s bulwarkStore) Get(k uint64) (uint64, bool) { return s.c.Get(k) }
func (s bulwarkStore) Set(k, v uint64)             { s.c.Set(k, v) }

type lruStore struct{ c *lru.Cache[uint64, uint64] }

func (s lruStore) Get(k uint64) (uint64, bool) { return s.c.Get(k) }
func (s lruStore) Set(k, v uint64)             { s.c.Add(k, v) }

type expirableStore struct {
	c *expirable.LRU[uint64, uint64]
}

func (s expirableStore) Get(k uint64) (uint64, bool) { return s.c.Get(k) }
func (s expirableStore) Set(k, v uint64)             { s.c.Add(k, v) }

type otterStore struct{ c *otter.Cache[uint64, uint64] }

func (s otterStore) Get(k uint64) (uint64, bool) { return s.c.GetIfPresent(k) }
func (s otterStore) Set(k, v uint64)             { s.c.Set(k, v) }

type ristrettoStore struct {
	c *ristretto.Cache[uint64, uint64]
}

func (s ristrettoStore) Get(k uint64) (uint64, bool) { return s.c.Get(k) }
func (s ristrettoStore) Set(k, v uint64)             { s.c.Set(k, v, 1) }

// lib builds one peer at a given capacity; close releases background
// goroutines where the peer has them.
type lib struct {
	name string
	make func(tb testing.TB, size int) store
}

var libs = []lib{
	{"bulwark", func(tb testing.TB, size int) store {
		c, err := cache.New(cache.Config[uint64, uint64]{Capacity: size})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(c.Close)
		return bulwarkStore{c}
	}},
	{"bulwark-tinylfu", func(tb testing.TB, size int) store {
		c, err := cache.New(cache.Config[uint64, uint64]{Capacity: size, Policy: cache.TinyLFU})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(c.Close)
		return bulwarkStore{c}
	}},
	{"bulwark-ttl", func(tb testing.TB, size int) store {
		c, err := cache.New(cache.Config[uint64, uint64]{Capacity: size, TTL: time.Hour})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(c.Close)
		return bulwarkStore{c}
	}},
	{"golang-lru", func(tb testing.TB, size int) store {
		c, err := lru.New[uint64, uint64](size)
		if err != nil {
			tb.Fatal(err)
		}
		return lruStore{c}
	}},
	{"golang-lru-expirable", func(tb testing.TB, size int) store {
		// Its janitor goroutine cannot be stopped; an hour TTL keeps it idle.
		return expirableStore{expirable.NewLRU[uint64, uint64](size, nil, time.Hour)}
	}},
	{"otter", func(tb testing.TB, size int) store {
		return otterStore{otter.Must(&otter.Options[uint64, uint64]{MaximumSize: size})}
	}},
	{"otter-sync", func(tb testing.TB, size int) store {
		// Maintenance (eviction) on the calling goroutine, as each of the
		// other caches evicts within Set: the default runs it on another
		// goroutine, and a replay loop outruns it, so the cache holds more
		// than MaximumSize entries meanwhile.
		return otterStore{otter.Must(&otter.Options[uint64, uint64]{MaximumSize: size, Executor: func(fn func()) { fn() }})}
	}},
	{"ristretto", func(tb testing.TB, size int) store {
		c, err := ristretto.NewCache(&ristretto.Config[uint64, uint64]{
			NumCounters: int64(10 * size), MaxCost: int64(size), BufferItems: 64,
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(c.Close)
		return ristrettoStore{c}
	}},
}

// zipf returns n keys drawn from Zipf(s=1.01) over universe keys (rand.Zipf
// needs s > 1), seeded so every run and every library sees the same trace.
func zipf(seed uint64, n, universe int) []uint64 {
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, seed)), 1.01, 1, uint64(universe-1))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = z.Uint64()
	}
	return keys
}

var (
	keysOnce sync.Once
	keys     []uint64
)

func benchKeys() []uint64 {
	keysOnce.Do(func() { keys = zipf(1, traceLen, capacity) })
	return keys
}

// filled returns the library's cache holding every key of the key space,
// settled so that admission buffers (ristretto) are drained.
func filled(b *testing.B, l lib) store {
	s := l.make(b, capacity)
	// Insert in trace order twice so that frequency-based admission
	// (otter, ristretto) keeps the hot keys, as it would in service.
	for range 2 {
		for _, k := range benchKeys() {
			s.Set(k, k)
		}
	}
	if r, ok := s.(ristrettoStore); ok {
		r.c.Wait()
	}
	return s
}

func BenchmarkCacheGet(b *testing.B) {
	for _, l := range libs {
		b.Run(l.name, func(b *testing.B) {
			s := filled(b, l)
			keys := benchKeys()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(traceLen)
				for pb.Next() {
					s.Get(keys[i&(traceLen-1)])
					i++
				}
			})
		})
	}
}

func BenchmarkCacheSet(b *testing.B) {
	for _, l := range libs {
		b.Run(l.name, func(b *testing.B) {
			s := filled(b, l)
			keys := benchKeys()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(traceLen)
				for pb.Next() {
					k := keys[i&(traceLen-1)]
					s.Set(k, k)
					i++
				}
			})
		})
	}
}

var (
	traceOnce sync.Once
	trace     []uint64
)

// hitTrace is 200,000 requests over 100,000 keys by default, and the
// RESULTS.md trace (2,000,000 over 1,000,000) with -full.
func hitTrace() []uint64 {
	traceOnce.Do(func() {
		if *full {
			trace = zipf(2, 2_000_000, 1_000_000)
		} else {
			trace = zipf(2, 200_000, 100_000)
		}
	})
	return trace
}

// BenchmarkHitRatio replays the Zipf trace (Get, and Set on a miss) and
// reports the hit ratio in percent; sizes are 1% and 10% of the key space.
func BenchmarkHitRatio(b *testing.B) {
	t := hitTrace()
	universe := 100_000
	if *full {
		universe = 1_000_000
	}
	for _, size := range []int{universe / 100, universe / 10} {
		for _, l := range libs {
			if l.name == "bulwark-ttl" || l.name == "bulwark-tinylfu" || l.name == "otter-sync" {
				continue // BenchmarkTrace compares the policies
			}
			b.Run(fmt.Sprintf("size=%d/%s", size, l.name), func(b *testing.B) {
				var ratio float64
				for b.Loop() {
					ratio = replay(b, l, size, t)
				}
				b.ReportMetric(100*ratio, "hit%")
			})
		}
	}
}

func replay(b *testing.B, l lib, size int, t []uint64) float64 {
	s := l.make(b, size)
	hits := 0
	for _, k := range t {
		if _, ok := s.Get(k); ok {
			hits++
		} else {
			s.Set(k, k)
		}
	}
	return float64(hits) / float64(len(t))
}

// ratioLibs are the libraries the interleaved benchmarks compare; ratios
// are bulwark's time over each peer's.
var ratioLibs = []string{"bulwark", "golang-lru", "otter"}

// BenchmarkCacheGetRatio and BenchmarkCacheSetRatio measure the same
// operations as CacheGet and CacheSet, but interleaved: each b.Loop
// iteration is one round that runs a short batch (GOMAXPROCS goroutines,
// 4,096 operations each) on every library in turn. On a machine shared with
// other jobs a load burst then hits all libraries alike, instead of the
// few consecutive runs of one library, so per-round ratios are far steadier
// than ratios of separate benchmarks. Reported: the median per-round time
// per operation of each library (<lib>-ns/op) and the median per-round ratio
// (bulwark÷<peer>). The benchmark's own sec/op is the time of a round, and
// its allocations are the batch goroutines', so neither is reported.
func BenchmarkCacheGetRatio(b *testing.B) { ratioBench(b, false) }

func BenchmarkCacheSetRatio(b *testing.B) { ratioBench(b, true) }

func ratioBench(b *testing.B, set bool) {
	const batch = 4096
	procs := runtime.GOMAXPROCS(0)
	keys := benchKeys()
	stores := make([]store, len(ratioLibs))
	for i, name := range ratioLibs {
		for _, l := range libs {
			if l.name == name {
				stores[i] = filled(b, l)
			}
		}
	}
	times := make([][]float64, len(stores))
	b.ResetTimer()
	round := 0
	for b.Loop() {
		for i, s := range stores {
			var wg sync.WaitGroup
			start := time.Now()
			for g := range procs {
				wg.Go(func() {
					k := (round*7919 + g*4099) & (traceLen - 1)
					for range batch {
						key := keys[k&(traceLen-1)]
						if set {
							s.Set(key, key)
						} else {
							s.Get(key)
						}
						k++
					}
				})
			}
			wg.Wait()
			times[i] = append(times[i], float64(time.Since(start).Nanoseconds())/float64(batch*procs))
		}
		round++
	}
	for i, name := range ratioLibs {
		b.ReportMetric(median(times[i]), name+"-ns/op")
		if i == 0 {
			continue
		}
		ratios := make([]float64, len(times[0]))
		for r := range ratios {
			ratios[r] = times[0][r] / times[i][r]
		}
		b.ReportMetric(median(ratios), "bulwark÷"+name)
	}
}

func median(x []float64) float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	return x[len(x)/2]
}
