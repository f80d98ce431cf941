package cachebench

import (
	"container/heap"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/bench/internal/svg"
)

// plot, if set, is where TestHitRatioPlot writes the SVG plot of hit ratio
// against capacity for every trace, e.g. -plot=../results/cache-hitratio.svg.
var plot = flag.String("plot", "", "write the hit-ratio SVG plot to this file")

// traceLibs are the caches the hit-ratio traces compare; "belady" is the
// offline optimum, computed from the whole trace.
var traceLibs = []string{"bulwark", "bulwark-tinylfu", "golang-lru", "otter", "otter-sync", "ristretto", "belady"}

// traceKind builds a request sequence for a cache of the given capacity.
type traceKind struct {
	name string
	doc  string
	make func(capacity int) []uint64
}

// requests returns the trace length for a capacity: 20 requests per
// entry, at least 200,000 (2,000,000 with -full).
func requests(capacity int) int {
	if *full {
		return max(2_000_000, 20*capacity)
	}
	return max(200_000, 20*capacity)
}

// zipfS draws n keys from Zipf(s) over universe keys, offset by base.
func zipfS(seed uint64, s float64, n, universe int, base uint64) []uint64 {
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, seed^0xabc)), s, 1, uint64(universe-1))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = base + z.Uint64()
	}
	return keys
}

var traceKinds = []traceKind{
	{"zipf", "Zipf s=1.01 over 100× capacity keys (1,000,000 with -full)", func(capacity int) []uint64 {
		universe := 100 * capacity
		if *full {
			universe = 1_000_000
		}
		return zipfS(2, 1.01, requests(capacity), universe, 0)
	}},
	{"scan", "Zipf s=1.01 over 100× capacity keys, with a sequential scan of 2× capacity new keys every 10× capacity requests", func(capacity int) []uint64 {
		t := zipfS(3, 1.01, requests(capacity), 100*capacity, 0)
		next := uint64(1 << 40)
		for i := 10 * capacity; i+2*capacity < len(t); i += 12 * capacity {
			for j := range 2 * capacity {
				t[i+j] = next
				next++
			}
		}
		return t
	}},
	{"loop", "a loop over 1.5× capacity keys, repeated", func(capacity int) []uint64 {
		t := make([]uint64, requests(capacity))
		for i := range t {
			t[i] = uint64(i % (3 * capacity / 2))
		}
		return t
	}},
	{"shift", "Zipf s=1.01 over 10× capacity keys whose hot set moves to new keys every 10× capacity requests", func(capacity int) []uint64 {
		t := zipfS(4, 1.01, requests(capacity), 10*capacity, 0)
		for i := range t {
			t[i] += uint64(i/(10*capacity)) * uint64(10*capacity)
		}
		return t
	}},
}

// traceCapacities are the capacities of the traces' benchmarks and plot.
func traceCapacities() []int {
	if *full {
		return []int{1_000, 3_000, 10_000, 30_000, 100_000}
	}
	return []int{1_000, 10_000}
}

var (
	tracesMu sync.Mutex
	traces   = map[string][]uint64{}
)

func cachedTrace(k traceKind, capacity int) []uint64 {
	tracesMu.Lock()
	defer tracesMu.Unlock()
	key := fmt.Sprint(k.name, capacity)
	if t, ok := traces[key]; ok {
		return t
	}
	t := k.make(capacity)
	traces[key] = t
	return t
}

func libNamed(name string) lib {
	for _, l := range libs {
		if l.name == name {
			return l
		}
	}
	panic("no library " + name)
}

// hitRatio replays t on the named cache (Get, and Set on a miss).
func hitRatio(tb testing.TB, name string, capacity int, t []uint64) float64 {
	if name == "belady" {
		return belady(t, capacity)
	}
	s := libNamed(name).make(tb, capacity)
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

// BenchmarkTrace reports the hit ratio (percent) of every cache on every
// trace at every capacity: BenchmarkTrace/zipf/capacity=10000/otter. The
// figures depend only on the trace, not on the machine's load.
func BenchmarkTrace(b *testing.B) {
	for _, k := range traceKinds {
		for _, capacity := range traceCapacities() {
			t := cachedTrace(k, capacity)
			for _, name := range traceLibs {
				b.Run(fmt.Sprintf("%s/capacity=%d/%s", k.name, capacity, name), func(b *testing.B) {
					var ratio float64
					for b.Loop() {
						ratio = hitRatio(b, name, capacity, t)
					}
					b.ReportMetric(100*ratio, "hit%")
				})
			}
		}
	}
}

// TestHitRatioPlot writes the SVG plot of hit ratio against capacity, one
// panel per trace, when -plot names a file (with -full for the published
// sweep of five capacities).
func TestHitRatioPlot(t *testing.T) {
	if *plot == "" {
		t.Skip("no -plot file given")
	}
	var plots []svg.Plot
	for _, k := range traceKinds {
		p := svg.Plot{Title: k.name, XLabel: "capacity (entries)", YLabel: "hit ratio (%)", LogX: true, YMin: 0, YMax: 100}
		for _, name := range traceLibs {
			s := svg.Series{Name: name, Dashed: name == "belady"}
			for _, capacity := range traceCapacities() {
				s.Points = append(s.Points, svg.Point{X: float64(capacity), Y: 100 * hitRatio(t, name, capacity, cachedTrace(k, capacity))})
			}
			t.Logf("%s %s %v", k.name, name, s.Points)
			p.Series = append(p.Series, s)
		}
		plots = append(plots, p)
	}
	if err := os.MkdirAll(filepath.Dir(*plot), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(*plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := svg.Grid(f, 2, plots...); err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, k := range traceKinds {
		docs = append(docs, k.name+": "+k.doc)
	}
	t.Logf("wrote %s\n%s", *plot, strings.Join(docs, "\n"))
}

// belady returns the hit ratio of Belady's MIN (the offline optimum:
// evict the entry whose next request is farthest away; Belady, "A study of
// replacement algorithms for a virtual-storage computer", IBM Systems
// Journal 5(2), 1966) with the given capacity on t.
func belady(t []uint64, capacity int) float64 {
	next := make([]int, len(t)) // index of the next request of t[i], or len(t)
	last := make(map[uint64]int, capacity)
	for i := len(t) - 1; i >= 0; i-- {
		if j, ok := last[t[i]]; ok {
			next[i] = j
		} else {
			next[i] = len(t)
		}
		last[t[i]] = i
	}
	resident := make(map[uint64]int, capacity) // key -> its next request
	h := &farthest{}
	hits := 0
	for i, k := range t {
		if _, ok := resident[k]; ok {
			hits++
		} else if len(resident) >= capacity {
			for {
				top := heap.Pop(h).(use)
				if n, ok := resident[top.key]; ok && n == top.next {
					delete(resident, top.key)
					break
				}
			}
		}
		resident[k] = next[i]
		heap.Push(h, use{key: k, next: next[i]})
	}
	return float64(hits) / float64(len(t))
}

type use struct {
	key  uint64
	next int
}

// farthest is a max-heap of uses by next request; stale uses (the key was
// requested again since) are skipped when popped.
type farthest []use

func (h farthest) Len() int           { return len(h) }
func (h farthest) Less(i, j int) bool { return h[i].next > h[j].next }
func (h farthest) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *farthest) Push(x any)        { *h = append(*h, x.(use)) }
func (h *farthest) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// irmOptimum returns the hit ratio on t of A0, the best online policy for
// independent references (Aho, Denning, Ullman, "Principles of Optimal Page
// Replacement", Journal of the ACM 18(1), 1971): it keeps the capacity
// most probable keys, so every request of one of them hits but its first.
// On the zipf and scan traces keys 0, 1, 2, … are the Zipf ranks, most
// probable first, and scan keys are never requested twice; no policy that
// does not see the future has a higher expected hit ratio there. It is not
// defined for the loop and shift traces, whose requests are not
// independent draws from one distribution.
func irmOptimum(t []uint64, capacity int) float64 {
	seen := make(map[uint64]bool, capacity)
	hits := 0
	for _, k := range t {
		if k >= uint64(capacity) {
			continue
		}
		if seen[k] {
			hits++
		}
		seen[k] = true
	}
	return float64(hits) / float64(len(t))
}

// BenchmarkTraceIRMOptimum reports irmOptimum for the zipf and scan traces
// at every capacity, beside BenchmarkTrace's caches and Belady:
// BenchmarkTraceIRMOptimum/scan/capacity=10000.
func BenchmarkTraceIRMOptimum(b *testing.B) {
	for _, k := range traceKinds {
		if k.name != "zipf" && k.name != "scan" {
			continue
		}
		for _, capacity := range traceCapacities() {
			t := cachedTrace(k, capacity)
			b.Run(fmt.Sprintf("%s/capacity=%d", k.name, capacity), func(b *testing.B) {
				var ratio float64
				for b.Loop() {
					ratio = irmOptimum(t, capacity)
				}
				b.ReportMetric(100*ratio, "hit%")
			})
		}
	}
}

// A0 hits every request of its capacity lowest keys but the first.
func TestIRMOptimumKnownAnswer(t *testing.T) {
	ref := []uint64{0, 1, 0, 5, 1, 0, 1 << 40, 2}
	if got, want := irmOptimum(ref, 2), 3.0/8; got != want {
		t.Fatalf("A0 hit ratio %v, want %v", got, want)
	}
}

// The textbook reference string (Silberschatz et al., Operating System
// Concepts, page replacement) has 9 faults under OPT with 3 frames.
func TestBeladyKnownAnswer(t *testing.T) {
	ref := []uint64{7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1}
	if got, want := belady(ref, 3), float64(len(ref)-9)/float64(len(ref)); got != want {
		t.Fatalf("OPT hit ratio %v, want %v (9 faults)", got, want)
	}
}

// No cache holding at most capacity entries beats the offline optimum on
// any trace. otter (default Executor) is left out: it evicts on another
// goroutine, so during a replay it holds more than its maximum, and on the
// loop trace it scores above the optimum; otter-sync evicts in Set.
func TestBeladyBoundsEveryCache(t *testing.T) {
	const capacity = 500
	for _, k := range traceKinds {
		tr := k.make(capacity)[:50_000]
		opt := belady(tr, capacity)
		for _, name := range traceLibs[:len(traceLibs)-1] {
			if name == "otter" {
				continue
			}
			if r := hitRatio(t, name, capacity, tr); r > opt {
				t.Errorf("%s: %s hit ratio %.4f above the optimum %.4f", k.name, name, r, opt)
			}
		}
	}
}

// The loop trace is LRU's worst case: a cyclic scan over more keys than it
// holds never hits.
func TestLoopTraceDefeatsLRU(t *testing.T) {
	tr := traceKinds[slices.IndexFunc(traceKinds, func(k traceKind) bool { return k.name == "loop" })].make(1000)
	if r := hitRatio(t, "golang-lru", 1000, tr); r != 0 {
		t.Fatalf("LRU on a loop of 1.5× capacity: hit ratio %v, want 0", r)
	}
}

// skewedKeys is the contention benchmarks' key sequence: Zipf s=1.1 over
// 4× capacity keys.
var skewedKeys = sync.OnceValue(func() []uint64 { return zipfS(5, 1.1, traceLen, 4*capacity, 0) })

// contended are the caches of the skewed-key contention benchmarks.
var contended = []string{"bulwark", "bulwark-tinylfu", "otter", "golang-lru"}

// warmed returns the named cache after one pass of the skewed keys (Get,
// and Set on a miss), so the popular keys are cached as in service.
func warmed(b *testing.B, name string) store {
	s := libNamed(name).make(b, capacity)
	for range 2 {
		for _, k := range skewedKeys() {
			if _, ok := s.Get(k); !ok {
				s.Set(k, k)
			}
		}
	}
	if r, ok := s.(ristrettoStore); ok {
		r.c.Wait()
	}
	return s
}

// BenchmarkSkewedGet: parallel Gets of Zipf s=1.1 keys over 4× capacity
// (capacity 10,000); run with -cpu=1,2. Reports the hit ratio seen.
func BenchmarkSkewedGet(b *testing.B) {
	for _, name := range contended {
		b.Run(name, func(b *testing.B) {
			s := warmed(b, name)
			keys := skewedKeys()
			var mu sync.Mutex
			hits, total := 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(traceLen)
				h, n := 0, 0
				for pb.Next() {
					if _, ok := s.Get(keys[i&(traceLen-1)]); ok {
						h++
					}
					n++
					i++
				}
				mu.Lock()
				hits, total = hits+h, total+n
				mu.Unlock()
			})
			b.ReportMetric(100*float64(hits)/float64(max(total, 1)), "hit%")
		})
	}
}

// BenchmarkSkewedSet: parallel Sets of the same keys, mostly of keys the
// cache holds (updates), the rest inserting and evicting.
func BenchmarkSkewedSet(b *testing.B) {
	for _, name := range contended {
		b.Run(name, func(b *testing.B) {
			s := warmed(b, name)
			keys := skewedKeys()
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

// BenchmarkSetExisting: parallel Sets of keys the cache holds (updates
// only), Zipf s=1.1 over the capacity's keys.
func BenchmarkSetExisting(b *testing.B) {
	keys := zipfS(6, 1.1, traceLen, capacity, 0)
	for _, name := range contended {
		b.Run(name, func(b *testing.B) {
			s := libNamed(name).make(b, 2*capacity)
			for k := range uint64(capacity) {
				s.Set(k, k)
			}
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
