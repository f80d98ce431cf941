package bulkhead

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simService is a service with a hidden capacity: capacity workers, each call
// takes latency, calls beyond capacity wait for a worker (FIFO), so latency
// rises once concurrency exceeds capacity, as in a real thread pool.
type simService struct {
	workers chan struct{}
	latency atomic.Int64 // time.Duration
	shed    atomic.Bool  // every call fails fast as overloaded
}

func newSimService(capacity int, latency time.Duration) *simService {
	s := &simService{workers: make(chan struct{}, capacity)}
	s.latency.Store(int64(latency))
	return s
}

// call reports false when the service shed the call.
func (s *simService) call() bool {
	if s.shed.Load() {
		time.Sleep(time.Millisecond)
		return false
	}
	s.workers <- struct{}{}
	time.Sleep(time.Duration(s.latency.Load()))
	<-s.workers
	return true
}

// phase runs the service at latency for d, sampling the limit every tick.
type phase struct {
	latency time.Duration
	d       time.Duration
	shed    bool
}

// simulate drives a with clients closed-loop callers (a rejected caller backs
// off 5 ms) through the phases and returns, per phase, the limit sampled
// every 10 ms and the mean latency of the calls that completed in it. Must
// run inside a synctest bubble.
func simulate(a *Adaptive, capacity, clients int, phases []phase) ([][]int, []time.Duration) {
	svc := newSimService(capacity, phases[0].latency)
	stop := make(chan struct{})
	var current atomic.Int64 // phase index
	sums := make([]atomic.Int64, len(phases))
	counts := make([]atomic.Int64, len(phases))
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := a.Acquire(context.Background())
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				start := time.Now()
				if svc.call() {
					p.Done(nil)
					i := current.Load()
					sums[i].Add(int64(time.Since(start)))
					counts[i].Add(1)
				} else {
					p.Dropped()
				}
			}
		})
	}
	samples := make([][]int, len(phases))
	for i, ph := range phases {
		current.Store(int64(i))
		svc.latency.Store(int64(ph.latency))
		svc.shed.Store(ph.shed)
		for elapsed := time.Duration(0); elapsed < ph.d; elapsed += 10 * time.Millisecond {
			time.Sleep(10 * time.Millisecond)
			samples[i] = append(samples[i], a.Limit())
		}
	}
	close(stop)
	wg.Wait()
	rtts := make([]time.Duration, len(phases))
	for i := range phases {
		if n := counts[i].Load(); n > 0 {
			rtts[i] = time.Duration(sums[i].Load() / n)
		}
	}
	return samples, rtts
}

func mean(xs []int) float64 {
	sum := 0
	for _, x := range xs {
		sum += x
	}
	return float64(sum) / float64(len(xs))
}

func TestAdaptiveSettlesAndRecovers(t *testing.T) {
	const (
		capacity = 40
		base     = 10 * time.Millisecond
	)
	cases := []struct {
		name string
		cfg  AdaptiveConfig
	}{
		// AIMD reacts to drops and timeouts only: the service's SLA is 1.2x
		// its unloaded latency.
		{"AIMD", AdaptiveConfig{Algorithm: AIMD, Timeout: 12 * time.Millisecond, MaxLimit: 200}},
		{"Vegas", AdaptiveConfig{Algorithm: Vegas, MaxLimit: 200}},
		{"Gradient2", AdaptiveConfig{Algorithm: Gradient2, MaxLimit: 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, err := NewAdaptive(tc.cfg)
				require.NoError(t, err)
				a.alg = newAlgorithm(mustDefaults(t, tc.cfg), seededRandom())
				samples, _ := simulate(a, capacity, 2*capacity, []phase{
					{base, 3 * time.Second, false},     // settle
					{4 * base, 1 * time.Second, false}, // overload: latency spike
					{base, 3 * time.Second, false},     // recovery
				})
				lo, hi := 0.7*capacity, 1.3*capacity
				settled := mean(samples[0][len(samples[0])/2:])
				assert.InDelta(t, capacity, settled, hi-capacity, "settled mean limit %.1f, want within ±30%% of %d", settled, capacity)
				assert.Less(t, mean(samples[1][len(samples[1])/2:]), lo, "limit must fall during the overload")
				recovered := mean(samples[2][len(samples[2])/2:])
				assert.InDelta(t, capacity, recovered, hi-capacity, "recovered mean limit %.1f, want within ±30%% of %d", recovered, capacity)
				for _, ph := range samples {
					for _, l := range ph {
						require.GreaterOrEqual(t, l, 1)
						require.LessOrEqual(t, l, 200)
					}
				}
				t.Logf("settle %v\noverload %v\nrecover %v", samples[0], samples[1], samples[2])
			})
		})
	}
}

func mustDefaults(t *testing.T, cfg AdaptiveConfig) AdaptiveConfig {
	t.Helper()
	cfg, err := cfg.withDefaults()
	require.NoError(t, err)
	return cfg
}

// seededRandom is a deterministic stand-in for rand.Float64.
func seededRandom() func() float64 {
	x := uint64(42)
	return func() float64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return float64(x>>11) / (1 << 53)
	}
}

func TestAdaptiveRejectsAtLimit(t *testing.T) {
	var rejections int
	a, err := NewAdaptive(AdaptiveConfig{InitialLimit: 2, MaxLimit: 2, Observer: onReject(func(error) { rejections++ })})
	require.NoError(t, err)
	p1, err := a.Acquire(context.Background())
	require.NoError(t, err)
	p2, err := a.Acquire(context.Background())
	require.NoError(t, err)
	_, err = a.Acquire(context.Background())
	assert.ErrorIs(t, err, ErrFull)
	assert.ErrorIs(t, err, ErrRejected)
	assert.Equal(t, 1, rejections)
	p1.Done(nil)
	p2.Dropped()
	s := a.Stats()
	assert.Equal(t, int64(0), s.InFlight)
	assert.Equal(t, int64(2), s.Admitted)
	assert.Equal(t, int64(1), s.Rejected)
	assert.Equal(t, int64(1), s.Dropped)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = a.Acquire(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestAdaptiveDoOutcomes(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		wantDropped int64
	}{
		{"success", nil, 0},
		{"deadline is a drop", context.DeadlineExceeded, 1},
		{"wrapped deadline is a drop", fmt.Errorf("call: %w", context.DeadlineExceeded), 1},
		{"cancel ignored", context.Canceled, 0},
		{"other error ignored", fmt.Errorf("bad request"), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAdaptive(AdaptiveConfig{})
			require.NoError(t, err)
			got := a.Do(context.Background(), func(context.Context) error { return tc.err })
			assert.Equal(t, tc.err, got)
			assert.Equal(t, tc.wantDropped, a.Stats().Dropped)
			assert.Equal(t, int64(0), a.Stats().InFlight)
		})
	}
}

// go-concurrency-limits issue 117 reports Vegas stuck at 1 after overload.
// Pushed to MinLimit 1 by a phase where the service drops every call, ours
// climbs back.
func TestVegasNotStuckAtOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const capacity = 40
		a, err := NewAdaptive(AdaptiveConfig{Algorithm: Vegas, MaxLimit: 200})
		require.NoError(t, err)
		a.alg = newAlgorithm(mustDefaults(t, AdaptiveConfig{Algorithm: Vegas, MaxLimit: 200}), seededRandom())
		samples, _ := simulate(a, capacity, 2*capacity, []phase{
			{10 * time.Millisecond, time.Second, false},
			{10 * time.Millisecond, time.Second, true}, // the service sheds everything
			{10 * time.Millisecond, 3 * time.Second, false},
		})
		samples = samples[1:]
		assert.Contains(t, samples[0], 1, "the spike must push the limit to 1")
		t.Logf("spike %v\nafter %v", samples[0], samples[1])
		recovered := mean(samples[1][len(samples[1])/2:])
		assert.InDelta(t, capacity, recovered, 0.3*capacity, "recovered mean limit %.1f", recovered)
	})
}

// The limit never leaves [MinLimit, MaxLimit], and both bounds bind: a service
// with more capacity than MaxLimit pins the limit at MaxLimit, and an overload
// (every call shed, then a tenfold latency spike) pushes it down to MinLimit.
func TestAdaptiveStaysWithinBounds(t *testing.T) {
	const minLimit, maxLimit = 10, 30
	for _, alg := range []Algorithm{AIMD, Vegas, Gradient2} {
		t.Run(alg.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := AdaptiveConfig{Algorithm: alg, MinLimit: minLimit, MaxLimit: maxLimit, Timeout: 12 * time.Millisecond}
				a, err := NewAdaptive(cfg)
				require.NoError(t, err)
				a.alg = newAlgorithm(mustDefaults(t, cfg), seededRandom())
				samples, _ := simulate(a, 100, 100, []phase{
					{10 * time.Millisecond, 2 * time.Second, false},
					{10 * time.Millisecond, time.Second, true},
					{100 * time.Millisecond, 5 * time.Second, false},
				})
				lowest, highest := maxLimit, minLimit
				for _, ph := range samples {
					for _, l := range ph {
						lowest, highest = min(lowest, l), max(highest, l)
					}
				}
				t.Logf("limits seen in [%d, %d]", lowest, highest)
				assert.Equal(t, maxLimit, highest, "the limit must reach MaxLimit and not pass it")
				assert.Equal(t, minLimit, lowest, "the limit must reach MinLimit and not pass it")
			})
		})
	}
}

// AIMD with its defaults must protect a service from overload: with four
// times more callers than the service runs in parallel, its limit stays near
// 1.5 times the service's parallelism and latency near 1.5 times the
// unloaded one
// (Netflix's fixed 5 s timeout never fires here, and the limit climbed to
// the number of callers). When the service's own latency then climbs far
// above that baseline, the limit comes down; when it recovers, so does the
// limit.
func TestAIMDDefaultsProtect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			capacity = 40
			clients  = 4 * capacity
			base     = 10 * time.Millisecond
		)
		a, err := NewAdaptive(AdaptiveConfig{Algorithm: AIMD})
		require.NoError(t, err)
		samples, rtts := simulate(a, capacity, clients, []phase{
			{base, 5 * time.Second, false},     // overload at the service's normal speed
			{6 * base, 3 * time.Second, false}, // the service slows down sixfold
			{base, 5 * time.Second, false},     // and recovers
		})
		t.Logf("mean RTT per phase %v", rtts)
		settled := mean(samples[0][len(samples[0])/2:])
		assert.GreaterOrEqual(t, settled, float64(capacity), "the limit must keep the service busy")
		assert.LessOrEqual(t, settled, 1.75*capacity, "the limit must stay near Tolerance × the service's parallelism, not climb toward the %d callers", clients)
		assert.LessOrEqual(t, rtts[0], 7*base/4, "latency under overload")
		slowed := mean(samples[1][len(samples[1])/2:])
		assert.Less(t, slowed, settled/2, "the limit must come down while latency is far above the baseline")
		recovered := mean(samples[2][len(samples[2])/2:])
		assert.InDelta(t, settled, recovered, 0.3*settled, "the limit must come back")
	})
}

// A baseline learnt while the service was already overloaded is too high;
// AIMD's probe (a quarter of the limit for a moment) finds the real no-load
// latency, and the limit then comes down to protect the service.
func TestAIMDProbeCorrectsStaleBaseline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			capacity = 40
			clients  = 4 * capacity
			base     = 10 * time.Millisecond
		)
		a, err := NewAdaptive(AdaptiveConfig{Algorithm: AIMD, InitialLimit: clients})
		require.NoError(t, err)
		// The first window runs at 4x the service's parallelism: RTT 4x base.
		samples, rtts := simulate(a, capacity, clients, []phase{
			{base, 2 * time.Second, false},
			{base, 60 * time.Second, false},
		})
		t.Logf("mean RTT per phase %v", rtts)
		assert.Greater(t, mean(samples[0]), 3.0*capacity, "before any probe the stale baseline lets the limit stay high")
		late := samples[1][len(samples[1])*3/4:]
		t.Logf("limit before the first probe %.1f, late %.1f", mean(samples[0]), mean(late))
		assert.LessOrEqual(t, mean(late), 1.75*capacity)
		assert.GreaterOrEqual(t, mean(late), float64(capacity))
	})
}

// A probe step table: once probeInterval has passed without a measurement,
// the limit drops to a quarter; windows whose calls were admitted above the
// probe limit are waited out; the first clean window sets the baseline and
// the limit comes back.
func TestAIMDProbeSteps(t *testing.T) {
	start := time.Unix(1000, 0)
	a := &aimd{bounds: bounds{1, 1000}, limit: 40, backoff: 0.9, tolerance: 2}
	steps := []struct {
		name     string
		at       time.Duration
		rtt      time.Duration
		inFlight int
		want     int
		noLoad   time.Duration
	}{
		{"first window sets the baseline", 0, 40 * time.Millisecond, 40, 41, 40 * time.Millisecond},
		{"under tolerance: +1", time.Second, 70 * time.Millisecond, 41, 42, 40 * time.Millisecond},
		{"over tolerance: x0.9", 2 * time.Second, 90 * time.Millisecond, 42, 37, 40 * time.Millisecond},
		{"app-limited window: baseline kept", 3 * time.Second, 10 * time.Millisecond, 5, 37, 40 * time.Millisecond},
		{"probe due: +1, then a quarter of in flight", 10 * time.Second, 50 * time.Millisecond, 36, 9, 40 * time.Millisecond},
		{"draining: still a quarter", 10100 * time.Millisecond, 50 * time.Millisecond, 36, 9, 40 * time.Millisecond},
		{"clean window: baseline halfway, limit back", 10200 * time.Millisecond, 10 * time.Millisecond, 9, 38, 25 * time.Millisecond},
		{"now 60 ms is over tolerance", 11 * time.Second, 60 * time.Millisecond, 38, 34, 25 * time.Millisecond},
	}
	for _, st := range steps {
		got := a.update(start.Add(st.at), st.rtt, st.inFlight, false)
		assert.Equal(t, st.want, got, st.name)
		assert.Equal(t, float64(st.noLoad), a.noLoad, st.name)
	}
}
