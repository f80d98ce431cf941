package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrentInvariants hammers one breaker from 8 goroutines × 10,000
// calls with random outcomes and checks the invariants that must survive
// any interleaving: every admitted call is counted once, at most
// HalfOpenCalls probes are in flight, and the observer sees a valid,
// duplicate-free sequence.
func TestConcurrentInvariants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		manual bool // one goroutine also calls Trip and Reset
	}{
		{"count window", Config{WindowSize: 20, MinCalls: 5}, false},
		{"time window", Config{WindowTime: 50 * time.Millisecond, MinCalls: 5, FailureRate: 0.3}, false},
		{"slow calls", Config{WindowSize: 20, MinCalls: 5, SlowCall: time.Millisecond, FailureRate: 0.9, SlowRate: 0.3}, false},
		{"time window with Trip and Reset", Config{WindowTime: 5 * time.Millisecond, Buckets: 5, MinCalls: 5, FailureRate: 0.3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) { hammer(t, tc.cfg, tc.manual) })
	}
}

func hammer(t *testing.T, cfg Config, manual bool) {
	const goroutines, calls, probes = 8, 10_000, 3
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var events []string
		last := Closed
		cfg.OpenFor = 2 * time.Millisecond
		cfg.HalfOpenCalls = probes
		cfg.Observer = func(e Event) {
			if e.Kind != EventStateChange {
				return
			}
			from, to := e.From, e.To
			mu.Lock()
			defer mu.Unlock()
			if from != last || from == to || (from == Closed && to == HalfOpen) {
				t.Errorf("transition %d %s→%s after state %s", len(events), from, to, last)
			}
			last = to
			events = append(events, from.String()+"→"+to.String())
		}
		b, err := New(cfg)
		require.NoError(t, err)

		var admitted, rejected, inFlightProbes, maxProbes atomic.Int64
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 42))
				for i := range calls {
					if i%50 == 0 {
						time.Sleep(time.Millisecond) // let the fake clock move
					}
					if manual && g == 0 && i%1000 == 10 {
						b.Trip()
					}
					if manual && g == 0 && i%1000 == 510 {
						b.Reset()
					}
					p, err := b.Allow()
					if err != nil {
						if !errors.Is(err, ErrOpen) {
							t.Errorf("rejection %v does not match ErrOpen", err)
						}
						rejected.Add(1)
						continue
					}
					admitted.Add(1)
					if p.isProbe() {
						n := inFlightProbes.Add(1)
						for m := maxProbes.Load(); n > m && !maxProbes.CompareAndSwap(m, n); m = maxProbes.Load() {
						}
					}
					outcome := rng.IntN(10)
					if outcome == 0 && cfg.SlowCall > 0 {
						time.Sleep(cfg.SlowCall)
					}
					if p.isProbe() {
						inFlightProbes.Add(-1)
					}
					switch {
					case outcome < 6:
						p.Done(nil)
					case outcome < 9:
						p.Done(errBoomInternal)
					default:
						p.Done(context.Canceled)
					}
				}
			})
		}
		wg.Wait()

		s := b.Stats()
		require.Equal(t, int64(goroutines*calls), admitted.Load()+rejected.Load())
		require.Equal(t, admitted.Load(), s.Successes+s.Failures+s.Ignored, "every admitted call recorded once: %+v", s)
		require.Equal(t, rejected.Load(), s.Rejected)
		if !manual { // a Trip or Reset frees the slots of probes still in flight
			require.LessOrEqual(t, maxProbes.Load(), int64(probes))
		}
		require.Positive(t, maxProbes.Load(), "some probes should have run: %+v %v", s, summary(events))
		mu.Lock()
		defer mu.Unlock()
		require.NotZero(t, s.Trips, "the random failures should trip the breaker")
		opens := 0
		for _, e := range events {
			if e == "closed→open" || e == "half-open→open" {
				opens++
			}
		}
		require.Equal(t, s.Trips, int64(opens), "one EventStateChange per trip: %v", summary(events))
	})
}

var errBoomInternal = errors.New("boom")

func summary(events []string) string {
	counts := map[string]int{}
	for _, e := range events {
		counts[e]++
	}
	return fmt.Sprint(counts)
}
