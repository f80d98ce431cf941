package breaker_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
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
		require.Equal(t, int64(1), b.Stats().Ignored)
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
	require.Equal(t, int64(5), b.Stats().Successes)
}

// A call that panics is a failure, and the panic goes on to the caller
// unchanged: a backend whose calls panic trips the breaker, and a probe that
// panics re-opens it at once instead of holding its slot until OpenFor.
func TestPanicIsRecordedAsFailure(t *testing.T) {
	const (
		C = breaker.Closed
		O = breaker.Open
		H = breaker.HalfOpen
	)
	cfg := breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second}
	tests := []struct {
		name  string
		cfg   breaker.Config
		steps []step
	}{
		{"Do: panicking calls trip the breaker", cfg, []step{
			{0, "do-panic", C}, {0, "do-panic", O}, {0, "reject", O},
		}},
		{"Call: panicking calls trip the breaker", cfg, []step{
			{0, "call-panic", C}, {0, "call-panic", O}, {0, "reject", O},
		}},
		{"Do: a probe that panics re-opens at once", cfg, []step{
			{0, "trip", O}, {time.Second, "do-panic", O}, {0, "reject", O}, {time.Second, "ok", C},
		}},
		{"Call: a probe that panics re-opens at once", cfg, []step{
			{0, "trip", O}, {time.Second, "call-panic", O}, {0, "reject", O}, {time.Second, "ok", C},
		}},
		{"a panic is a failure whatever Classify says", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second,
			Classify: func(error) breaker.Outcome { return breaker.Success }}, []step{
			{0, "do-panic", C}, {0, "call-panic", O},
		}},
		{"a panicking probe among several re-opens", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second, HalfOpenCalls: 2}, []step{
			{0, "trip", O}, {time.Second, "hold", H}, {0, "do-panic", O}, {0, "done-ok", O},
		}},
		{"with SlowCall (the slow path of Do)", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second, SlowCall: time.Hour}, []step{
			{0, "do-panic", C}, {0, "do-panic", O},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.cfg, tc.steps) })
	}
}

func TestPanicCountsInStats(t *testing.T) {
	b, err := breaker.New(breaker.Config{})
	require.NoError(t, err)
	require.Equal(t, "boom", panicThrough(b, false))
	require.Equal(t, "boom", panicThrough(b, true))
	s := b.Stats()
	require.Equal(t, int64(2), s.Failures)
	require.Equal(t, int64(2), s.WindowFailures)
	require.Zero(t, s.Successes)
}

// A call that ends by runtime.Goexit (t.FailNow inside fn, say) did not
// return either: it is a failure too.
func TestGoexitIsRecordedAsFailure(t *testing.T) {
	b, err := breaker.New(breaker.Config{})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Do(context.Background(), func(context.Context) error { runtime.Goexit(); return nil })
	}()
	<-done
	require.Equal(t, int64(1), b.Stats().Failures)
}
