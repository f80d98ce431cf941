package bulwarkotel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errDown = errors.New("down")

// TestBreakerMetrics runs a breaker through Closed → Open → HalfOpen →
// Closed and checks every instrument against the script and Stats.
func TestBreakerMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Breaker(meter)
		require.NoError(t, err)
		b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 2,
			OpenFor: time.Second, SlowCall: 100 * time.Millisecond, Observer: m.Observe})
		require.NoError(t, err)
		reg, err := m.Watch(b)
		require.NoError(t, err)
		ctx := context.Background()
		ok := func(context.Context) error { return nil }
		fail := func(context.Context) error { return errDown }

		require.NoError(t, b.Do(ctx, ok))
		require.NoError(t, b.Do(ctx, func(context.Context) error { time.Sleep(200 * time.Millisecond); return nil })) // slow
		require.ErrorIs(t, b.Do(ctx, fail), errDown)
		require.ErrorIs(t, b.Do(ctx, fail), errDown) // trips
		require.ErrorIs(t, b.Do(ctx, ok), breaker.ErrOpen)
		require.ErrorIs(t, b.Do(ctx, ok), breaker.ErrOpen)

		c := collect(t, reader)
		assert.Equal(t, map[string]int64{
			"name=payments,outcome=success":  2,
			"name=payments,outcome=failure":  2,
			"name=payments,outcome=rejected": 2,
		}, c.values(t, "bulwark.breaker.calls"))
		assert.Equal(t, map[string]int64{"name=payments": 1}, c.values(t, "bulwark.breaker.slow_calls"))
		assert.Equal(t, map[string]int64{"from=closed,name=payments,to=open": 1}, c.values(t, "bulwark.breaker.transitions"))
		assert.Equal(t, map[string]int64{
			"name=payments,state=closed":    0,
			"name=payments,state=open":      1,
			"name=payments,state=half-open": 0,
		}, c.values(t, "bulwark.breaker.state"))
		assert.Equal(t, "{call}", c.unit("bulwark.breaker.calls"))

		time.Sleep(time.Second)
		require.NoError(t, b.Do(ctx, ok)) // the probe closes the breaker

		c = collect(t, reader)
		calls := c.values(t, "bulwark.breaker.calls")
		assert.Equal(t, int64(3), calls["name=payments,outcome=success"])
		assert.Equal(t, map[string]int64{"name=payments": 1}, c.values(t, "bulwark.breaker.probes"))
		assert.Equal(t, map[string]int64{
			"from=closed,name=payments,to=open":      1,
			"from=open,name=payments,to=half-open":   1,
			"from=half-open,name=payments,to=closed": 1,
		}, c.values(t, "bulwark.breaker.transitions"))
		assert.Equal(t, int64(1), c.values(t, "bulwark.breaker.state")["name=payments,state=closed"])

		// The counters agree with the breaker's own.
		st := b.Stats()
		assert.Equal(t, int64(st.Successes), calls["name=payments,outcome=success"])
		assert.Equal(t, int64(st.Failures), calls["name=payments,outcome=failure"])
		assert.Equal(t, int64(st.Rejected), calls["name=payments,outcome=rejected"])

		// Unregistered, the breaker is no longer observed.
		require.NoError(t, reg.Unregister())
		c = collect(t, reader)
		assert.False(t, c.present(t, "bulwark.breaker.state"), "state observed after Unregister")
	})
}
