package cache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refTinyLFU is the reference for the TinyLFU differential test: the same
// W-TinyLFU with second-chance segments, written with slices (front =
// index 0) and maps, sharing only the sketch (tested on its own below).
type refTinyLFU struct {
	cap, windowCap, protCap int
	sk                      *sketch
	// The window climber, driven as the cache drives it: every climbCheck
	// insertions it looks at the lookups counted since its last sample.
	hill                            hill
	hits, misses, lastReq, lastHits int64
	inserts                         int
	windows                         map[int]bool // window sizes used
	started                         bool
	hash                            func(int) uint64
	queues                          [3][]int // window, probation, protected
	where                           map[int]int
	ref                             map[int]uint32
	vals                            map[int]int
	evs                             []event
}

func newRefTinyLFU(capacity int, hash func(int) uint64) *refTinyLFU {
	r := &refTinyLFU{cap: capacity, hill: newHill(),
		sk: newSketch(capacity), hash: hash, where: map[int]int{}, ref: map[int]uint32{}, vals: map[int]int{}}
	r.resize()
	return r
}

// resize sizes the segments by the climber's share, as shard.setWindow.
func (r *refTinyLFU) resize() {
	r.windowCap = min(max(1, int(r.hill.share*float64(r.cap)+0.5)), max(1, r.cap-1))
	r.protCap = (r.cap - r.windowCap) * 8 / 10
	if r.windows == nil {
		r.windows = map[int]bool{}
	}
	r.windows[r.windowCap] = true
}

// inserted counts an insertion and, every climbCheck of them, completes a
// sample if enough lookups were counted, as climber.check.
func (r *refTinyLFU) inserted() {
	if r.inserts++; r.inserts < climbCheck {
		return
	}
	r.inserts = 0
	if len(r.vals) <= r.cap {
		return
	}
	req := r.hits + r.misses
	if !r.started {
		r.started = true
		r.lastReq, r.lastHits = req, r.hits
		return
	}
	if n := req - r.lastReq; n >= climbSample*int64(r.cap) && n > 0 {
		r.hill.next(float64(r.hits-r.lastHits)/float64(n), n)
		r.lastReq, r.lastHits = req, r.hits
	}
}

func (r *refTinyLFU) drop(q, k int) {
	i := slices.Index(r.queues[q], k)
	r.queues[q] = slices.Delete(r.queues[q], i, i+1)
}

func (r *refTinyLFU) push(q, k int) {
	r.queues[q] = slices.Insert(r.queues[q], 0, k)
	r.where[k] = q
}

func (r *refTinyLFU) back(q int) int { return r.queues[q][len(r.queues[q])-1] }

func (r *refTinyLFU) evict(k int) {
	r.drop(r.where[k], k)
	r.evs = append(r.evs, event{k, r.vals[k], EvictCapacity})
	delete(r.where, k)
	delete(r.ref, k)
	delete(r.vals, k)
}

func (r *refTinyLFU) get(k int) (int, bool) {
	v, ok := r.vals[k]
	if ok && r.ref[k] < 15 {
		r.ref[k]++
	}
	if ok {
		r.hits++
	} else {
		r.misses++
	}
	return v, ok
}

func (r *refTinyLFU) promote(k int) {
	r.drop(1, k)
	r.push(2, k)
	for len(r.queues[2]) > r.protCap && len(r.queues[2]) > 1 {
		d := r.back(2)
		r.drop(2, d)
		r.push(1, d)
	}
}

// clock is shard.clock: the tail after second chances.
func (r *refTinyLFU) clock(q int) int {
	for {
		t := r.back(q)
		if r.ref[t] == 0 {
			return t
		}
		r.sk.add(r.hash(t), r.ref[t])
		r.ref[t] = 0
		r.drop(q, t)
		r.push(q, t)
	}
}

func (r *refTinyLFU) victim(skip int, skipping bool) (int, bool) {
	for len(r.queues[1]) > 0 {
		t := r.back(1)
		if skipping && t == skip {
			break
		}
		if r.ref[t] == 0 {
			return t, true
		}
		r.sk.add(r.hash(t), r.ref[t])
		r.ref[t] = 0
		r.promote(t)
	}
	if len(r.queues[2]) > 0 {
		return r.back(2), true
	}
	return 0, false
}

func (r *refTinyLFU) set(k, v int) []event {
	r.evs = nil
	if _, ok := r.vals[k]; ok {
		r.evs = append(r.evs, event{k, r.vals[k], EvictReplaced})
		r.vals[k] = v
		r.ref[k] = 0
		r.sk.increment(r.hash(k))
		if q := r.where[k]; q == 1 {
			r.promote(k)
		} else {
			r.drop(q, k)
			r.push(q, k)
		}
		r.evictAll()
		return r.evs
	}
	r.vals[k] = v
	r.sk.increment(r.hash(k))
	r.inserted()
	r.push(0, k)
	r.evictAll()
	return r.evs
}

// evictAll is shard.evictTinyLFU: the window spills into probation, each
// candidate competing with the main victim while the cache is over, then
// main victims go while it is still over (the window grew).
func (r *refTinyLFU) evictAll() {
	r.resize()
	for len(r.queues[0]) > r.windowCap {
		c := r.clock(0)
		r.drop(0, c)
		r.push(1, c)
		if len(r.vals) > r.cap {
			vk, ok := r.victim(c, true)
			if !ok || r.sk.frequency(r.hash(c)) <= r.sk.frequency(r.hash(vk)) {
				r.evict(c)
			} else {
				r.evict(vk)
			}
		}
	}
	for len(r.vals) > r.cap {
		v, ok := r.victim(0, false)
		if !ok {
			v = r.clock(0)
		}
		r.evict(v)
	}
}

func (r *refTinyLFU) del(k int) []event {
	v, ok := r.vals[k]
	if !ok {
		return nil
	}
	r.drop(r.where[k], k)
	delete(r.where, k)
	delete(r.ref, k)
	delete(r.vals, k)
	return []event{{k, v, EvictDeleted}}
}

func TestTinyLFUMatchesReference(t *testing.T) {
	for _, tt := range []struct {
		name                string
		capacity, keys, ops int
	}{
		{"tiny", 4, 12, 20_000},
		{"small", 50, 150, 40_000},
		{"window of 3", 300, 900, 30_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []event
			c, err := New(Config[int, int]{Capacity: tt.capacity, Shards: 1, Policy: TinyLFU,
				OnEvict: func(k, v int, r EvictReason) { got = append(got, event{k, v, r}) }})
			require.NoError(t, err)
			ref := newRefTinyLFU(tt.capacity, func(k int) uint64 { return c.hash.sum(k) })
			rng := rand.New(rand.NewPCG(3, uint64(tt.capacity)))
			z := rand.NewZipf(rng, 1.2, 1, uint64(tt.keys-1))
			for op := range tt.ops {
				k := int(z.Uint64())
				got = got[:0]
				var want []event
				switch r := rng.IntN(10); {
				case r < 6:
					v, ok := c.Get(k)
					wv, wok := ref.get(k)
					require.Equal(t, wok, ok, "op %d: Get(%d) hit", op, k)
					require.Equal(t, wv, v, "op %d: Get(%d)", op, k)
					if !ok {
						c.Set(k, op)
						want = ref.set(k, op)
					}
				case r < 9:
					c.Set(k, op)
					want = ref.set(k, op)
				default:
					c.Delete(k)
					want = ref.del(k)
				}
				if !slices.Equal(want, got) {
					t.Fatalf("op %d: evictions %v, want %v", op, got, want)
				}
				require.Equal(t, len(ref.vals), c.Len(), "op %d: Len", op)
			}
			s := &c.shards[0]
			assert.Equal(t, ref.windowCap, s.windowCap, "window")
			if tt.capacity >= 50 {
				assert.Greater(t, len(ref.windows), 1, "the climber never resized the window")
			}
			t.Logf("window sizes seen: %d, last %d of %d", len(ref.windows), ref.windowCap, tt.capacity)
			for q := range 3 {
				var order []int
				for n := s.lists[q].root.next; n != &s.lists[q].root; n = n.next {
					order = append(order, n.key)
				}
				assert.Equal(t, ref.queues[q], order, "queue %d", q)
			}
		})
	}
}

// A count-min sketch never underestimates (up to its 4-bit cap, plus the
// doorkeeper's one), and a reset halves the counts.
func TestSketchBounds(t *testing.T) {
	sk := newSketch(1000)
	sk.sample = 1 << 30 // no reset during the fill
	rng := rand.New(rand.NewPCG(1, 1))
	truth := map[uint64]int{}
	for range 5000 {
		h := rng.Uint64N(2000) * 0x9e3779b97f4a7c15
		truth[h]++
		sk.increment(h)
	}
	over := 0
	for h, n := range truth {
		f := sk.frequency(h)
		require.GreaterOrEqual(t, f, min(n, 16), "key seen %d times", n)
		if f > min(n, 16) {
			over++
		}
	}
	assert.Less(t, float64(over)/float64(len(truth)), 0.1, "share of overestimated keys")
	var hot uint64 = 42
	for range 20 {
		sk.increment(hot)
	}
	require.Equal(t, 16, sk.frequency(hot))
	sk.reset()
	assert.Equal(t, 7, sk.frequency(hot), "15 halved, doorkeeper cleared")
}

func replayRatio(t testing.TB, cfg Config[uint64, uint64], trace []uint64) float64 {
	c, err := New(cfg)
	require.NoError(t, err)
	for _, k := range trace {
		if _, ok := c.Get(k); !ok {
			c.Set(k, k)
		}
	}
	return c.Stats().HitRatio()
}

// TinyLFU's reasons to exist, each on a small trace: more hits than LRU
// on skewed keys, most of a loop slightly larger than the cache kept (LRU
// keeps none), and popular keys kept through scans.
func TestTinyLFUHitRatio(t *testing.T) {
	const capacity = 1000
	loop := make([]uint64, 0, 15*capacity)
	for i := range cap(loop) {
		loop = append(loop, uint64(i%(3*capacity/2)))
	}
	z := zipfTrace(5, 50_000, 20_000)
	scan := slices.Clone(z)
	for i := 0; i+2*capacity < len(scan); i += 8_000 {
		for j := range 2 * capacity {
			scan[i+j] = uint64(1_000_000 + i + j)
		}
	}
	for _, tt := range []struct {
		name  string
		trace []uint64
		gain  float64 // TinyLFU − LRU at least
	}{
		{"zipf", z, 0.02},
		{"loop", loop, 0.30},
		{"scan", scan, 0.04},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, shards := range []int{1, 4} {
				lru := replayRatio(t, Config[uint64, uint64]{Capacity: capacity, Shards: shards}, tt.trace)
				tlfu := replayRatio(t, Config[uint64, uint64]{Capacity: capacity, Shards: shards, Policy: TinyLFU}, tt.trace)
				t.Logf("shards=%d LRU %.4f TinyLFU %.4f", shards, lru, tlfu)
				assert.GreaterOrEqual(t, tlfu-lru, tt.gain, "shards=%d", shards)
			}
		})
	}
}

func TestPolicyString(t *testing.T) {
	assert.Equal(t, "LRU", LRU.String())
	assert.Equal(t, "TinyLFU", TinyLFU.String())
	assert.Equal(t, "Policy(9)", Policy(9).String())
}

// An LRU is a stack algorithm (Mattson et al. 1970): on any trace a larger
// exact LRU hits at least as often as a smaller one.
func TestExactLRUIsStackAlgorithm(t *testing.T) {
	trace := zipfTrace(9, 20_000, 3_000)
	prev := -1.0
	for _, capacity := range []int{10, 50, 200, 800, 2000} {
		r := replayRatio(t, Config[uint64, uint64]{Capacity: capacity, Shards: 1}, trace)
		assert.GreaterOrEqual(t, r, prev, fmt.Sprint(capacity))
		prev = r
	}
}

// The climber's state machine on a scripted sequence of samples (n = 10,000
// requests, so a change below about 1.3 points is noise at these ratios):
// the first sample steps up, improvements keep the direction and grow the
// step, a worsening reverses and halves it, and no change drifts down.
func TestHillClimbsScriptedSamples(t *testing.T) {
	h := newHill()
	const n = 10_000
	steps := []struct {
		ratio, share float64
	}{
		{0.50, 0.01 + 0.0625},                              // baseline, first step up
		{0.55, 0.01 + 0.0625 + 0.09375},                    // better: same way, step ×1.5
		{0.60, 0.01 + 0.0625 + 0.09375 + 0.140625},         // better again
		{0.52, 0.01 + 0.0625 + 0.09375 + 0.0703125},        // worse: back, step halved
		{0.521, 0.01 + 0.0625 + 0.09375 + 0.0503125},       // no significant change: drift down
		{0.60, 0.01 + 0.0625 + 0.09375 + 0.0203125},        // better: keep going down, ×1.5 of the drift
		{0.60, 0.01 + 0.0625 + 0.09375 + 0.0003125},        // no change: drift
		{0.10, 0.01 + 0.0625 + 0.09375 + 0.0003125 + 0.01}, // worse: turn up, half the drift
	}
	for i, s := range steps {
		got := h.next(s.ratio, n)
		require.InDelta(t, s.share, got, 1e-12, "sample %d (ratio %v)", i, s.ratio)
	}
	// The share stays within [0, climbMaxShare].
	for range 100 {
		h.next(0.1, n)
	}
	assert.Equal(t, 0.0, h.share, "no change drifts down to 0")
	h.next(0.05, n) // worse: turn up
	for i := range 40 {
		h.next(0.06+float64(i)/50, n) // steady improvement
	}
	assert.Equal(t, climbMaxShare, h.share)
}

// On the shapes it is for, the climber moves the window the right way: a
// hot set that keeps moving to new keys grows it (recency wins), a fixed
// Zipf keeps it at the bottom.
func TestClimberFollowsWorkload(t *testing.T) {
	const capacity = 10000
	// run returns the mean window share over the second half of trace.
	run := func(trace []uint64) float64 {
		c, err := New(Config[uint64, uint64]{Capacity: capacity, Shards: 1, Policy: TinyLFU})
		require.NoError(t, err)
		sum, n := 0.0, 0
		for i, k := range trace {
			if _, ok := c.Get(k); !ok {
				c.Set(k, k)
			}
			if i >= len(trace)/2 && i%1000 == 0 {
				sum += c.climb.windowShare()
				n++
			}
		}
		return sum / float64(n)
	}
	shift := zipfTrace(4, 400_000, 10*capacity)
	for i := range shift {
		shift[i] += uint64(i/(10*capacity)) * uint64(10*capacity)
	}
	w := run(shift)
	t.Logf("shifting hot set: window share %.3f", w)
	assert.Greater(t, w, 0.1, "shifting hot set")
	w = run(zipfTrace(5, 400_000, 100*capacity))
	t.Logf("zipf: window share %.3f", w)
	assert.Less(t, w, 0.05, "zipf")
}
