package balance

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// brownout sends requests on p under the fake clock, open loop, one every
// millisecond: each node answers in latency(node). It waits for the last
// answer and returns the picks per node.
func brownout(t *testing.T, p *PeakEWMA[string], requests int, latency func(string) time.Duration) map[string]int {
	var mu sync.Mutex
	picks := map[string]int{}
	var wg sync.WaitGroup
	for range requests {
		l := mustPick(t, p)
		picks[l.Node]++
		wg.Go(func() {
			mu.Lock()
			d := latency(l.Node)
			mu.Unlock()
			time.Sleep(d)
			l.Done(nil)
		})
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	return picks
}

// Two of five nodes turn 20× slower. Without SlowFactor, P2C on peak-EWMA
// load still hands them the picks in which both candidates are slow (about
// one in ten); with it, EjectAfter slow answers in a row eject each of them
// and they get no picks until EjectFor has passed, then picks again once
// they are fast.
func TestSlowFactorEjectsSlowNodes(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "slow1", "slow2"}
	slow := true
	latency := func(n string) time.Duration {
		if slow && (n == "slow1" || n == "slow2") {
			return 40 * time.Millisecond
		}
		return 2 * time.Millisecond
	}
	slowPicks := func(m map[string]int) int { return m["slow1"] + m["slow2"] }

	t.Run("off", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p, err := NewPeakEWMA(nodes, Config{EjectAfter: 3, EjectFor: 10 * time.Second, DecayTime: time.Second})
			require.NoError(t, err)
			seed(p.cfg, 3)
			brownout(t, p, 200, latency)
			got := slowPicks(brownout(t, p, 2000, latency))
			assert.Greater(t, got, 100, "slow nodes' picks of 2000 without SlowFactor (both-slow draws are 10%)")
			assert.Equal(t, 0, p.Stats().Ejected)
		})
	})
	t.Run("on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			slow = true
			var events []Event
			p, err := NewPeakEWMA(nodes, Config{EjectAfter: 3, EjectFor: 10 * time.Second, DecayTime: time.Second, SlowFactor: 5,
				Observer: func(e Event) { events = append(events, e) }})
			require.NoError(t, err)
			seed(p.cfg, 3)
			brownout(t, p, 200, latency)
			require.NotEmpty(t, events, "a slow node ejected during warm-up")
			for _, e := range events {
				require.Equal(t, EventEjected, e.Kind)
				assert.Equal(t, int64(3), e.Failures, "the run of slow answers")
			}
			for _, n := range p.Stats().Nodes {
				assert.Zero(t, n.Failures, "%s: a slow answer is no failure in Stats", n.Node)
			}
			start := time.Now()
			got := brownout(t, p, 2000, latency) // within EjectFor
			require.Less(t, time.Since(start), 10*time.Second)
			// One slow node is ejected; the other is no longer drawn beside
			// it, and P2C avoids it beside any fast node.
			assert.LessOrEqual(t, slowPicks(got), 5, "slow nodes' picks of 2000")

			slow = false
			time.Sleep(10 * time.Second)
			brownout(t, p, 3000, latency)
			got = brownout(t, p, 2000, latency)
			assert.Equal(t, 0, p.Stats().Ejected, "recovered nodes back")
			assert.InDelta(t, 800, slowPicks(got), 300, "recovered nodes' picks of 2000 (fair share 800)")
		})
	})
}

// When the whole fleet slows down together the median rises with it:
// nobody is an outlier and nobody is ejected.
func TestSlowFactorFleetWideSlowdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA([]string{"a", "b", "c", "d"}, Config{EjectAfter: 3, SlowFactor: 5})
		require.NoError(t, err)
		seed(p.cfg, 5)
		d := 2 * time.Millisecond
		latency := func(string) time.Duration { return d }
		brownout(t, p, 200, latency)
		for range 5 {
			d *= 3 // each step 3× slower: below the factor 5 a step, 243× overall
			brownout(t, p, 200, latency)
		}
		assert.Equal(t, 0, p.Stats().Ejected)
		for _, n := range p.Stats().Nodes {
			assert.Zero(t, n.Ejections, "%s", n.Node)
		}
	})
}

// Isolated spikes never eject: every node spikes to 100 ms on every 20th
// answer; with a short DecayTime the estimates fall back between spikes,
// so the median stays near 1 ms and each spike does count as slow, but the
// fast answers around it end its run long before EjectAfter (5).
func TestSlowFactorSpikesDoNotEject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA([]string{"a", "b", "c"}, Config{SlowFactor: 5, DecayTime: 20 * time.Millisecond})
		require.NoError(t, err)
		seed(p.cfg, 7)
		answers := map[string]int{}
		var longest int64
		brownout(t, p, 3000, func(n string) time.Duration {
			for _, n := range p.Stats().Nodes {
				longest = max(longest, n.ConsecutiveFailures)
				assert.Zero(t, n.Ejections, "%s", n.Node)
			}
			answers[n]++
			if answers[n]%20 == 0 {
				return 100 * time.Millisecond
			}
			return time.Millisecond
		})
		assert.Positive(t, longest, "spikes counted as slow")
		assert.Less(t, longest, int64(5), "runs of slow answers ended by fast ones before EjectAfter")
	})
}

// The cap still holds: with MaxEjectedPercent 20 and two slow nodes of
// five, at most one is ejected at any time.
func TestSlowFactorRespectsCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA([]string{"n1", "n2", "n3", "s1", "s2"},
			Config{EjectAfter: 3, SlowFactor: 5, EjectFor: time.Second, MaxEjectedPercent: 20, DecayTime: time.Second})
		require.NoError(t, err)
		seed(p.cfg, 9)
		brownout(t, p, 5000, func(n string) time.Duration {
			assert.LessOrEqual(t, p.Stats().Ejected, 1)
			if n[0] == 's' {
				return 30 * time.Millisecond
			}
			return time.Millisecond
		})
		var ejections int64
		for _, n := range p.Stats().Nodes {
			ejections += n.Ejections
		}
		assert.Greater(t, ejections, int64(1), "slow nodes ejected again and again, one at a time")
	})
}

// A pause of the whole process makes every answer it holds late at once,
// with none in time meanwhile: that is no outlier, and nothing is ejected,
// however many answers come back late together.
func TestSlowFactorProcessStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA(hosts(5), Config{EjectAfter: 3, SlowFactor: 5})
		require.NoError(t, err)
		seed(p.cfg, 13)
		fast := func(string) time.Duration { return 2 * time.Millisecond }
		brownout(t, p, 500, fast)
		for range 5 {
			var wg sync.WaitGroup
			for range 40 { // 40 requests out when the process stops for 500 ms
				l := mustPick(t, p)
				wg.Go(func() {
					time.Sleep(500 * time.Millisecond)
					l.Done(nil)
				})
			}
			wg.Wait()
			brownout(t, p, 20, fast)
		}
		for _, n := range p.Stats().Nodes {
			assert.Zero(t, n.Ejections, "%s", n.Node)
		}
	})
}

func TestSlowFactorConfig(t *testing.T) {
	for _, f := range []float64{-1, 0.5, 1, math.NaN(), math.Inf(1)} {
		_, err := NewPeakEWMA([]string{"a"}, Config{SlowFactor: f})
		require.Error(t, err, "%v", f)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.Contains(t, err.Error(), "Config.SlowFactor")
	}
	_, err := NewPeakEWMA([]string{"a"}, Config{SlowFactor: 1.5})
	assert.NoError(t, err)
}

func TestLowerMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 40; n++ {
		for range 50 {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(r.IntN(8)) // many ties
			}
			sorted := slices.Sorted(slices.Values(v))
			assert.Equal(t, sorted[(n-1)/2], lowerMedian(v), "%v", sorted)
		}
	}
}

func TestSlowFactorDoneAllocs(t *testing.T) {
	p, err := NewPeakEWMA(hosts(8), Config{SlowFactor: 5})
	require.NoError(t, err)
	n := testing.AllocsPerRun(1000, func() {
		l, _ := p.Pick()
		l.Done(nil)
	})
	assert.Zero(t, n)
}
