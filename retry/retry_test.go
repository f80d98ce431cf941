package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

var errFlaky = errors.New("flaky")

// failing returns an fn that fails n times with err, then succeeds, and a
// counter of its calls.
func failing(n int, err error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= n {
			return err
		}
		return nil
	}, &calls
}

func mustNew(t *testing.T, cfg retry.Config) *retry.Retrier {
	t.Helper()
	r, err := retry.New(cfg)
	require.NoError(t, err)
	return r
}

func TestMaxAttempts(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"default 3, success on 3rd", 0, 2, 3, false},
		{"default 3, exhausted", 0, 5, 3, true},
		{"1 disables retries", 1, 1, 1, true},
		{"5, success on 5th", 5, 4, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustNew(t, retry.Config{MaxAttempts: tt.max})
				fn, calls := failing(tt.failures, errFlaky)
				err := r.Do(t.Context(), fn)
				assert.Equal(t, tt.wantCalls, *calls)
				if !tt.wantErr {
					require.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, retry.ErrExhausted)
				assert.ErrorIs(t, err, errFlaky)
				st := r.Stats()
				assert.Equal(t, int64(1), st.Exhausted)
				assert.Equal(t, int64(tt.wantCalls), st.Attempts)
			})
		})
	}
}

func TestWaitsFollowBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{MaxAttempts: 4,
			Backoff: retry.Exponential{Base: time.Second, Max: time.Minute, Jitter: retry.NoJitter}})
		start := time.Now()
		fn, _ := failing(3, errFlaky)
		require.NoError(t, r.Do(t.Context(), fn))
		assert.Equal(t, 7*time.Second, time.Since(start), "1s + 2s + 4s")
	})
}

func TestMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Waits 1s, 2s, 4s, ... from the first failure; 5s allows 1s+2s only
		// (1+2+4 = 7 > 5).
		r := mustNew(t, retry.Config{MaxAttempts: 100, MaxElapsed: 5 * time.Second,
			Backoff: retry.Exponential{Base: time.Second, Max: time.Minute, Jitter: retry.NoJitter}})
		fn, calls := failing(100, errFlaky)
		start := time.Now()
		err := r.Do(t.Context(), fn)
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.ErrorIs(t, err, errFlaky)
		assert.Equal(t, 3, *calls)
		assert.Equal(t, 3*time.Second, time.Since(start), "stops at once, without the 4s wait")
	})
}

func TestMaxElapsedHoldsForHugeWaits(t *testing.T) {
	// A wait near the largest Duration (a huge backoff, or a huge
	// Retry-After under a huge Cap) must not overflow the elapsed check.
	huge := retry.Exponential{Base: time.Second, Max: math.MaxInt64, Jitter: retry.NoJitter}
	tests := []struct {
		name     string
		cfg      retry.Config
		deadline time.Duration // 0: none
		err      error
	}{
		{"After(err, MaxInt64) under MaxElapsed", retry.Config{MaxElapsed: time.Minute, Backoff: huge},
			0, retry.After(errFlaky, math.MaxInt64)},
		{"Constant(MaxInt64) under MaxElapsed", retry.Config{MaxElapsed: time.Minute, Backoff: retry.Constant(math.MaxInt64)},
			0, errFlaky},
		{"After(err, MaxInt64) under a deadline", retry.Config{Backoff: huge},
			time.Minute, retry.After(errFlaky, math.MaxInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				r := mustNew(t, tt.cfg)
				fn, calls := failing(10, tt.err)
				start := time.Now()
				err := r.Do(ctx, fn)
				assert.Zero(t, time.Since(start), "stops at once instead of sleeping")
				assert.Equal(t, 1, *calls)
				assert.ErrorIs(t, err, retry.ErrExhausted)
				assert.ErrorIs(t, err, errFlaky)
			})
		})
	}
}

func TestMaxElapsedCountsFromFirstFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{MaxAttempts: 3, MaxElapsed: 2 * time.Second, Backoff: retry.Constant(time.Second)})
		calls := 0
		err := r.Do(t.Context(), func(context.Context) error {
			calls++
			if calls == 1 {
				time.Sleep(time.Hour) // a slow first attempt does not count
				return errFlaky
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, 2, calls)
	})
}

func TestPermanent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{MaxAttempts: 5})
		cause := errors.New("bad request")
		fn, calls := failing(5, fmt.Errorf("wrapped: %w", retry.Permanent(cause)))
		err := r.Do(t.Context(), fn)
		assert.Equal(t, 1, *calls)
		assert.Same(t, cause, err, "the plain cause, not the marker")

		// An outer retrier sees a plain error and retries it.
		outer := mustNew(t, retry.Config{MaxAttempts: 2, Backoff: retry.Constant(0)})
		inner := mustNew(t, retry.Config{MaxAttempts: 1})
		outerCalls := 0
		err = outer.Do(t.Context(), func(ctx context.Context) error {
			outerCalls++
			return inner.Do(ctx, func(context.Context) error { return retry.Permanent(cause) })
		})
		assert.Equal(t, 2, outerCalls)
		assert.ErrorIs(t, err, cause)
		assert.Nil(t, retry.Permanent(nil))
	})
}

func TestRetryableAndCallerContextErrors(t *testing.T) {
	errFatal := errors.New("fatal")
	tests := []struct {
		name      string
		fnErr     func(ctx context.Context, cancel context.CancelFunc) error
		wantCalls int
		wantIs    []error
	}{
		{"not retryable", func(context.Context, context.CancelFunc) error { return errFatal }, 1, []error{errFatal}},
		{"callee's own deadline is retried", func(context.Context, context.CancelFunc) error { return context.DeadlineExceeded }, 3, []error{retry.ErrExhausted, context.DeadlineExceeded}},
		{"caller's cancel is not retried", func(ctx context.Context, cancel context.CancelFunc) error { cancel(); return ctx.Err() }, 1, []error{context.Canceled}},
		{"caller cancelled during attempt", func(_ context.Context, cancel context.CancelFunc) error { cancel(); return errFlaky }, 1, []error{context.Canceled, errFlaky}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
				require.NoError(t, err)
				r := mustNew(t, retry.Config{Budget: b, Retryable: func(err error) bool { return !errors.Is(err, errFatal) }})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				calls := 0
				err = r.Do(ctx, func(ctx context.Context) error { calls++; return tt.fnErr(ctx, cancel) })
				assert.Equal(t, tt.wantCalls, calls)
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target)
				}
				assert.NotErrorIs(t, err, retry.ErrBudget)
			})
		})
	}
}

func TestAfterHint(t *testing.T) {
	tests := []struct {
		name     string
		hint     time.Duration
		wantWait time.Duration
	}{
		{"longer than backoff wins", 3 * time.Second, 3 * time.Second},
		{"shorter than backoff ignored", time.Millisecond, time.Second},
		{"capped at Max", time.Hour, 10 * time.Second},
		{"negative counts as zero", -time.Hour, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seen []retry.Event
				r := mustNew(t, retry.Config{MaxAttempts: 2,
					Backoff:  retry.Exponential{Base: time.Second, Max: 10 * time.Second, Jitter: retry.NoJitter},
					Observer: onRetry(func(a retry.Event) { seen = append(seen, a) })})
				fn, _ := failing(1, fmt.Errorf("ctx: %w", retry.After(errFlaky, tt.hint)))
				start := time.Now()
				require.NoError(t, r.Do(t.Context(), fn))
				assert.Equal(t, tt.wantWait, time.Since(start))
				require.Len(t, seen, 1)
				assert.Equal(t, tt.wantWait, seen[0].Delay)
			})
		})
	}
}

func TestAfterMarkerStrippedOnExhaustion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{MaxAttempts: 1})
		err := r.Do(t.Context(), func(context.Context) error { return retry.After(errFlaky, time.Hour) })
		var se interface{ Unwrap() []error }
		require.ErrorAs(t, err, &se)
		assert.Same(t, errFlaky, se.Unwrap()[1], "last error without the After marker")
	})
}

func TestRetryEventOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []retry.Event
		r := mustNew(t, retry.Config{MaxAttempts: 4, Backoff: retry.Constant(time.Second),
			Observer: onRetry(func(a retry.Event) { seen = append(seen, a) })})
		calls := 0
		err := r.Do(t.Context(), func(context.Context) error {
			calls++
			return fmt.Errorf("attempt %d", calls)
		})
		require.ErrorIs(t, err, retry.ErrExhausted)
		require.Len(t, seen, 3, "no EventRetry after the last attempt")
		for i, a := range seen {
			assert.Equal(t, i+1, a.Attempt)
			assert.EqualError(t, a.Err, fmt.Sprintf("attempt %d", i+1))
			assert.Equal(t, time.Second, a.Delay)
		}
	})
}

func TestCancelDuringSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{MaxAttempts: 5, Backoff: retry.Constant(time.Hour)})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(time.Minute)
			cancel()
		}()
		start := time.Now()
		fn, calls := failing(5, errFlaky)
		err := r.Do(ctx, fn)
		assert.Equal(t, time.Minute, time.Since(start), "returns as soon as ctx ends")
		assert.Equal(t, 1, *calls)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errFlaky)
		assert.NotErrorIs(t, err, retry.ErrExhausted)
	})
}

func TestDeadlineCutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{MaxAttempts: 10,
			Backoff: retry.Exponential{Base: time.Second, Max: time.Minute, Jitter: retry.NoJitter}})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		fn, calls := failing(10, errFlaky)
		start := time.Now()
		err := r.Do(ctx, fn)
		// Waits 1s and 2s fit; the 4s wait would end at 7s > 5s deadline.
		assert.Equal(t, 3, *calls)
		assert.Equal(t, 3*time.Second, time.Since(start), "stops at once instead of sleeping into the deadline")
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.ErrorIs(t, err, errFlaky)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "the real error, not a bare deadline")
	})
}

func TestBudgetStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 10, TokenRatio: 0.1})
		require.NoError(t, err)
		r := mustNew(t, retry.Config{MaxAttempts: 3, Budget: b, Backoff: retry.Constant(time.Millisecond)})
		fn, _ := failing(1000, errFlaky)
		// Tokens 10 → each failed attempt −1; retries need tokens > 5.
		// Call 1: 3 attempts (10→7), exhausted. Call 2: fails (6), retries,
		// fails (5): budget refuses.
		err1 := r.Do(t.Context(), fn)
		assert.ErrorIs(t, err1, retry.ErrExhausted)
		err2 := r.Do(t.Context(), fn)
		assert.ErrorIs(t, err2, retry.ErrBudget)
		assert.ErrorIs(t, err2, errFlaky)
		assert.InDelta(t, 5.0, b.Tokens(), 1e-9)
		st := r.Stats()
		assert.Equal(t, retry.Stats{Calls: 2, Attempts: 5, Retries: 3, BudgetSkipped: 1, Exhausted: 1}, st)

		// One success lifts the bucket above half: retries resume.
		require.NoError(t, r.Do(t.Context(), func(context.Context) error { return nil }))
		assert.InDelta(t, 5.1, b.Tokens(), 1e-9)
		assert.True(t, b.AllowRetry())
	})
}

func TestCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{Backoff: retry.Constant(time.Second)})
		calls := 0
		v, err := retry.Call(t.Context(), r, func(context.Context) (int, error) {
			calls++
			if calls < 3 {
				return -1, errFlaky
			}
			return 42, nil
		})
		require.NoError(t, err)
		assert.Equal(t, 42, v)

		v, err = retry.Call(t.Context(), r, func(context.Context) (int, error) { return 7, errFlaky })
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.Zero(t, v, "zero value on error")
	})
}

func TestDoZeroAllocsOnSuccess(t *testing.T) {
	b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
	require.NoError(t, err)
	r := mustNew(t, retry.Config{Budget: b})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	allocs := testing.AllocsPerRun(100, func() { _ = r.Do(ctx, fn) })
	assert.Zero(t, allocs)
	allocs = testing.AllocsPerRun(100, func() { _, _ = retry.Call(ctx, r, func(context.Context) (int, error) { return 1, nil }) })
	assert.Zero(t, allocs)
}

func TestAfterMarkerDoesNotLeakToOuterRetrier(t *testing.T) {
	tests := []struct {
		name  string
		inner func(error) error
	}{
		{"exhausted, marker deep", func(e error) error { return fmt.Errorf("call: %w", retry.After(e, time.Hour)) }},
		{"not retryable, marker deep", func(e error) error { return fmt.Errorf("fatal: %w", retry.After(e, time.Hour)) }},
		{"permanent around marker", func(e error) error { return retry.Permanent(retry.After(e, time.Hour)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				inner := mustNew(t, retry.Config{MaxAttempts: 1,
					Retryable: func(err error) bool { return err.Error()[:5] != "fatal" }})
				outer := mustNew(t, retry.Config{MaxAttempts: 2,
					Backoff: retry.Exponential{Base: time.Second, Max: time.Minute, Jitter: retry.NoJitter}})
				start := time.Now()
				err := outer.Do(t.Context(), func(ctx context.Context) error {
					return inner.Do(ctx, func(context.Context) error { return tt.inner(errFlaky) })
				})
				assert.ErrorIs(t, err, errFlaky)
				assert.Equal(t, time.Second, time.Since(start), "outer waits its own backoff, not the inner hint")
			})
		})
	}
}
