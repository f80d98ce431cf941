package balance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errBoom = errors.New("boom")

// seed makes a picker's randomness deterministic (single goroutine only).
func seed(cfg *settings, s uint64) {
	cfg.rngMask = 0 // one stream, whatever the stack address
	cfg.rng[0].Store(s)
}

func pickN[N comparable](t *testing.T, p Picker[N], n int) []N {
	t.Helper()
	out := make([]N, 0, n)
	for range n {
		l, err := p.Pick()
		require.NoError(t, err)
		out = append(out, l.Node)
		l.Done(nil)
	}
	return out
}

func TestNodeStateIsTwoCacheLines(t *testing.T) {
	assert.Equal(t, uintptr(128), unsafe.Sizeof(nodeState{}))
}

func TestRoundRobinExactCycle(t *testing.T) {
	p, err := NewRoundRobin([]string{"a", "b", "c"}, Config{})
	require.NoError(t, err)
	got := strings.Join(pickN(t, p, 9), "")
	assert.Equal(t, "abcabcabc", got)
}

func TestWeightedRoundRobinSmooth(t *testing.T) {
	p, err := NewWeightedRoundRobin([]Weighted[string]{{"a", 5}, {"b", 1}, {"c", 1}}, Config{})
	require.NoError(t, err)
	assert.Equal(t, "aabacaa"+"aabacaa", strings.Join(pickN(t, p, 14), ""), "nginx smooth sequence")
}

// TestWeightedRoundRobinMaxBurst checks smoothness for several weight sets:
// within any window of w picks, node i appears at most ceil(w·wi/sum)+1 times.
func TestWeightedRoundRobinMaxBurst(t *testing.T) {
	cases := []struct {
		name    string
		weights []int
	}{
		{"5-1-1", []int{5, 1, 1}},
		{"3-2", []int{3, 2}},
		{"10-7-3-1", []int{10, 7, 3, 1}},
		{"equal", []int{4, 4, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws := make([]Weighted[int], len(tc.weights))
			sum := 0
			for i, w := range tc.weights {
				ws[i] = Weighted[int]{Node: i, Weight: w}
				sum += w
			}
			p, err := NewWeightedRoundRobin(ws, Config{})
			require.NoError(t, err)
			seq := pickN(t, p, 4*sum)
			for window := 1; window <= sum; window++ {
				for start := 0; start+window <= len(seq); start++ {
					count := make([]int, len(ws))
					for _, n := range seq[start : start+window] {
						count[n]++
					}
					for i, c := range count {
						limit := int(math.Ceil(float64(window*tc.weights[i])/float64(sum))) + 1
						require.LessOrEqualf(t, c, limit, "node %d in window %d at %d", i, window, start)
					}
				}
			}
		})
	}
}

// TestWeightedDistribution: each node's count within 2% of its weight's
// share. WeightedRoundRobin is exact over 100,000 picks; for WeightedRandom
// the lightest node (10%) has a 1% standard deviation at 100,000 picks, so
// the check uses 400,000 to put 2% at four standard deviations.
func TestWeightedDistribution(t *testing.T) {
	weights := []Weighted[string]{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}
	cases := []struct {
		name  string
		picks int
		new   func() (Picker[string], error)
	}{
		{"WeightedRoundRobin", 100_000, func() (Picker[string], error) {
			p, err := NewWeightedRoundRobin(weights, Config{})
			if err == nil {
				seed(p.cfg, 1)
			}
			return p, err
		}},
		{"WeightedRandom", 400_000, func() (Picker[string], error) {
			p, err := NewWeightedRandom(weights, Config{})
			if err == nil {
				seed(p.cfg, 1)
			}
			return p, err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.new()
			require.NoError(t, err)
			count := map[string]int{}
			for _, n := range pickN(t, p, tc.picks) {
				count[n]++
			}
			for _, w := range weights {
				want := float64(tc.picks) * float64(w.Weight) / 10
				assert.InEpsilonf(t, want, float64(count[w.Node]), 0.02, "node %s", w.Node)
			}
		})
	}
}

func TestUniformDistribution(t *testing.T) {
	nodes := []string{"a", "b", "c", "d", "e"}
	const picks = 100_000
	for _, tc := range []struct {
		name string
		new  func() (Picker[string], *settings, error)
	}{
		{"Random", func() (Picker[string], *settings, error) {
			p, err := NewRandom(nodes, Config{})
			return p, p.cfg, err
		}},
		{"P2C", func() (Picker[string], *settings, error) {
			p, err := NewP2C(nodes, Config{})
			return p, p.cfg, err
		}},
		{"LeastLoaded", func() (Picker[string], *settings, error) {
			p, err := NewLeastLoaded(nodes, Config{})
			return p, p.cfg, err
		}},
		{"Consistent.Pick", func() (Picker[string], *settings, error) {
			p, err := NewConsistent(nodes, Config{Replicas: 1000})
			return p, p.cfg, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg, err := tc.new()
			require.NoError(t, err)
			seed(cfg, 7)
			count := map[string]int{}
			for _, n := range pickN(t, p, picks) {
				count[n]++
			}
			for _, n := range nodes {
				assert.InEpsilonf(t, picks/len(nodes), count[n], 0.1, "node %s", n)
			}
		})
	}
}

// TestPowerOfTwoChoices is balls into bins: 10,000 Picks over 10,000 nodes
// with no Done. Azar et al.: the fullest bin holds ln ln n/ln 2 + O(1) with
// two choices, about ln n/ln ln n with one (REFERENCES.md §5: at n = 10^4,
// d=2 gives 3 or 4, d=1 gives 6 to 9).
func TestPowerOfTwoChoices(t *testing.T) {
	const n = 10_000
	nodes := make([]int, n)
	for i := range nodes {
		nodes[i] = i
	}
	maxLoad := func(p Picker[int], cfg *settings, s uint64) int64 {
		seed(cfg, s)
		for range n {
			_, err := p.Pick()
			require.NoError(t, err)
		}
		var m int64
		for _, st := range p.(interface{ Stats() Stats[int] }).Stats().Nodes {
			m = max(m, st.InFlight)
		}
		return m
	}
	for s := uint64(1); s <= 3; s++ {
		p2c, err := NewP2C(nodes, Config{})
		require.NoError(t, err)
		rnd, err := NewRandom(nodes, Config{})
		require.NoError(t, err)
		assert.LessOrEqual(t, maxLoad(p2c, p2c.cfg, s), int64(4), "P2C seed %d", s)
		assert.GreaterOrEqual(t, maxLoad(rnd, rnd.cfg, s), int64(6), "Random seed %d", s)
	}
}

func TestLeastLoadedPicksFewestInFlight(t *testing.T) {
	p, err := NewLeastLoaded([]string{"a", "b", "c"}, Config{})
	require.NoError(t, err)
	seed(p.cfg, 3)
	var held []Lease[string]
	for range 9 {
		l, err := p.Pick()
		require.NoError(t, err)
		held = append(held, l)
	}
	for _, st := range p.Stats().Nodes {
		assert.Equal(t, int64(3), st.InFlight, st.Node)
	}
	// Free two of b's slots: b must win the next two picks.
	freed := 0
	for i := range held {
		if held[i].Node == "b" && freed < 2 {
			held[i].Done(nil)
			freed++
		}
	}
	assert.Equal(t, []string{"b", "b"}, []string{mustPick(t, p).Node, mustPick(t, p).Node})
}

// TestLeastLoadedTieBreak checks Pick against the rule it documents, under
// random loads with many ties: the fewest in flight wins, and among ties
// the first node at or after the random start, in cyclic order. The start
// is predicted by drawing it from a copy of the seeded random state.
func TestLeastLoadedTieBreak(t *testing.T) {
	for n := 1; n <= 12; n++ {
		nodes := make([]int, n)
		for i := range nodes {
			nodes[i] = i
		}
		p, err := NewLeastLoaded(nodes, Config{})
		require.NoError(t, err)
		seed(p.cfg, uint64(n))
		var held []Lease[int]
		for step := range 500 {
			// Release a pseudo-random held Lease about every other step,
			// keeping loads small so that ties are common.
			if k := step * 7919 % 13; len(held) > 0 && (k%2 == 0 || len(held) > 2*n) {
				k %= len(held)
				held[k].Done(nil)
				held = slices.Delete(held, k, k+1)
			}
			state := p.cfg.rng[0].Load()
			start := fastrange(uint32(p.cfg.rand()), n)
			p.cfg.rng[0].Store(state)
			load := p.Stats().Nodes
			want := start
			for d := 1; d < n; d++ {
				if i := (start + d) % n; load[i].InFlight < load[want].InFlight {
					want = i
				}
			}
			l := mustPick(t, p)
			require.Equal(t, want, l.Node, "n=%d step %d start %d", n, step, start)
			held = append(held, l)
		}
	}
}

func mustPick[N comparable](t *testing.T, p Picker[N]) Lease[N] {
	t.Helper()
	l, err := p.Pick()
	require.NoError(t, err)
	return l
}

// TestPeakEWMASteersAway: ten nodes, one ten times slower; sequential
// requests under a fake clock. The slow node must be avoided within a few
// dozen requests, and picked again once it has recovered and its estimate
// has decayed.
func TestPeakEWMASteersAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "slow"}
		p, err := NewPeakEWMA(nodes, Config{DecayTime: time.Second})
		require.NoError(t, err)
		seed(p.cfg, 11)
		slowLatency := 10 * time.Millisecond
		run := func(requests int) (slowPicks int) {
			for range requests {
				l := mustPick(t, p)
				d := time.Millisecond
				if l.Node == "slow" {
					slowPicks++
					d = slowLatency
				}
				time.Sleep(d)
				l.Done(nil)
			}
			return slowPicks
		}
		run(40) // warm-up: every node gets probed
		assert.LessOrEqual(t, run(500), 5, "slow node still picked after warm-up")

		// It recovers. Its 10 ms estimate must first decay below the others'
		// 1 ms (τ·ln 10 ≈ 2.3 s) before it is probed again, then the 1 ms
		// samples pull it down with the same time constant.
		slowLatency = time.Millisecond
		run(6000)
		got := run(2000)
		assert.InDelta(t, 200, got, 100, "recovered node's picks of 2000 (fair share 200)")
		assert.Greater(t, p.Stats().Nodes[9].Latency, time.Duration(0))
	})
}

func TestPeakEWMAPeakAndDecay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA([]string{"a"}, Config{DecayTime: time.Second})
		require.NoError(t, err)
		serve := func(d time.Duration) {
			l := mustPick(t, p)
			time.Sleep(d)
			l.Done(nil)
		}
		serve(10 * time.Millisecond)
		assert.Equal(t, 10*time.Millisecond, p.Stats().Nodes[0].Latency, "first sample")
		serve(100 * time.Millisecond)
		assert.Equal(t, 100*time.Millisecond, p.Stats().Nodes[0].Latency, "peak taken at once")
		time.Sleep(time.Second)
		// One decay time after the peak sample: 100ms/e.
		assert.InEpsilon(t, float64(100*time.Millisecond)/math.E, float64(p.Stats().Nodes[0].Latency), 1e-4)
	})
}

// A node that fails fast (connection refused, an upstream breaker's ErrOpen)
// answers in no time: without a failure penalty its latency estimate would
// be the lowest and it would win every comparison it takes part in (about
// 2/5 of all picks here). With the penalty it must be picked less than any
// healthy node. Ejection is off so that the penalty alone is tested.
func TestPeakEWMAFailFastPenalty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes := []string{"n0", "n1", "n2", "n3", "dead"}
		p, err := NewPeakEWMA(nodes, Config{DisableEjection: true})
		require.NoError(t, err)
		seed(p.cfg, 5)
		picks := map[string]int{}
		for range 2000 {
			l := mustPick(t, p)
			picks[l.Node]++
			if l.Node == "dead" {
				l.Done(errBoom) // refused at once
				continue
			}
			time.Sleep(5 * time.Millisecond)
			l.Done(nil)
		}
		for _, n := range nodes[:4] {
			assert.Less(t, picks["dead"], picks[n], "dead node picked more than healthy %s: %v", n, picks)
		}
		assert.Less(t, picks["dead"], 2000/50, "dead node's share: %v", picks)
		st := p.Stats().Nodes[4]
		assert.Equal(t, uint64(picks["dead"]), st.Failures)
		assert.Greater(t, st.Latency, 5*time.Millisecond, "dead node's estimate must exceed the healthy latency")
	})
}

func TestPeakEWMAFailurePenaltyValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Default: 10× the reference latency, a recent successful estimate.
		p, err := NewPeakEWMA([]string{"a", "b"}, Config{})
		require.NoError(t, err)
		la := Lease[string]{Node: "a", st: p.snap.Load().states[0], start: p.cfg.now()}
		p.snap.Load().states[0].flight.Add(1)
		time.Sleep(3 * time.Millisecond)
		la.Done(nil)
		lb := Lease[string]{Node: "b", st: p.snap.Load().states[1], start: p.cfg.now()}
		p.snap.Load().states[1].flight.Add(1)
		lb.Done(errBoom)
		st := p.Stats().Nodes
		assert.Equal(t, 3*time.Millisecond, st[0].Latency)
		assert.Equal(t, 30*time.Millisecond, st[1].Latency, "failed fast: 10× the reference")

		// A cancelled request is not the node's fault: no penalty.
		lb = Lease[string]{Node: "b", st: p.snap.Load().states[1], start: p.cfg.now()}
		p.snap.Load().states[1].flight.Add(1)
		time.Sleep(40 * time.Millisecond)
		lb.Done(context.Canceled)
		assert.Equal(t, 40*time.Millisecond, p.Stats().Nodes[1].Latency, "cancelled: observed latency only")

		// Explicit: FailurePenalty is the floor of a failed sample, and a
		// slower failure keeps its own latency.
		q, err := NewPeakEWMA([]string{"a"}, Config{FailurePenalty: 200 * time.Millisecond})
		require.NoError(t, err)
		l := mustPick(t, q)
		l.Done(errBoom)
		assert.Equal(t, 200*time.Millisecond, q.Stats().Nodes[0].Latency)
		l = mustPick(t, q)
		time.Sleep(time.Second)
		l.Done(errBoom)
		assert.Equal(t, time.Second, q.Stats().Nodes[0].Latency)
	})
}

// TestPeakEWMALighterMatchesLoad: Pick's comparison (lighter) must order two
// nodes as their loads decayed to now do, over random estimates, stamps up
// to 50 decay times apart, in-flight counts and nodes without a sample.
// Only near-ties (loads within 1e-6 of each other) may differ by rounding.
func TestPeakEWMALighterMatchesLoad(t *testing.T) {
	p, err := NewPeakEWMA([]string{"a", "b"}, Config{DecayTime: time.Second})
	require.NoError(t, err)
	states := p.snap.Load().states
	rng := rand.New(rand.NewPCG(1, 2))
	const now = int64(100 * time.Second)
	randomize := func(st *nodeState) {
		cost := math.Pow(10, 3+7*rng.Float64()) // 1µs to 10s
		switch rng.IntN(8) {
		case 0:
			cost = 0 // no sample yet
		case 1:
			cost = math.Float64frombits(states[0].cost.Load()) // a tie on cost
		}
		st.cost.Store(math.Float64bits(cost))
		st.stamp.Store(now - rng.Int64N(int64(50*time.Second)))
		if rng.IntN(8) == 0 {
			st.stamp.Store(states[0].stamp.Load()) // a tie on stamp
		}
		st.flight.Store(uint64(rng.IntN(4)))
	}
	differ := 0
	for range 100_000 {
		randomize(states[0])
		randomize(states[1])
		la, lb := states[0].load(now), states[1].load(now)
		want := 0
		if lb < la {
			want = 1
		}
		if got := lighter(states, 0, 1, now); got != want {
			require.InEpsilon(t, la, lb, 1e-6, "lighter chose %d, loads %v and %v", got, la, lb)
			differ++
		}
	}
	assert.Less(t, differ, 10, "near-ties decided differently")
}

func TestExpNeg(t *testing.T) {
	for _, x := range []float64{0, 1e-9, 1e-4, 1.0 / 1024, 0.01, 0.1, 0.5, math.Ln2, 1, 2.5, 10, 50, 300, 699} {
		assert.InEpsilonf(t, math.Exp(-x), expNeg(x), 1e-5, "x=%v", x)
	}
	assert.Equal(t, 0.0, expNeg(800))
	assert.Equal(t, 0.0, expNeg(math.Inf(1)))
	assert.Equal(t, 0.0, expNeg(math.NaN()))
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user-%d", i)
	}
	return out
}

func owners(t *testing.T, c *Consistent[string], ks []string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(ks))
	for _, k := range ks {
		l, err := c.PickKey(k)
		require.NoError(t, err)
		out[k] = l.Node
		l.Done(nil)
	}
	return out
}

func TestConsistentStableAndMinimalRemap(t *testing.T) {
	nodes := hosts(10)
	c, err := NewConsistent(nodes, Config{})
	require.NoError(t, err)
	ks := keys(5000)
	before := owners(t, c, ks)
	assert.Equal(t, before, owners(t, c, ks), "same key, same node")
	perNode := map[string]int{}
	for _, n := range before {
		perNode[n]++
	}
	assert.Len(t, perNode, 10, "every node owns keys")

	removed := nodes[3]
	require.NoError(t, c.Update(slices.Delete(slices.Clone(nodes), 3, 4)))
	after := owners(t, c, ks)
	for _, k := range ks {
		if before[k] != removed {
			assert.Equal(t, before[k], after[k], "key %s of a surviving node moved", k)
		} else {
			assert.NotEqual(t, removed, after[k])
		}
	}
}

// TestConsistentBoundedLoad holds many Leases from concurrent goroutines
// on a handful of hot keys: no node may exceed ceil(c·m/n)+1.
func TestConsistentBoundedLoad(t *testing.T) {
	const n, goroutines, hold, rounds = 8, 8, 25, 200
	c, err := NewConsistent(hosts(n), Config{})
	require.NoError(t, err)
	hot := keys(3) // three hot keys: without the bound they would sit on ≤ 3 nodes
	m := goroutines * hold
	bound := int64(math.Ceil(1.25*float64(m)/n)) + 1
	var wg sync.WaitGroup
	held := make([][]Lease[string], goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				if len(held[g]) == hold {
					held[g][0].Done(nil)
					held[g] = held[g][1:]
				}
				l, err := c.PickKey(hot[(g+r)%len(hot)])
				if err != nil {
					t.Error(err)
					return
				}
				// m never exceeds goroutines·hold, so neither may any node.
				if f := l.st.inFlight(); f > bound {
					t.Errorf("node %s at %d in flight, bound %d", l.Node, f, bound)
				}
				held[g] = append(held[g], l)
			}
		})
	}
	wg.Wait()
	var total int64
	used := 0
	for _, st := range c.Stats().Nodes {
		assert.LessOrEqualf(t, st.InFlight, bound, "node %s", st.Node)
		total += st.InFlight
		if st.InFlight > 0 {
			used++
		}
	}
	assert.Equal(t, int64(m), total)
	assert.Greater(t, used, 3, "load spilled past the hot keys' owners")
}

func TestEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{EjectAfter: 3, EjectFor: 10 * time.Second, MaxEjectFor: 25 * time.Second})
		require.NoError(t, err)
		failA := func() {
			for range 3 {
				for {
					l := mustPick(t, p)
					if l.Node == "a" {
						l.Done(errBoom)
						break
					}
					l.Done(nil)
				}
			}
		}
		failA()
		st := p.Stats()
		require.True(t, st.Nodes[0].Ejected)
		assert.Equal(t, 10*time.Second, st.Nodes[0].EjectedFor)
		assert.Equal(t, uint64(1), st.Nodes[0].Ejections)
		assert.Equal(t, 1, st.Ejected)
		assert.NotContains(t, pickN(t, p, 30), "a", "ejected node picked")

		time.Sleep(10 * time.Second)
		assert.Contains(t, pickN(t, p, 4), "a", "not back after EjectFor")

		failA() // a repeat offender: 20 s, then capped at 25 s
		assert.Equal(t, 20*time.Second, p.Stats().Nodes[0].EjectedFor)
		time.Sleep(20 * time.Second)
		failA()
		assert.Equal(t, 25*time.Second, p.Stats().Nodes[0].EjectedFor)
	})
}

func TestEjectionForgivenAfterHealthyPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b"}, Config{EjectAfter: 1, EjectFor: time.Second})
		require.NoError(t, err)
		fail := func() {
			for l := mustPick(t, p); ; l = mustPick(t, p) {
				if l.Node == "a" {
					l.Done(errBoom)
					return
				}
				l.Done(nil)
			}
		}
		fail()
		time.Sleep(time.Second)
		pickN(t, p, 2) // reinstated
		time.Sleep(time.Second)
		pickN(t, p, 2) // a healthy success a full EjectFor later resets the doubling
		fail()
		assert.Equal(t, time.Second, p.Stats().Nodes[0].EjectedFor)
	})
}

func TestMaxEjectedPercent(t *testing.T) {
	p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{EjectAfter: 1})
	require.NoError(t, err)
	for range 4 {
		l := mustPick(t, p)
		l.Done(errBoom)
	}
	st := p.Stats()
	assert.Equal(t, 2, st.Ejected, "50% of 4")
	assert.Equal(t, uint64(4), st.Nodes[0].Failures+st.Nodes[1].Failures+st.Nodes[2].Failures+st.Nodes[3].Failures)
}

func TestPanicThreshold(t *testing.T) {
	cfg := Config{EjectAfter: 1, MaxEjectedPercent: 100, PanicPercent: 60}
	p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, cfg)
	require.NoError(t, err)
	l := mustPick(t, p) // a
	l.Done(errBoom)
	assert.NotContains(t, pickN(t, p, 8), "a", "75% healthy: no panic")
	l = mustPick(t, p) // b (the cycle is at b again after 8 picks over 3 nodes... find it)
	for l.Node != "b" {
		l.Done(nil)
		l = mustPick(t, p)
	}
	l.Done(errBoom)
	st := p.Stats()
	require.Equal(t, 2, st.Ejected)
	assert.True(t, st.Panic)
	got := pickN(t, p, 8)
	assert.Contains(t, got, "a", "50% healthy < 60%: panic picks from all")
	assert.Contains(t, got, "b")
}

func TestDisableEjection(t *testing.T) {
	p, err := NewP2C([]string{"a", "b"}, Config{EjectAfter: 1, DisableEjection: true})
	require.NoError(t, err)
	for range 10 {
		l := mustPick(t, p)
		l.Done(errBoom)
	}
	st := p.Stats()
	assert.Equal(t, 0, st.Ejected)
	assert.Equal(t, uint64(10), st.Nodes[0].Failures+st.Nodes[1].Failures)
}

func TestCanceledIsNotAFailure(t *testing.T) {
	p, err := NewRoundRobin([]string{"a"}, Config{EjectAfter: 1, MaxEjectedPercent: 100})
	require.NoError(t, err)
	l := mustPick(t, p)
	l.Done(fmt.Errorf("call: %w", errCanceled()))
	st := p.Stats().Nodes[0]
	assert.Zero(t, st.Failures)
	assert.False(t, st.Ejected)
}

func TestSlowStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{SlowStart: 10 * time.Second})
		require.NoError(t, err)
		seed(p.cfg, 5)
		assert.False(t, p.Stats().Nodes[0].Warming, "initial nodes start at full share")
		require.NoError(t, p.Update([]string{"a", "b", "c", "d", "e"}))
		share := func() float64 {
			count := 0
			for _, n := range pickN(t, p, 10_000) {
				if n == "e" {
					count++
				}
			}
			return float64(count) / 10_000
		}
		assert.Less(t, share(), 0.005, "t=0")
		assert.True(t, p.Stats().Nodes[4].Warming)
		time.Sleep(5 * time.Second)
		assert.InDelta(t, 0.5*0.2, share(), 0.03, "t=5s: half of a full share")
		time.Sleep(5 * time.Second)
		assert.InDelta(t, 0.2, share(), 0.001, "t=10s: full share")
		assert.False(t, p.Stats().Nodes[4].Warming)
	})
}

func TestSlowStartAfterEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b"}, Config{EjectAfter: 1, EjectFor: time.Second, SlowStart: 10 * time.Second})
		require.NoError(t, err)
		seed(p.cfg, 5)
		l := mustPick(t, p)
		require.Equal(t, "a", l.Node)
		l.Done(errBoom)
		time.Sleep(time.Second)
		pickN(t, p, 2) // the second reaches a and reinstates it into slow start
		assert.True(t, p.Stats().Nodes[0].Warming)
	})
}

func TestUpdateKeepsCounters(t *testing.T) {
	p, err := NewRoundRobin([]string{"a", "b", "c"}, Config{})
	require.NoError(t, err)
	pickN(t, p, 30)
	held := mustPick(t, p)
	require.Equal(t, "a", held.Node)
	require.NoError(t, p.Update([]string{"c", "d", "a"}))
	after := p.Stats()
	assert.Equal(t, []string{"c", "d", "a"}, p.Nodes())
	assert.Equal(t, uint64(10), after.Nodes[0].Picks, "c keeps its count")
	assert.Zero(t, after.Nodes[1].Picks, "new node")
	assert.Equal(t, uint64(11), after.Nodes[2].Picks)
	assert.Equal(t, int64(1), after.Nodes[2].InFlight, "held lease still counted")
	held.Done(nil)
	assert.Zero(t, p.Stats().Nodes[2].InFlight)
}

func TestDoneAfterUpdateAndTwice(t *testing.T) {
	p, err := NewRoundRobin([]string{"a", "b"}, Config{EjectAfter: 1})
	require.NoError(t, err)
	l := mustPick(t, p)
	require.Equal(t, "a", l.Node)
	require.NoError(t, p.Update([]string{"b"}))
	l.Done(errBoom) // removed node: safe, ejection not counted against the new set
	l.Done(errBoom)
	assert.Equal(t, 0, p.Stats().Ejected)

	l = mustPick(t, p)
	l.Done(nil)
	l.Done(errBoom) // second Done: no-op
	st := p.Stats().Nodes[0]
	assert.Zero(t, st.InFlight)
	assert.Zero(t, st.Failures)

	var zero Lease[string]
	zero.Done(nil) // zero Lease: no-op
}

// A second Done through a copy of a Lease must not drive the packed
// in-flight count below zero (it would borrow from the done field).
func TestDoneThroughCopyKeepsCountSane(t *testing.T) {
	p, err := NewP2C([]string{"a"}, Config{})
	require.NoError(t, err)
	l := mustPick(t, p)
	cp := l
	l.Done(nil)
	cp.Done(nil)
	st := p.Stats().Nodes[0]
	assert.Zero(t, st.InFlight)
	assert.Equal(t, uint64(1), st.Picks)
	l = mustPick(t, p)
	assert.Equal(t, int64(1), p.Stats().Nodes[0].InFlight)
	l.Done(nil)
	assert.Equal(t, uint64(2), p.Stats().Nodes[0].Picks)
}

// The done half of the packed counter wraps every 2^32 Leases; Stats.Picks
// must carry on counting.
func TestPicksSurviveCounterWrap(t *testing.T) {
	p, err := NewRoundRobin([]string{"a"}, Config{})
	require.NoError(t, err)
	st := p.snap.Load().states[0]
	st.flight.Store(inFlightMask << 32) // 2^32-1 Leases done, none in flight
	l := mustPick(t, p)
	assert.Equal(t, uint64(1)<<32, p.Stats().Nodes[0].Picks)
	l.Done(nil)
	ns := p.Stats().Nodes[0]
	assert.Equal(t, uint64(1)<<32, ns.Picks)
	assert.Zero(t, ns.InFlight)
	assert.Equal(t, uint64(1), st.wraps.Load())
	pickN(t, p, 3)
	assert.Equal(t, uint64(1)<<32+3, p.Stats().Nodes[0].Picks)
}

func TestNoNodes(t *testing.T) {
	for name, p := range allPickers(t, []string{"a"}) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, p.update(nil))
			_, err := p.Pick()
			assert.ErrorIs(t, err, ErrNoNodes)
			assert.Empty(t, p.Nodes())
			require.NoError(t, p.update([]string{"b"}))
			assert.Equal(t, "b", mustPick(t, p).Node)
		})
	}
	c, err := NewConsistent([]string{"a"}, Config{})
	require.NoError(t, err)
	require.NoError(t, c.Update(nil))
	_, err = c.PickKey("k")
	assert.ErrorIs(t, err, ErrNoNodes)
}

type testPicker struct {
	Picker[string]
	update func([]string) error
	Nodes  func() []string
	Stats  func() Stats[string]
}

func ws(nodes []string) []Weighted[string] { return unit(nodes) }

func allPickers(t *testing.T, nodes []string) map[string]testPicker {
	t.Helper()
	out := map[string]testPicker{}
	rr, err := NewRoundRobin(nodes, Config{})
	require.NoError(t, err)
	out["RoundRobin"] = testPicker{rr, rr.Update, rr.Nodes, rr.Stats}
	wrr, err := NewWeightedRoundRobin(ws(nodes), Config{})
	require.NoError(t, err)
	out["WeightedRoundRobin"] = testPicker{wrr, func(n []string) error { return wrr.Update(ws(n)) }, wrr.Nodes, wrr.Stats}
	rnd, err := NewRandom(nodes, Config{})
	require.NoError(t, err)
	out["Random"] = testPicker{rnd, rnd.Update, rnd.Nodes, rnd.Stats}
	wr, err := NewWeightedRandom(ws(nodes), Config{})
	require.NoError(t, err)
	out["WeightedRandom"] = testPicker{wr, func(n []string) error { return wr.Update(ws(n)) }, wr.Nodes, wr.Stats}
	ll, err := NewLeastLoaded(nodes, Config{})
	require.NoError(t, err)
	out["LeastLoaded"] = testPicker{ll, ll.Update, ll.Nodes, ll.Stats}
	p2c, err := NewP2C(nodes, Config{})
	require.NoError(t, err)
	out["P2C"] = testPicker{p2c, p2c.Update, p2c.Nodes, p2c.Stats}
	pe, err := NewPeakEWMA(nodes, Config{})
	require.NoError(t, err)
	out["PeakEWMA"] = testPicker{pe, pe.Update, pe.Nodes, pe.Stats}
	c, err := NewConsistent(nodes, Config{})
	require.NoError(t, err)
	out["Consistent"] = testPicker{c, c.Update, c.Nodes, c.Stats}
	return out
}

// TestConcurrentPickDoneUpdate is for -race: every picker under concurrent
// Pick/Done with failures, Stats and Update.
func TestConcurrentPickDoneUpdate(t *testing.T) {
	all := hosts(12)
	sets := [][]string{all[:8], all[4:], all[2:10]}
	for name, p := range allPickers(t, all[:8]) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 2000 {
						l, err := p.Pick()
						if err != nil {
							t.Error(err)
							return
						}
						var derr error
						if (i+g)%7 == 0 {
							derr = errBoom
						}
						l.Done(derr)
					}
				})
			}
			wg.Go(func() {
				for i := range 50 {
					if err := p.update(sets[i%len(sets)]); err != nil {
						t.Error(err)
					}
					_ = p.Stats()
				}
			})
			wg.Wait()
			for _, st := range p.Stats().Nodes {
				assert.Zero(t, st.InFlight, st.Node)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"nil nodes", func() error { _, err := NewP2C[string](nil, Config{}); return err }, "no nodes"},
		{"empty weighted", func() error { _, err := NewWeightedRandom([]Weighted[string]{}, Config{}); return err }, "no nodes"},
		{"duplicate", func() error { _, err := NewRoundRobin([]string{"a", "b", "a"}, Config{}); return err }, "duplicate node a at indexes 0 and 2"},
		{"zero weight", func() error {
			_, err := NewWeightedRoundRobin([]Weighted[string]{{"a", 1}, {"b", 0}}, Config{})
			return err
		}, "node b weight 0 is not positive"},
		{"negative weight", func() error {
			_, err := NewWeightedRandom([]Weighted[string]{{"a", -2}}, Config{})
			return err
		}, "node a weight -2 is not positive"},
		{"LoadFactor", func() error { _, err := NewConsistent([]string{"a"}, Config{LoadFactor: 0.9}); return err }, "Config.LoadFactor 0.9"},
		{"LoadFactor NaN", func() error { _, err := NewConsistent([]string{"a"}, Config{LoadFactor: math.NaN()}); return err }, "Config.LoadFactor NaN"},
		{"MaxEjectedPercent", func() error { _, err := NewP2C([]string{"a"}, Config{MaxEjectedPercent: 101}); return err }, "Config.MaxEjectedPercent 101 outside [0,100]"},
		{"PanicPercent", func() error { _, err := NewP2C([]string{"a"}, Config{PanicPercent: -1}); return err }, "Config.PanicPercent -1 outside [0,100]"},
		{"EjectAfter", func() error { _, err := NewP2C([]string{"a"}, Config{EjectAfter: -1}); return err }, "Config.EjectAfter -1 is negative"},
		{"EjectFor", func() error { _, err := NewP2C([]string{"a"}, Config{EjectFor: -time.Second}); return err }, "Config.EjectFor -1s is negative"},
		{"MaxEjectFor", func() error {
			_, err := NewP2C([]string{"a"}, Config{EjectFor: time.Minute, MaxEjectFor: time.Second})
			return err
		}, "Config.MaxEjectFor 1s below EjectFor 1m0s"},
		{"SlowStart", func() error { _, err := NewP2C([]string{"a"}, Config{SlowStart: -1}); return err }, "Config.SlowStart -1ns is negative"},
		{"DecayTime", func() error { _, err := NewPeakEWMA([]string{"a"}, Config{DecayTime: -1}); return err }, "Config.DecayTime -1ns is negative"},
		{"Replicas", func() error { _, err := NewConsistent([]string{"a"}, Config{Replicas: -3}); return err }, "Config.Replicas -3 is negative"},
		{"FailurePenalty", func() error {
			_, err := NewPeakEWMA([]string{"a"}, Config{FailurePenalty: -time.Millisecond})
			return err
		}, "Config.FailurePenalty -1ms is negative"},
		{"update duplicate", func() error {
			p, err := NewP2C([]string{"a"}, Config{})
			require.NoError(t, err)
			err = p.Update([]string{"x", "x"})
			assert.Equal(t, []string{"a"}, p.Nodes(), "failed Update changes nothing")
			return err
		}, "duplicate node x"},
		{"WRR too long a period", func() error {
			_, err := NewWeightedRoundRobin([]Weighted[int]{{1, 1 << 25}, {2, 3}, {3, 1}}, Config{})
			return err
		}, "exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "balance: "), err.Error())
		})
	}
	_, err := NewRandom([]string{}, Config{})
	assert.ErrorIs(t, err, ErrNoNodes)
}

func TestZeroAllocs(t *testing.T) {
	for name, p := range allPickers(t, hosts(10)) {
		allocs := testing.AllocsPerRun(100, func() {
			l, _ := p.Pick()
			l.Done(nil)
		})
		assert.Zerof(t, allocs, "%s Pick+Done", name)
	}
}

func errCanceled() error { return contextCanceled }

var contextCanceled = context.Canceled

// Two pickers built independently (each with its own random maphash seed, as
// in two client processes) over the same "host:port" nodes must send every
// key to the same node: a fleet of clients then keeps one backend's cache
// warm per key. Shuffled input order must not matter either.
func TestConsistentAgreesAcrossPickers(t *testing.T) {
	nodes := hosts(10)
	a, err := NewConsistent(nodes, Config{})
	require.NoError(t, err)
	shuffled := slices.Clone(nodes)
	slices.Reverse(shuffled)
	b, err := NewConsistent(shuffled, Config{})
	require.NoError(t, err)
	ks := keys(2000)
	assert.Equal(t, owners(t, a, ks), owners(t, b, ks))
}

// Non-string nodes keep the per-picker seed; they still route a key
// consistently within one picker.
func TestConsistentNonStringNodes(t *testing.T) {
	type backend struct{ id int }
	c, err := NewConsistent([]backend{{1}, {2}, {3}}, Config{})
	require.NoError(t, err)
	first, err := c.PickKey("user:42")
	require.NoError(t, err)
	first.Done(nil)
	for range 20 {
		l, err := c.PickKey("user:42")
		require.NoError(t, err)
		assert.Equal(t, first.Node, l.Node)
		l.Done(nil)
	}
}
