package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

func TestDoAndCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := breaker.New(breaker.Config{Name: "db", WindowSize: 2, MinCalls: 2, OpenFor: time.Minute})
		require.NoError(t, err)
		ctx := context.Background()

		v, err := breaker.Call(ctx, b, func(context.Context) (int, error) { return 7, nil })
		require.NoError(t, err)
		require.Equal(t, 7, v)

		// A call failing because its caller cancelled is not a failure.
		cctx, cancel := context.WithCancel(ctx)
		err = b.Do(cctx, func(ctx context.Context) error { cancel(); return errBoom })
		require.ErrorIs(t, err, errBoom)
		require.Equal(t, uint64(1), b.Stats().Ignored)
		require.ErrorIs(t, b.Do(cctx, func(context.Context) error { t.Error("fn called on a done ctx"); return nil }), context.Canceled)

		require.ErrorIs(t, b.Do(ctx, func(context.Context) error { return errBoom }), errBoom)
		require.Equal(t, breaker.Open, b.State())

		called := false
		err = b.Do(ctx, func(context.Context) error { called = true; return nil })
		require.False(t, called, "an open breaker must not call fn")
		require.ErrorIs(t, err, breaker.ErrOpen)
		var oe *breaker.OpenError
		require.True(t, errors.As(err, &oe))
		require.Equal(t, "db", oe.Name)
		require.Equal(t, time.Now().Add(time.Minute), oe.Until)
		require.True(t, strings.Contains(err.Error(), `"db"`), err.Error())
		_, err = breaker.Call(ctx, b, func(context.Context) (int, error) { return 1, nil })
		require.ErrorIs(t, err, breaker.ErrOpen)

		s := b.Stats()
		require.Equal(t, breaker.Stats{State: breaker.Open, Successes: 1, Failures: 1, Ignored: 1, Rejected: 2,
			Trips: 1, OpenUntil: time.Now().Add(time.Minute)}, s)
	})
}

func TestCustomClassify(t *testing.T) {
	errNotFound := errors.New("not found")
	b, err := breaker.New(breaker.Config{WindowSize: 2, MinCalls: 2, Classify: func(err error) breaker.Outcome {
		if errors.Is(err, errNotFound) {
			return breaker.Success // the dependency answered
		}
		return breaker.DefaultClassify(err)
	}})
	require.NoError(t, err)
	record(b, 5, errNotFound)
	require.Equal(t, breaker.Closed, b.State())
	require.Equal(t, uint64(5), b.Stats().Successes)
}

func TestZeroPermitDone(t *testing.T) {
	var p breaker.Permit
	p.Done(errBoom) // must not panic
	var tp breaker.ThrottlePermit
	tp.Done(errBoom)
	require.Equal(t, "half-open", breaker.HalfOpen.String())
	require.Equal(t, "State(9)", breaker.State(9).String())
	require.Equal(t, "ignore", breaker.Ignore.String())
}

// transitionLog records OnStateChange calls and checks them as they come.
type transitionLog struct {
	mu     sync.Mutex
	events []string
	last   breaker.State
	bad    []string
}

func (l *transitionLog) record(name string, from, to breaker.State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := fmt.Sprintf("%s→%s", from, to)
	if from != l.last || from == to || (from == breaker.Closed && to == breaker.HalfOpen) {
		l.bad = append(l.bad, fmt.Sprintf("event %d %s after state %s", len(l.events), ev, l.last))
	}
	l.events = append(l.events, ev)
	l.last = to
}

func TestOnStateChangeOrderedUnderRaces(t *testing.T) {
	log := &transitionLog{}
	var b *breaker.Breaker
	b, err := breaker.New(breaker.Config{Name: "x", OnStateChange: func(name string, from, to breaker.State) {
		_ = b.State() // callbacks run outside the lock: this must not deadlock
		log.record(name, from, to)
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
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Empty(t, log.bad)
	opens := 0
	for _, e := range log.events {
		if e == "closed→open" {
			opens++
		}
	}
	require.Equal(t, b.Stats().Trips, uint64(opens), "one callback per trip")
	require.NotZero(t, opens)
}

func TestOnStateChangeReentrant(t *testing.T) {
	var got []string
	var b *breaker.Breaker
	b, err := breaker.New(breaker.Config{OnStateChange: func(_ string, from, to breaker.State) {
		got = append(got, from.String()+"→"+to.String())
		if to == breaker.Open {
			b.Reset() // a callback may drive the breaker; its event comes next
		}
	}})
	require.NoError(t, err)
	b.Trip()
	require.Equal(t, []string{"closed→open", "open→closed"}, got)
	require.Equal(t, breaker.Closed, b.State())
}
