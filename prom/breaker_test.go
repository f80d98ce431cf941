package bulwarkprom_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

var errDown = errors.New("down")

// TestBreakerMetrics runs a breaker through Closed → Open → HalfOpen →
// Closed and compares the complete exposition after each phase with
// testdata/breaker_open.txt and testdata/breaker_closed.txt.
func TestBreakerMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Breaker()
		b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 2,
			OpenFor: time.Second, SlowCall: 100 * time.Millisecond, Observer: m.Observe})
		require.NoError(t, err)
		stop := m.Watch(b)
		ctx := context.Background()
		ok := func(context.Context) error { return nil }
		fail := func(context.Context) error { return errDown }

		require.NoError(t, b.Do(ctx, ok))
		require.NoError(t, b.Do(ctx, func(context.Context) error { time.Sleep(200 * time.Millisecond); return nil })) // slow
		require.ErrorIs(t, b.Do(ctx, fail), errDown)
		require.ErrorIs(t, b.Do(ctx, fail), errDown) // trips
		require.ErrorIs(t, b.Do(ctx, ok), breaker.ErrOpen)
		require.ErrorIs(t, b.Do(ctx, ok), breaker.ErrOpen)
		compareGolden(t, m, "breaker_open.txt")

		time.Sleep(time.Second)
		require.NoError(t, b.Do(ctx, ok)) // the probe closes the breaker
		compareGolden(t, m, "breaker_closed.txt")

		// The golden text agrees with the breaker's own counters.
		st := b.Stats()
		require.Equal(t, breaker.Stats{State: breaker.Closed, Successes: 3, Failures: 2, SlowCalls: 1, Rejected: 2, Trips: 1},
			breaker.Stats{State: st.State, Successes: st.Successes, Failures: st.Failures, SlowCalls: st.SlowCalls,
				Rejected: st.Rejected, Trips: st.Trips})

		stop()
		require.Zero(t, testutil.CollectAndCount(m, "bulwark_breaker_state"), "state collected after stop")
	})
}

// TestBreakerGroupMetrics watches a Group and one of its members directly:
// every member's state is reported once, under "<group>/<key>".
func TestBreakerGroupMetrics(t *testing.T) {
	m := bulwarkprom.Breaker()
	g, err := breaker.NewGroup(breaker.Config{Name: "hosts", ConsecutiveFailures: 1, OpenFor: time.Minute,
		Observer: m.Observe}, breaker.GroupConfig{})
	require.NoError(t, err)
	defer m.WatchGroup(g)()
	defer m.Watch(g.Get("a"))() // watched twice: reported once

	ctx := context.Background()
	require.NoError(t, g.Get("a").Do(ctx, func(context.Context) error { return nil }))
	require.ErrorIs(t, g.Get("b").Do(ctx, func(context.Context) error { return errDown }), errDown)
	compare(t, m, `
# HELP bulwark_breaker_state 1 for the breaker's current state, 0 for the others.
# TYPE bulwark_breaker_state gauge
bulwark_breaker_state{name="hosts/a",state="closed"} 1
bulwark_breaker_state{name="hosts/a",state="half_open"} 0
bulwark_breaker_state{name="hosts/a",state="open"} 0
bulwark_breaker_state{name="hosts/b",state="closed"} 0
bulwark_breaker_state{name="hosts/b",state="half_open"} 0
bulwark_breaker_state{name="hosts/b",state="open"} 1
`)
}

// TestBreakerObserveKinds feeds Observe the events a script cannot produce
// deterministically (a throttle's random shedding), those of opt-in
// features (Shadow, SlowCall), which appear with their first event, and a
// kind and a reason it does not know.
func TestBreakerObserveKinds(t *testing.T) {
	m := bulwarkprom.Breaker()
	for _, e := range []breaker.Event{
		{Kind: breaker.EventIgnored},
		{Kind: breaker.EventFailure, Slow: true},
		{Kind: breaker.EventRejected, Reason: breaker.ReasonThrottled},
		{Kind: breaker.EventRejected, Reason: breaker.ReasonHalfOpen},
		{Kind: breaker.EventRejected, Reason: breaker.ReasonOpen, Shadow: true},
		{Kind: breaker.EventRejected, Reason: 99},
		{Kind: breaker.EventStateChange, From: breaker.Open, To: 9},
		{Kind: 99},
	} {
		e.Name = "x"
		m.Observe(e)
	}
	compare(t, m, `
# HELP bulwark_breaker_calls_total Calls a circuit breaker admitted that ended, by outcome.
# TYPE bulwark_breaker_calls_total counter
bulwark_breaker_calls_total{name="x",outcome="failure"} 1
bulwark_breaker_calls_total{name="x",outcome="ignored"} 1
bulwark_breaker_calls_total{name="x",outcome="success"} 0
# HELP bulwark_breaker_slow_calls_total Calls that ended after at least the breaker's SlowCall, by outcome.
# TYPE bulwark_breaker_slow_calls_total counter
bulwark_breaker_slow_calls_total{name="x",outcome="failure"} 1
# HELP bulwark_breaker_rejections_total Calls a circuit breaker or throttle refused, by reason.
# TYPE bulwark_breaker_rejections_total counter
bulwark_breaker_rejections_total{name="x",reason="half_open"} 1
bulwark_breaker_rejections_total{name="x",reason="open"} 0
bulwark_breaker_rejections_total{name="x",reason="throttled"} 1
bulwark_breaker_rejections_total{name="x",reason="unknown"} 1
# HELP bulwark_breaker_shadow_rejections_total Calls a breaker in Shadow mode would have refused and let through, by reason.
# TYPE bulwark_breaker_shadow_rejections_total counter
bulwark_breaker_shadow_rejections_total{name="x",reason="open"} 1
# HELP bulwark_breaker_transitions_total Circuit breaker state changes.
# TYPE bulwark_breaker_transitions_total counter
bulwark_breaker_transitions_total{from="closed",name="x",to="half_open"} 0
bulwark_breaker_transitions_total{from="closed",name="x",to="open"} 0
bulwark_breaker_transitions_total{from="half_open",name="x",to="closed"} 0
bulwark_breaker_transitions_total{from="half_open",name="x",to="open"} 0
bulwark_breaker_transitions_total{from="open",name="x",to="closed"} 0
bulwark_breaker_transitions_total{from="open",name="x",to="half_open"} 0
`)
}
