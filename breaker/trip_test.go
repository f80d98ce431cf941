package breaker_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

func TestConsecutiveFailuresSteps(t *testing.T) {
	const (
		C = breaker.Closed
		O = breaker.Open
	)
	three := breaker.Config{ConsecutiveFailures: 3, OpenFor: time.Second}
	tests := []struct {
		name  string
		cfg   breaker.Config
		steps []step
	}{
		{"trips on the Nth failure in a row, MinCalls aside", three, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "fail", O}, {0, "reject", O},
		}},
		{"a success ends the run", three, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "ok", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", O},
		}},
		{"ignored calls neither extend nor end the run", three, []step{
			{0, "fail", C}, {0, "ignore", C}, {0, "fail", C}, {0, "ignore", C}, {0, "fail", O},
		}},
		{"a slow success ends the run", breaker.Config{ConsecutiveFailures: 2, SlowCall: slowCall}, []step{
			{0, "fail", C}, {0, "slow", C}, {0, "fail", C}, {0, "fail", O},
		}},
		{"alone it is the whole rule: no failure-rate trip", breaker.Config{ConsecutiveFailures: 3, WindowSize: 4, MinCalls: 4}, []step{
			{0, "fail", C}, {0, "ok", C}, {0, "fail", C}, {0, "ok", C}, {0, "fail", C}, {0, "fail", C}, {0, "ok", C},
		}},
		{"with FailureRate set, either rule trips", breaker.Config{ConsecutiveFailures: 3, FailureRate: 0.5, WindowSize: 4, MinCalls: 4}, []step{
			{0, "fail", C}, {0, "ok", C}, {0, "fail", C}, {0, "ok", O},
		}},
		{"the run is not bounded by a count window", breaker.Config{ConsecutiveFailures: 4, WindowSize: 2, MinCalls: 2}, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", O},
		}},
		{"nor by a time window", breaker.Config{ConsecutiveFailures: 2, WindowTime: 10 * time.Second}, []step{
			{0, "fail", C}, {time.Minute, "fail", O},
		}},
		{"a close starts a new run", breaker.Config{ConsecutiveFailures: 2, OpenFor: time.Second}, []step{
			{0, "fail", C}, {0, "fail", O}, {time.Second, "ok", C}, {0, "fail", C}, {0, "fail", O},
		}},
		{"Reset starts a new run", three, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "reset", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", O},
		}},
		{"panics count as failures in the run", three, []step{
			{0, "fail", C}, {0, "do-panic", C}, {0, "call-panic", O},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.cfg, tc.steps) })
	}
}

func TestShouldTripSteps(t *testing.T) {
	const (
		C = breaker.Closed
		O = breaker.Open
	)
	tests := []struct {
		name  string
		trip  func(breaker.Counts) bool
		steps []step
	}{
		{"trips when the predicate holds", func(c breaker.Counts) bool { return c.Failures >= 2 && c.Calls >= 3 }, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "ok", C}, // a success is seen with the next failure
			{0, "fail", O},
		}},
		{"sees the run of failures", func(c breaker.Counts) bool { return c.ConsecutiveFailures >= 3 }, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "ok", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", O},
		}},
		{"sees slow calls", func(c breaker.Counts) bool { return c.SlowCalls >= 2 }, []step{
			{0, "slow", C}, {0, "ok", C}, {0, "slow", O},
		}},
		{"replaces the built-in rule", func(breaker.Counts) bool { return false }, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", C},
			{0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", C},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, breaker.Config{ShouldTrip: tc.trip, WindowSize: 4, SlowCall: slowCall}, tc.steps)
		})
	}
}

// ShouldTrip receives the window's counts, and is called outside the
// breaker's lock: it may call the breaker.
func TestShouldTripCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []breaker.Counts
		var b *breaker.Breaker
		b, err := breaker.New(breaker.Config{WindowSize: 3, SlowCall: slowCall, ShouldTrip: func(c breaker.Counts) bool {
			_ = b.Stats() // would deadlock under the lock
			got = append(got, c)
			return false
		}})
		require.NoError(t, err)
		for _, act := range []string{"fail", "ok", "slow", "fail", "fail", "ok", "ok", "fail"} {
			p, err := b.Allow()
			require.NoError(t, err)
			finish(p, act)
		}
		require.Equal(t, []breaker.Counts{
			{Calls: 1, Failures: 1, ConsecutiveFailures: 1},               // fail
			{Calls: 3, Failures: 1, SlowCalls: 1},                         // fail ok slow
			{Calls: 3, Failures: 1, SlowCalls: 1, ConsecutiveFailures: 1}, // ok slow fail
			{Calls: 3, Failures: 2, SlowCalls: 1, ConsecutiveFailures: 2}, // slow fail fail
			{Calls: 3, Failures: 1, ConsecutiveFailures: 1},               // ok ok fail
		}, got)
		require.Equal(t, int64(1), b.Stats().ConsecutiveFailures)
	})
}
