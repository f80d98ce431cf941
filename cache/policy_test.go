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
// index 0) and maps, sharing only the sketch and the ghosts (each tested
// on its own below).
type refTinyLFU struct {
	cap, windowCap, protCap int
	sk                      *sketch
	winGhost, mainGhost     *ghost
	// The window climber, driven as the cache drives it: every climbCheck
	// insertions it takes the ghosts' recalls and looks at the lookups
	// counted since its last sample.
	hill                          hill
	hits, misses, lastReq         int64
	recalls, pending, lastRecalls [2]int64
	inserts                       int
	windows                       map[int]bool // window sizes used
	started                       bool
	hash                          func(int) uint64
	queues                        [3][]int // window, probation, protected
	where                         map[int]int
	ref                           map[int]uint32
	vals                          map[int]int
	evs                           []event
}

func newRefTinyLFU(capacity int, hash func(int) uint64) *refTinyLFU {
	r := &refTinyLFU{cap: capacity, hill: newHill(),
		sk: newSketch(capacity), winGhost: newGhost(ghostSpan(capacity)), mainGhost: newGhost(ghostSpan(capacity)), hash: hash, where: map[int]int{}, ref: map[int]uint32{}, vals: map[int]int{}}
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

// inserted counts an insertion of k and its ghosts' recalls and, every
// climbCheck insertions, hands the recalls on and completes a sample if
// enough lookups were counted, as climber.check.
func (r *refTinyLFU) inserted(k int) {
	for i, g := range []*ghost{r.winGhost, r.mainGhost} {
		if g.recall(r.hash(k)) {
			r.pending[i]++
		}
	}
	if r.inserts++; r.inserts < climbCheck {
		return
	}
	r.inserts = 0
	r.recalls[0] += r.pending[0]
	r.recalls[1] += r.pending[1]
	r.pending = [2]int64{}
	if len(r.vals) <= r.cap {
		return
	}
	req := r.hits + r.misses
	if !r.started {
		r.started = true
		r.lastReq, r.lastRecalls = req, r.recalls
		return
	}
	if n := req - r.lastReq; n >= climbSample*int64(r.cap) && n > 0 {
		r.hill.next(r.recalls[0]-r.lastRecalls[0], r.recalls[1]-r.lastRecalls[1])
		r.lastReq, r.lastRecalls = req, r.recalls
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
		if r.ref[k] < 15 { // marked as a hit
			r.ref[k]++
		}
		r.evictAll()
		return r.evs
	}
	r.vals[k] = v
	r.sk.increment(r.hash(k))
	r.inserted(k)
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
		r.winGhost.depart()
		if len(r.vals) > r.cap {
			vk, ok := r.victim(c, true)
			if !ok || r.sk.frequency(r.hash(c)) <= r.sk.frequency(r.hash(vk)) {
				r.winGhost.remember(r.hash(c))
				r.evict(c)
			} else {
				r.mainGhost.depart()
				r.mainGhost.remember(r.hash(vk))
				r.evict(vk)
			}
		}
	}
	for len(r.vals) > r.cap {
		v, ok := r.victim(0, false)
		g := r.mainGhost
		if !ok {
			v, g = r.clock(0), r.winGhost
		}
		g.depart()
		g.remember(r.hash(v))
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
		shift               int // ops between moves of the hot set to new keys, 0: none
	}{
		{"tiny", 4, 12, 20_000, 0},
		{"small", 50, 150, 40_000, 0},
		{"window of 3", 300, 900, 30_000, 0},
		{"moving hot set", 50, 150, 40_000, 1_000},
		{"moving hot set, larger", 300, 900, 60_000, 3_000},
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
				if tt.shift > 0 {
					k += op / tt.shift * tt.keys
				}
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
			if tt.shift > 0 {
				assert.Greater(t, len(ref.windows), 2, "window sizes: the climber hardly resized the window")
			}
			t.Logf("window sizes seen: %d, last %d of %d", len(ref.windows), ref.windowCap, tt.capacity)
			for q := range 3 {
				var order []int
				for n := s.lists[q].root.next; n != &s.lists[q].root; n = n.next {
					order = append(order, n.key)
				}
				assert.True(t, slices.Equal(ref.queues[q], order), "queue %d: %v, want %v", q, order, ref.queues[q])
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

// meanRatio is replayRatio's mean over three caches: each seeds its hash
// anew, which moves keys between shards and sketch counters, and on a short
// trace one seed can move the hit ratio by most of a point.
func meanRatio(t testing.TB, cfg Config[uint64, uint64], trace []uint64) float64 {
	var sum float64
	for range 3 {
		sum += replayRatio(t, cfg, trace)
	}
	return sum / 3
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
				lru := meanRatio(t, Config[uint64, uint64]{Capacity: capacity, Shards: shards}, tt.trace)
				tlfu := meanRatio(t, Config[uint64, uint64]{Capacity: capacity, Shards: shards, Policy: TinyLFU}, tt.trace)
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

// The climber's state machine on scripted samples of the two ghosts'
// recall counts: evidence for the window (a clear excess of window-ghost
// recalls) steps up, a run the same way grows the step by half up to
// climbMaxStep, evidence the other way starts over with climbStep, and a
// difference within twice its standard error drifts down; a step down
// after a drift starts at climbStep too.
func TestHillClimbsScriptedSamples(t *testing.T) {
	h := newHill()
	steps := []struct {
		name         string
		window, main int64
		share        float64
	}{
		{"window wins: first step up", 100, 10, 0.0725},
		{"again: step ×1.5", 100, 10, 0.0725 + 0.09375},
		{"again", 100, 10, 0.16625 + 0.140625},
		{"again", 100, 10, 0.306875 + 0.2109375},
		{"again: step capped", 100, 10, 0.5178125 + climbMaxStep},
		{"main wins: turn, first step", 10, 100, 0.7678125 - climbStep},
		{"even: drift", 50, 50, 0.7053125 - climbDrift},
		{"main wins after a drift: first step", 10, 100, 0.6853125 - climbStep},
		{"main again: step ×1.5", 10, 100, 0.6228125 - 0.09375},
		{"no recalls: drift", 0, 0, 0.5290625 - climbDrift},
		{"15 apart, noise 20.5: drift", 60, 45, 0.5090625 - climbDrift},
		{"window wins after a drift: first step", 100, 10, 0.4890625 + climbStep},
	}
	for i, s := range steps {
		got := h.next(s.window, s.main)
		require.InDelta(t, s.share, got, 1e-12, "sample %d: %s", i, s.name)
	}
	// The share stays within [0, climbMaxShare].
	for range 100 {
		h.next(0, 0)
	}
	assert.Equal(t, 0.0, h.share, "no evidence drifts down to 0")
	for range 40 {
		h.next(100, 0)
	}
	assert.Equal(t, climbMaxShare, h.share)
}

// A ghost recalls a key that left within its span, once, and no key that
// left earlier or never; slot collisions lose at most about a quarter of
// the keys within the span.
func TestGhostRecallsWithinSpan(t *testing.T) {
	const span = 100
	g := newGhost(span)
	key := func(i int) uint64 { return uint64(i) * 0x9e3779b97f4a7c15 }
	g.depart()
	g.remember(key(1))
	require.True(t, g.recall(key(1)), "just left")
	require.False(t, g.recall(key(1)), "recalled twice")
	require.False(t, g.recall(key(2)), "never left")
	g.remember(key(3))
	for range span - 1 {
		g.depart()
	}
	require.True(t, g.recall(key(3)), "left span−1 departures ago")
	g.remember(key(4))
	for range span {
		g.depart()
	}
	require.False(t, g.recall(key(4)), "left span departures ago")

	g = newGhost(span)
	const n = 100_000
	for i := range n {
		g.depart()
		g.remember(key(i))
	}
	recalled := 0
	for i := range n {
		if g.recall(key(i)) {
			require.GreaterOrEqual(t, i, n-span, "key %d left %d departures ago", i, n-1-i)
			recalled++
		}
	}
	t.Logf("recalled %d of the last %d", recalled, span)
	assert.GreaterOrEqual(t, recalled, span*3/4, "recalled of the last span")
}

func TestGhostSpan(t *testing.T) {
	for _, tt := range []struct{ capacity, span int }{
		{1, 1}, {4, 1}, {16, 1}, {100, 6}, {500, 31}, {1000, 62}, {100_000, 6250},
	} {
		assert.Equal(t, tt.span, ghostSpan(tt.capacity), "capacity %d", tt.capacity)
	}
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
