package bulwarkprom_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

var errDown = errors.New("down")

// compare checks the series named in want's TYPE lines against the
// exposition text want.
func compare(t *testing.T, c prometheus.Collector, want string) {
	t.Helper()
	var names []string
	for _, line := range strings.Split(want, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))
}

// TestBreakerMetrics runs a breaker through Closed → Open → HalfOpen →
// Closed and compares the exposition with the script after each phase.
func TestBreakerMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Breaker()
		require.NoError(t, prometheus.NewPedanticRegistry().Register(m))
		b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 2,
			OpenFor: time.Second, SlowCall: 100 * time.Millisecond, Observer: m.Observe})
		require.NoError(t, err)
		stop := m.Watch(b)
		ctx := context.Background()
		ok := func(context.Context) error { return nil }
		fail := func(context.Context) error { return errDown }

		require.NoError(t, b.Do(ctx, ok))
		require.NoError(t, b.Do(ctx, func(context.Context) error { time.Sleep(200 * time.Millisecond); return nil }))
		require.ErrorIs(t, b.Do(ctx, fail), errDown)
		require.ErrorIs(t, b.Do(ctx, fail), errDown) // trips
		require.ErrorIs(t, b.Do(ctx, ok), breaker.ErrOpen)
		require.ErrorIs(t, b.Do(ctx, ok), breaker.ErrOpen)

		compare(t, m, `
# HELP bulwark_breaker_calls_total Calls that a circuit breaker finished or rejected, by outcome.
# TYPE bulwark_breaker_calls_total counter
bulwark_breaker_calls_total{name="payments",outcome="failure"} 2
bulwark_breaker_calls_total{name="payments",outcome="ignored"} 0
bulwark_breaker_calls_total{name="payments",outcome="rejected"} 2
bulwark_breaker_calls_total{name="payments",outcome="shadow_rejected"} 0
bulwark_breaker_calls_total{name="payments",outcome="success"} 2
# HELP bulwark_breaker_slow_calls_total Finished calls that took at least the breaker's SlowCall.
# TYPE bulwark_breaker_slow_calls_total counter
bulwark_breaker_slow_calls_total{name="payments"} 1
# HELP bulwark_breaker_state 1 for the breaker's current state, 0 for the others.
# TYPE bulwark_breaker_state gauge
bulwark_breaker_state{name="payments",state="closed"} 0
bulwark_breaker_state{name="payments",state="half-open"} 0
bulwark_breaker_state{name="payments",state="open"} 1
`)

		time.Sleep(time.Second)
		require.NoError(t, b.Do(ctx, ok)) // the probe closes the breaker

		compare(t, m, `
# HELP bulwark_breaker_calls_total Calls that a circuit breaker finished or rejected, by outcome.
# TYPE bulwark_breaker_calls_total counter
bulwark_breaker_calls_total{name="payments",outcome="failure"} 2
bulwark_breaker_calls_total{name="payments",outcome="ignored"} 0
bulwark_breaker_calls_total{name="payments",outcome="rejected"} 2
bulwark_breaker_calls_total{name="payments",outcome="shadow_rejected"} 0
bulwark_breaker_calls_total{name="payments",outcome="success"} 3
# HELP bulwark_breaker_probes_total Probe calls admitted by half-open breakers.
# TYPE bulwark_breaker_probes_total counter
bulwark_breaker_probes_total{name="payments"} 1
# HELP bulwark_breaker_transitions_total Circuit breaker state changes.
# TYPE bulwark_breaker_transitions_total counter
bulwark_breaker_transitions_total{from="closed",name="payments",to="half-open"} 0
bulwark_breaker_transitions_total{from="closed",name="payments",to="open"} 1
bulwark_breaker_transitions_total{from="half-open",name="payments",to="closed"} 1
bulwark_breaker_transitions_total{from="half-open",name="payments",to="open"} 0
bulwark_breaker_transitions_total{from="open",name="payments",to="closed"} 0
bulwark_breaker_transitions_total{from="open",name="payments",to="half-open"} 1
# HELP bulwark_breaker_state 1 for the breaker's current state, 0 for the others.
# TYPE bulwark_breaker_state gauge
bulwark_breaker_state{name="payments",state="closed"} 1
bulwark_breaker_state{name="payments",state="half-open"} 0
bulwark_breaker_state{name="payments",state="open"} 0
`)

		stop()
		require.Zero(t, testutil.CollectAndCount(m, "bulwark_breaker_state"), "state collected after stop")
	})
}
