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
			"name=payments,outcome=success": 2,
			"name=payments,outcome=failure": 2,
		}, c.values(t, "bulwark.breaker.calls"))
		assert.Equal(t, map[string]int64{"name=payments,outcome=success": 1}, c.values(t, "bulwark.breaker.slow_calls"))
		assert.Equal(t, map[string]int64{"name=payments,reason=open": 2}, c.values(t, "bulwark.breaker.rejections"))
		assert.Equal(t, map[string]int64{"from=closed,name=payments,to=open": 1}, c.values(t, "bulwark.breaker.transitions"))
		assert.Equal(t, map[string]int64{
			"name=payments,state=closed":    0,
			"name=payments,state=open":      1,
			"name=payments,state=half_open": 0,
		}, c.values(t, "bulwark.breaker.state"))
		assert.False(t, c.present(t, "bulwark.breaker.probes"), "no probe yet")
		assert.Equal(t, "{call}", c.unit("bulwark.breaker.calls"))
		assert.Equal(t, "{breaker}", c.unit("bulwark.breaker.state"))

		time.Sleep(time.Second)
		require.NoError(t, b.Do(ctx, ok)) // the probe closes the breaker

		c = collect(t, reader)
		calls := c.values(t, "bulwark.breaker.calls")
		assert.Equal(t, map[string]int64{
			"name=payments,outcome=success": 3,
			"name=payments,outcome=failure": 2,
		}, calls)
		assert.Equal(t, map[string]int64{"name=payments": 1}, c.values(t, "bulwark.breaker.probes"))
		assert.Equal(t, map[string]int64{
			"from=closed,name=payments,to=open":      1,
			"from=open,name=payments,to=half_open":   1,
			"from=half_open,name=payments,to=closed": 1,
		}, c.values(t, "bulwark.breaker.transitions"))
		assert.Equal(t, map[string]int64{
			"name=payments,state=closed":    1,
			"name=payments,state=open":      0,
			"name=payments,state=half_open": 0,
		}, c.values(t, "bulwark.breaker.state"))

		// The counters agree with the breaker's own.
		st := b.Stats()
		assert.Equal(t, st.Successes, calls["name=payments,outcome=success"])
		assert.Equal(t, st.Failures, calls["name=payments,outcome=failure"])
		assert.Equal(t, st.Rejected, c.values(t, "bulwark.breaker.rejections")["name=payments,reason=open"])
		assert.Equal(t, st.SlowCalls, c.values(t, "bulwark.breaker.slow_calls")["name=payments,outcome=success"])

		// Unregistered, the breaker is no longer observed.
		require.NoError(t, reg.Unregister())
		c = collect(t, reader)
		assert.False(t, c.present(t, "bulwark.breaker.state"), "state observed after Unregister")
	})
}

// TestBreakerGroupMetrics watches a Group: every member's state is
// observed under "<group>/<key>", members created after WatchGroup
// included.
func TestBreakerGroupMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Breaker(meter)
		require.NoError(t, err)
		g, err := breaker.NewGroup(breaker.Config{Name: "hosts", ConsecutiveFailures: 1, OpenFor: time.Minute,
			Observer: m.Observe}, breaker.GroupConfig{})
		require.NoError(t, err)
		reg, err := m.WatchGroup(g)
		require.NoError(t, err)
		defer func() { require.NoError(t, reg.Unregister()) }()

		ctx := context.Background()
		require.NoError(t, g.Get("a").Do(ctx, func(context.Context) error { return nil }))
		require.ErrorIs(t, g.Get("b").Do(ctx, func(context.Context) error { return errDown }), errDown)

		c := collect(t, reader)
		assert.Equal(t, map[string]int64{
			"name=hosts/a,state=closed": 1, "name=hosts/a,state=open": 0, "name=hosts/a,state=half_open": 0,
			"name=hosts/b,state=closed": 0, "name=hosts/b,state=open": 1, "name=hosts/b,state=half_open": 0,
		}, c.values(t, "bulwark.breaker.state"))
		assert.Equal(t, map[string]int64{
			"name=hosts/a,outcome=success": 1,
			"name=hosts/b,outcome=failure": 1,
		}, c.values(t, "bulwark.breaker.calls"))
		assert.Equal(t, map[string]int64{"from=closed,name=hosts/b,to=open": 1}, c.values(t, "bulwark.breaker.transitions"))
	})
}

// TestBreakerObserveKinds feeds Observe one event of each kind, including
// those a script cannot produce deterministically (a throttle's random
// shedding) and kinds and reasons it does not know.
func TestBreakerObserveKinds(t *testing.T) {
	cases := []struct {
		name       string
		event      breaker.Event
		instrument string
		want       map[string]int64 // nil: nothing recorded anywhere
	}{
		{"success", breaker.Event{Kind: breaker.EventSuccess}, "bulwark.breaker.calls", map[string]int64{"name=x,outcome=success": 1}},
		{"failure", breaker.Event{Kind: breaker.EventFailure}, "bulwark.breaker.calls", map[string]int64{"name=x,outcome=failure": 1}},
		{"ignored", breaker.Event{Kind: breaker.EventIgnored}, "bulwark.breaker.calls", map[string]int64{"name=x,outcome=ignored": 1}},
		{"slow failure", breaker.Event{Kind: breaker.EventFailure, Slow: true}, "bulwark.breaker.slow_calls", map[string]int64{"name=x,outcome=failure": 1}},
		{"open", breaker.Event{Kind: breaker.EventRejected, Reason: breaker.ReasonOpen}, "bulwark.breaker.rejections", map[string]int64{"name=x,reason=open": 1}},
		{"half open", breaker.Event{Kind: breaker.EventRejected, Reason: breaker.ReasonHalfOpen}, "bulwark.breaker.rejections", map[string]int64{"name=x,reason=half_open": 1}},
		{"throttled", breaker.Event{Kind: breaker.EventRejected, Reason: breaker.ReasonThrottled}, "bulwark.breaker.rejections", map[string]int64{"name=x,reason=throttled": 1}},
		{"unknown reason", breaker.Event{Kind: breaker.EventRejected, Reason: 99}, "bulwark.breaker.rejections", map[string]int64{"name=x,reason=unknown": 1}},
		{"shadow", breaker.Event{Kind: breaker.EventRejected, Reason: breaker.ReasonOpen, Shadow: true}, "bulwark.breaker.shadow_rejections", map[string]int64{"name=x,reason=open": 1}},
		{"probe", breaker.Event{Kind: breaker.EventProbe}, "bulwark.breaker.probes", map[string]int64{"name=x": 1}},
		{"transition", breaker.Event{Kind: breaker.EventStateChange, From: breaker.Open, To: breaker.HalfOpen}, "bulwark.breaker.transitions", map[string]int64{"from=open,name=x,to=half_open": 1}},
		{"bad transition", breaker.Event{Kind: breaker.EventStateChange, From: breaker.Open, To: 9}, "", nil},
		{"unknown kind", breaker.Event{Kind: 99}, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			meter, reader := newMeter(t)
			m, err := bulwarkotel.Breaker(meter)
			require.NoError(t, err)
			tc.event.Name = "x"
			m.Observe(tc.event)
			c := collect(t, reader)
			if tc.want == nil {
				assert.Empty(t, c, "recorded something")
				return
			}
			assert.Equal(t, tc.want, c.values(t, tc.instrument))
			assert.Len(t, c, map[bool]int{true: 2, false: 1}[tc.event.Slow], "instruments recorded")
		})
	}
}
