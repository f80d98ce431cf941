package balance

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/internal/fastrand"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errBoom = errors.New("boom")

// seed makes a picker's randomness deterministic (single goroutine only).
func seed(cfg *settings, s uint64) {
	cfg.rng.SeedOne(s) // one stream, whatever the stack address
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
// with no Done. Azar, Broder, Karlin, Upfal, "Balanced Allocations", 1999:
// the fullest bin holds ln ln n/ln 2 + O(1) with two choices, about
// ln n/ln ln n with one; at n = 10^4 that is 3 or 4 against 6 to 9.
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
	var held []Permit[string]
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
// is predicted by drawing it from a second source seeded alike.
func TestLeastLoadedTieBreak(t *testing.T) {
	for n := 1; n <= 12; n++ {
		nodes := make([]int, n)
		for i := range nodes {
			nodes[i] = i
		}
		p, err := NewLeastLoaded(nodes, Config{})
		require.NoError(t, err)
		seed(p.cfg, uint64(n))
		var shadow fastrand.Striped // the same stream: one draw per Pick
		shadow.SeedOne(uint64(n))
		var held []Permit[int]
		for step := range 500 {
			// Release a pseudo-random held Permit about every other step,
			// keeping loads small so that ties are common.
			if k := step * 7919 % 13; len(held) > 0 && (k%2 == 0 || len(held) > 2*n) {
				k %= len(held)
				held[k].Done(nil)
				held = slices.Delete(held, k, k+1)
			}
			start := fastrange(uint32(shadow.Uint64()), n)
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

func mustPick[N comparable](t *testing.T, p Picker[N]) Permit[N] {
	t.Helper()
	l, err := p.Pick()
	require.NoError(t, err)
	return l
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
	assert.Equal(t, int64(10), after.Nodes[0].Picks, "c keeps its count")
	assert.Zero(t, after.Nodes[1].Picks, "new node")
	assert.Equal(t, int64(11), after.Nodes[2].Picks)
	assert.Equal(t, int64(1), after.Nodes[2].InFlight, "held permit still counted")
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

	var zero Permit[string]
	zero.Done(nil) // zero Permit: no-op
}

// A second Done through a copy of a Permit must not drive the packed
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
	assert.Equal(t, int64(1), st.Picks)
	l = mustPick(t, p)
	assert.Equal(t, int64(1), p.Stats().Nodes[0].InFlight)
	l.Done(nil)
	assert.Equal(t, int64(2), p.Stats().Nodes[0].Picks)
}

// The done half of the packed counter wraps every 2^32 Permits; Stats.Picks
// must carry on counting.
func TestPicksSurviveCounterWrap(t *testing.T) {
	p, err := NewRoundRobin([]string{"a"}, Config{})
	require.NoError(t, err)
	st := p.snap.Load().states[0]
	st.flight.Store(inFlightMask << 32) // 2^32-1 Permits done, none in flight
	l := mustPick(t, p)
	assert.Equal(t, int64(1)<<32, p.Stats().Nodes[0].Picks)
	l.Done(nil)
	ns := p.Stats().Nodes[0]
	assert.Equal(t, int64(1)<<32, ns.Picks)
	assert.Zero(t, ns.InFlight)
	assert.Equal(t, int64(1), st.wraps.Load())
	pickN(t, p, 3)
	assert.Equal(t, int64(1)<<32+3, p.Stats().Nodes[0].Picks)
}

func TestNoNodes(t *testing.T) {
	for name, p := range allPickers(t, []string{"a"}) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, p.update(nil))
			_, err := p.Pick()
			assert.ErrorIs(t, err, ErrNoNodes)
			assert.ErrorIs(t, err, bulwark.ErrNotAttempted, "no node: a local rejection")
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
	mark   func(string, time.Time, error) bool
	cfg    *settings
}

func ws(nodes []string) []Weighted[string] { return unit(nodes) }

// pickerNames lists allPickers' keys in a fixed order, for tests that must
// not depend on map order.
var pickerNames = []string{"RoundRobin", "WeightedRoundRobin", "Random", "WeightedRandom", "LeastLoaded", "P2C", "PeakEWMA", "Consistent"}

func allPickers(t *testing.T, nodes []string) map[string]testPicker {
	return allPickersWith(t, nodes, Config{})
}

// allPickersWith builds one picker of every type over nodes with cfg.
func allPickersWith(t *testing.T, nodes []string, cfg Config) map[string]testPicker {
	t.Helper()
	out := map[string]testPicker{}
	rr, err := NewRoundRobin(nodes, cfg)
	require.NoError(t, err)
	out["RoundRobin"] = testPicker{rr, rr.Update, rr.Nodes, rr.Stats, rr.MarkUnavailable, rr.cfg}
	wrr, err := NewWeightedRoundRobin(ws(nodes), cfg)
	require.NoError(t, err)
	out["WeightedRoundRobin"] = testPicker{wrr, func(n []string) error { return wrr.Update(ws(n)) }, wrr.Nodes, wrr.Stats, wrr.MarkUnavailable, wrr.cfg}
	rnd, err := NewRandom(nodes, cfg)
	require.NoError(t, err)
	out["Random"] = testPicker{rnd, rnd.Update, rnd.Nodes, rnd.Stats, rnd.MarkUnavailable, rnd.cfg}
	wr, err := NewWeightedRandom(ws(nodes), cfg)
	require.NoError(t, err)
	out["WeightedRandom"] = testPicker{wr, func(n []string) error { return wr.Update(ws(n)) }, wr.Nodes, wr.Stats, wr.MarkUnavailable, wr.cfg}
	ll, err := NewLeastLoaded(nodes, cfg)
	require.NoError(t, err)
	out["LeastLoaded"] = testPicker{ll, ll.Update, ll.Nodes, ll.Stats, ll.MarkUnavailable, ll.cfg}
	p2c, err := NewP2C(nodes, cfg)
	require.NoError(t, err)
	out["P2C"] = testPicker{p2c, p2c.Update, p2c.Nodes, p2c.Stats, p2c.MarkUnavailable, p2c.cfg}
	pe, err := NewPeakEWMA(nodes, cfg)
	require.NoError(t, err)
	out["PeakEWMA"] = testPicker{pe, pe.Update, pe.Nodes, pe.Stats, pe.MarkUnavailable, pe.cfg}
	c, err := NewConsistent(nodes, cfg)
	require.NoError(t, err)
	out["Consistent"] = testPicker{c, c.Update, c.Nodes, c.Stats, c.MarkUnavailable, c.cfg}
	require.Len(t, out, len(pickerNames))
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
		{"UnavailableFor", func() error { _, err := NewP2C([]string{"a"}, Config{UnavailableFor: -time.Second}); return err }, "Config.UnavailableFor -1s is negative"},
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
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.NotErrorIs(t, err, bulwark.ErrNotAttempted, "a config error is no local rejection")
		})
	}
	_, err := NewRandom([]string{}, Config{})
	assert.ErrorIs(t, err, ErrNoNodes)
	assert.ErrorIs(t, err, ErrInvalidConfig)
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
