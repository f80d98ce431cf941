package breaker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/breaker"
)

var _ bulwark.Event = breaker.Event{}

// describe renders an event as a short string: kind and the fields set.
func describe(e breaker.Event) string {
	s := e.Kind.String()
	switch e.Kind {
	case breaker.EventStateChange:
		s += " " + e.From.String() + "→" + e.To.String()
	case breaker.EventRejected:
		s += " " + e.Reason.String()
	}
	if e.Probe && e.Kind != breaker.EventProbe {
		s += " probe"
	}
	if e.Slow {
		s += " slow"
	}
	if e.Shadow {
		s += " shadow"
	}
	return s
}

// eventLog collects described events; safe for concurrent use.
type eventLog struct {
	mu  sync.Mutex
	got []string
}

func (l *eventLog) observe(e breaker.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, describe(e))
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

// TestBreakerEvents scripts a breaker through its whole life and checks
// every event, in order.
func TestBreakerEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		b, err := breaker.New(breaker.Config{Name: "db", ConsecutiveFailures: 2, OpenFor: time.Second,
			Observer: func(e breaker.Event) {
				assert.Equal(t, "db", e.Name)
				if e.Kind == breaker.EventStateChange && e.To == breaker.Open {
					assert.False(t, e.Until.IsZero(), "an open transition says until when")
				}
				log.observe(e)
			}})
		require.NoError(t, err)
		ctx := t.Context()
		ok := func(context.Context) error { return nil }
		fail := func(context.Context) error { return errBoom }
		cancelled := func(context.Context) error { return context.Canceled }

		steps := []struct {
			name string
			do   func()
			want []string
		}{
			{"success", func() { _ = b.Do(ctx, ok) }, []string{"success"}},
			{"ignored", func() { _ = b.Do(ctx, cancelled) }, []string{"ignored"}},
			{"failure", func() { _ = b.Do(ctx, fail) }, []string{"failure"}},
			{"failure trips", func() { _ = b.Do(ctx, fail) }, []string{"failure", "state_change closed→open"}},
			{"rejected", func() { _ = b.Do(ctx, ok) }, []string{"rejected open"}},
			{"two-step rejected", func() { _, _ = b.Allow() }, []string{"rejected open"}},
			{"probe fails", func() { time.Sleep(time.Second); _ = b.Do(ctx, fail) },
				[]string{"state_change open→half-open", "probe", "failure probe", "state_change half-open→open"}},
			{"probe busy", func() {
				time.Sleep(time.Second)
				p, err := b.Allow()
				require.NoError(t, err)
				_, err = b.Allow()
				require.ErrorIs(t, err, breaker.ErrOpen)
				p.Done(nil)
			}, []string{"state_change open→half-open", "probe", "rejected half_open", "success probe", "state_change half-open→closed"}},
			{"Trip and Reset", func() { b.Trip(); b.Reset() }, []string{"state_change closed→open", "state_change open→closed"}},
			{"Reset when closed", func() { b.Reset() }, nil},
			{"Done twice", func() {
				p, _ := b.Allow()
				p.Done(nil)
				p.Done(nil)
			}, []string{"success"}},
		}
		for _, s := range steps {
			s.do()
			assert.Equal(t, s.want, log.take(), s.name)
		}
		st := b.Stats()
		assert.Equal(t, int64(3), st.Successes)
		assert.Equal(t, int64(3), st.Failures)
		assert.Equal(t, int64(3), st.Rejected)
		assert.Equal(t, int64(3), st.Trips)
	})
}

func TestBreakerEventsSlowAndShadow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, SlowCall: time.Second, Shadow: true, Observer: log.observe})
		require.NoError(t, err)
		ctx := t.Context()
		_ = b.Do(ctx, func(context.Context) error { time.Sleep(time.Second); return nil })
		_ = b.Do(ctx, func(context.Context) error { return errBoom })
		_ = b.Do(ctx, func(context.Context) error { return nil })
		assert.Equal(t, []string{"success slow", "failure", "state_change closed→open", "rejected open shadow", "success"}, log.take())
	})
}

// A call ignored only after it had taken SlowCall (the loser of a hedge)
// counts as a slow success; one ignored sooner counts toward nothing.
func TestBreakerEventsSlowIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		b, err := breaker.New(breaker.Config{SlowCall: time.Second, Observer: log.observe})
		require.NoError(t, err)
		p, err := b.Allow()
		require.NoError(t, err)
		time.Sleep(time.Second)
		p.Done(context.Canceled)
		p, err = b.Allow()
		require.NoError(t, err)
		time.Sleep(time.Second - time.Nanosecond)
		p.Done(context.Canceled)
		assert.Equal(t, []string{"success slow", "ignored"}, log.take())
		st := b.Stats()
		assert.Equal(t, breaker.Stats{State: breaker.Closed, Successes: 1, Ignored: 1, SlowCalls: 1, WindowCalls: 1, WindowSlowCalls: 1},
			breaker.Stats{State: st.State, Successes: st.Successes, Failures: st.Failures, Ignored: st.Ignored, SlowCalls: st.SlowCalls,
				WindowCalls: st.WindowCalls, WindowFailures: st.WindowFailures, WindowSlowCalls: st.WindowSlowCalls})
	})
}

func TestThrottleEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		var probs []float64
		th, err := breaker.NewThrottle(breaker.ThrottleConfig{Name: "api", K: 1, Observer: func(e breaker.Event) {
			assert.Equal(t, "api", e.Name)
			if e.Kind == breaker.EventRejected {
				probs = append(probs, e.Probability)
			}
			log.observe(e)
		}})
		require.NoError(t, err)
		ctx := t.Context()
		fail := func(context.Context) error { return errBoom }
		rejected := 0
		for range 50 {
			if err := th.Do(ctx, fail); err == breaker.ErrThrottled {
				rejected++
			}
		}
		got := log.take()
		counts := map[string]int{}
		for _, e := range got {
			counts[e]++
		}
		assert.Equal(t, map[string]int{"failure": 50 - rejected, "rejected throttled": rejected}, counts)
		assert.Equal(t, int64(rejected), th.Stats().Rejected)
		require.NotEmpty(t, probs)
		for _, p := range probs {
			assert.True(t, p > 0 && p < 1, "probability %v", p)
		}
	})
}

func TestGroupEventsNameTheMember(t *testing.T) {
	var names []string
	g, err := breaker.NewGroup(breaker.Config{Name: "hosts", Observer: func(e breaker.Event) { names = append(names, e.Name) }}, breaker.GroupConfig{})
	require.NoError(t, err)
	g.Get("a").Trip()
	g.Get("b").Trip()
	assert.Equal(t, []string{"hosts/a", "hosts/b"}, names)
	var keys []string
	for key, s := range g.AllStats() {
		keys = append(keys, fmt.Sprintf("%s:%s:%d", key, s.State, s.Trips))
	}
	assert.Equal(t, []string{"a:open:1", "b:open:1"}, keys)
	for range g.AllStats() {
		break // stopping early is allowed
	}
}

// TestStateChangesOrderedUnderRaces: transitions made by many goroutines at
// once reach the observer one at a time, each starting from the state the
// previous one ended in, one per trip.
func TestStateChangesOrderedUnderRaces(t *testing.T) {
	var mu sync.Mutex
	var events []string
	last := breaker.Closed
	var bad []string
	var b *breaker.Breaker
	b, err := breaker.New(breaker.Config{Name: "x", Observer: func(e breaker.Event) {
		if e.Kind != breaker.EventStateChange {
			return
		}
		_ = b.State() // outside the lock: this must not deadlock
		mu.Lock()
		defer mu.Unlock()
		if e.From != last || e.From == e.To {
			bad = append(bad, fmt.Sprintf("event %d %s→%s after state %s", len(events), e.From, e.To, last))
		}
		events = append(events, e.From.String()+"→"+e.To.String())
		last = e.To
	}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if (i+g)%2 == 0 {
					b.Trip()
				} else {
					b.Reset()
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, bad)
	opens := 0
	for _, e := range events {
		if e == "closed→open" {
			opens++
		}
	}
	require.Equal(t, b.Stats().Trips, int64(opens), "one event per trip")
	require.NotZero(t, opens)
}

// TestObserverDrivesTheBreaker: an observer may call the breaker, even
// transition it; the transition it causes is delivered after it returns.
func TestObserverDrivesTheBreaker(t *testing.T) {
	var got []string
	var b *breaker.Breaker
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, Observer: func(e breaker.Event) {
		got = append(got, describe(e))
		_ = b.Stats()
		if e.Kind == breaker.EventStateChange && e.To == breaker.Open {
			b.Reset()
		}
		if e.Kind == breaker.EventFailure {
			// A call of its own: the failure and the trip it caused took
			// effect together, so the breaker is open already.
			_ = b.Do(context.Background(), func(context.Context) error { return nil })
		}
	}})
	require.NoError(t, err)
	_ = b.Do(context.Background(), func(context.Context) error { return errBoom })
	require.Equal(t, []string{"failure", "rejected open", "state_change closed→open", "state_change open→closed"}, got)
	require.Equal(t, breaker.Closed, b.State())
}

// TestPanickingObserver: a breaker with an observer that always panics
// decides exactly as one without an observer; only ObserverPanics differs.
func TestPanickingObserver(t *testing.T) {
	script := func(t *testing.T, observer func(breaker.Event)) ([]string, breaker.Stats) {
		b, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, OpenFor: time.Second, HalfOpenCalls: 1, Observer: observer})
		require.NoError(t, err)
		ctx := t.Context()
		var results []string
		for i, act := range []string{"ok", "fail", "fail", "ok", "wait", "fail", "wait", "ok", "ok", "trip", "ok"} {
			var err error
			switch act {
			case "ok":
				err = b.Do(ctx, func(context.Context) error { return nil })
			case "fail":
				err = b.Do(ctx, func(context.Context) error { return errBoom })
			case "wait":
				time.Sleep(time.Second)
			case "trip":
				b.Trip()
			}
			results = append(results, fmt.Sprintf("%d %s: %v %s", i, act, err, b.State()))
		}
		return results, b.Stats()
	}
	// Each run in a bubble of its own, so that both see the same clock.
	var want, got []string
	var wantStats, gotStats breaker.Stats
	var events int64
	synctest.Test(t, func(t *testing.T) { want, wantStats = script(t, nil) })
	synctest.Test(t, func(t *testing.T) {
		got, gotStats = script(t, func(breaker.Event) { events++; panic("observer") })
	})
	{
		assert.Equal(t, want, got)
		assert.Equal(t, events, gotStats.ObserverPanics)
		assert.NotZero(t, events)
		gotStats.ObserverPanics = 0
		assert.Equal(t, wantStats, gotStats)
	}
}

func TestObservedClosedSuccessAllocatesNothing(t *testing.T) {
	var n int
	b, err := breaker.New(breaker.Config{Observer: func(breaker.Event) { n++ }})
	require.NoError(t, err)
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	allocs := testing.AllocsPerRun(100, func() {
		_ = b.Do(ctx, ok)
		p, _ := b.Allow()
		p.Done(nil)
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, n)
}
