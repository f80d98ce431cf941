package balance

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		assert.Equal(t, int64(picks["dead"]), st.Failures)
		assert.Greater(t, st.Latency, 5*time.Millisecond, "dead node's estimate must exceed the healthy latency")
	})
}

func TestPeakEWMAFailurePenaltyValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Default: 10× the reference latency, a recent successful estimate.
		p, err := NewPeakEWMA([]string{"a", "b"}, Config{})
		require.NoError(t, err)
		la := Permit[string]{Node: "a", st: p.snap.Load().states[0], start: p.cfg.now()}
		p.snap.Load().states[0].flight.Add(1)
		time.Sleep(3 * time.Millisecond)
		la.Done(nil)
		lb := Permit[string]{Node: "b", st: p.snap.Load().states[1], start: p.cfg.now()}
		p.snap.Load().states[1].flight.Add(1)
		lb.Done(errBoom)
		st := p.Stats().Nodes
		assert.Equal(t, 3*time.Millisecond, st[0].Latency)
		assert.Equal(t, 30*time.Millisecond, st[1].Latency, "failed fast: 10× the reference")

		// A cancelled request is not the node's fault: no penalty.
		lb = Permit[string]{Node: "b", st: p.snap.Load().states[1], start: p.cfg.now()}
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
