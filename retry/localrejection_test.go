package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/retry"
)

// errOpen stands for a guard's own sentinel (an open breaker); errLocal is
// the rejection the guard returns, which also matches
// bulwark.ErrNotAttempted.
var (
	errOpen  = errors.New("breaker open")
	errLocal = fmt.Errorf("%w: %w", errOpen, bulwark.ErrNotAttempted)
)

// sequence returns an fn whose attempt i returns errs[i] (nil past the end).
func sequence(errs ...error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= len(errs) {
			return errs[calls-1]
		}
		return nil
	}, &calls
}

func TestLocalRejectionCostsNoTokenAndNoWait(t *testing.T) {
	tests := []struct {
		name       string
		errs       []error
		wantLog    []string        // what the Budget is told
		wantDelays []time.Duration // EventRetry delays
		wantTokens float64         // a TokenBudget that started at 8
	}{
		{"local, local, success", []error{errLocal, errLocal},
			[]string{"success"}, []time.Duration{0, 0}, 8.1},
		// Backoff numbers only real failures: the first real one waits
		// Delay(1) = 1s, the next Delay(2) = 2s.
		{"local, real, real, success", []error{errLocal, errFlaky, errFlaky},
			[]string{"failure", "allow", "failure", "allow", "success"},
			[]time.Duration{0, time.Second, 2 * time.Second}, 6.1},
		{"real, local, success", []error{errFlaky, errLocal},
			[]string{"failure", "allow", "success"}, []time.Duration{time.Second, 0}, 7.1},
	}
	backoff := retry.Exponential{Base: time.Second, Max: time.Minute, Jitter: retry.NoJitter}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var delays []time.Duration
				rec := &recordingBudget{}
				r := mustNew(t, retry.Config{MaxAttempts: 5, Backoff: backoff, Budget: rec,
					Observer: onRetry(func(a retry.Event) { delays = append(delays, a.Delay) })})
				fn, calls := sequence(tt.errs...)
				start := time.Now()
				require.NoError(t, r.Do(t.Context(), fn))
				assert.Equal(t, len(tt.errs)+1, *calls)
				assert.Equal(t, tt.wantLog, rec.log())
				assert.Equal(t, tt.wantDelays, delays)
				var total time.Duration
				for _, d := range delays {
					total += d
				}
				assert.Equal(t, total, time.Since(start), "slept only for real failures")

				locals := 0
				for _, e := range tt.errs {
					if errors.Is(e, bulwark.ErrNotAttempted) {
						locals++
					}
				}
				st := r.Stats()
				assert.Equal(t, int64(locals), st.NotAttempted)
				assert.Equal(t, int64(len(tt.errs)), st.Retries)

				// The same sequence against the standard budget.
				tb, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
				require.NoError(t, err)
				tb.Failure()
				tb.Failure() // 8 tokens
				r = mustNew(t, retry.Config{MaxAttempts: 5, Backoff: backoff, Budget: tb})
				fn, _ = sequence(tt.errs...)
				require.NoError(t, r.Do(t.Context(), fn))
				assert.InDelta(t, tt.wantTokens, tb.Tokens(), 1e-9)
			})
		})
	}
}

func TestLocalRejectionRetriedWithEmptyBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		require.NoError(t, err)
		for tb.Tokens() > 0 {
			tb.Failure()
		}
		require.False(t, tb.AllowRetry())
		r := mustNew(t, retry.Config{Budget: tb, Backoff: retry.Constant(time.Second)})
		fn, calls := sequence(errLocal)
		require.NoError(t, r.Do(t.Context(), fn), "a local rejection is retried even when real retries are refused")
		assert.Equal(t, 2, *calls)
	})
}

func TestAllLocalRejectionsExhaust(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingBudget{}
		r := mustNew(t, retry.Config{MaxAttempts: 3, Budget: rec, Backoff: retry.Constant(time.Second)})
		fn, calls := sequence(errLocal, errLocal, errLocal, errLocal)
		start := time.Now()
		err := r.Do(t.Context(), fn)
		assert.Equal(t, 3, *calls, "local rejections count toward MaxAttempts")
		assert.Zero(t, time.Since(start))
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
		assert.ErrorIs(t, err, errOpen)
		assert.Empty(t, rec.log())
		assert.Equal(t, int64(3), r.Stats().NotAttempted)
	})
}

func TestTransportLocalRejection(t *testing.T) {
	tests := []struct {
		name       string
		rejections int
		wantLog    []string
		wantIs     []error
	}{
		{"rejected once, then sent", 1, []string{"success"}, nil},
		{"rejected every time", 3, nil, []error{retry.ErrExhausted, bulwark.ErrNotAttempted, errOpen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{}
				for range tt.rejections {
					f.resps = append(f.resps, func(*http.Request) (*http.Response, error) { return nil, errLocal })
				}
				f.resps = append(f.resps, f.status(200))
				rec := &recordingBudget{}
				r := mustNew(t, retry.Config{Budget: rec, Backoff: retry.Constant(time.Second)})
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
				require.NoError(t, err)
				start := time.Now()
				resp, err := mustTransport(t, f, r).RoundTrip(req)
				assert.Zero(t, time.Since(start), "no backoff after a local rejection")
				assert.Equal(t, tt.wantLog, rec.log())
				if tt.wantIs == nil {
					require.NoError(t, err)
					assert.Equal(t, 200, resp.StatusCode)
					require.NoError(t, resp.Body.Close())
					return
				}
				assert.Nil(t, resp)
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target)
				}
			})
		})
	}
}

// rejectedUntil is a guard's local rejection that names when the guard
// admits again, as balance.UnavailableError and breaker.OpenError do.
type rejectedUntil struct{ at time.Time }

func (e *rejectedUntil) Error() string      { return "guard refuses until " + e.at.String() }
func (e *rejectedUntil) Unwrap() error      { return errLocal }
func (e *rejectedUntil) RetryAt() time.Time { return e.at }

func TestLocalRejectionWithRetryAtFailsFast(t *testing.T) {
	backoff := retry.Exponential{Base: 100 * time.Millisecond, Max: time.Second, Jitter: retry.NoJitter}
	tests := []struct {
		name      string
		ahead     time.Duration // RetryAt - now when the rejection is made; 0: none
		deadline  time.Duration // ctx deadline; 0: none
		maxEl     time.Duration
		wantCalls int
		wantWait  []time.Duration // EventRetry delays
		wantTook  time.Duration
		wantErr   []error // nil: success
		wantWhy   string
	}{
		{"RetryAt 50ms ahead: stop at once", 50 * time.Millisecond, 0, 0,
			1, nil, 0, []error{retry.ErrExhausted, bulwark.ErrNotAttempted, errOpen}, "later moment"},
		{"no RetryAt: at once", 0, 0, 0, 2, []time.Duration{0}, 0, nil, ""},
		{"RetryAt past: at once", -time.Second, 0, 0, 2, []time.Duration{0}, 0, nil, ""},
		{"RetryAt beyond the cap: stop at once", 2 * time.Second, 0, 0,
			1, nil, 0, []error{retry.ErrExhausted, bulwark.ErrNotAttempted, errOpen}, "later moment"},
		{"RetryAt after the deadline: stop at once", 500 * time.Millisecond, 300 * time.Millisecond, 0,
			1, nil, 0, []error{retry.ErrExhausted, bulwark.ErrNotAttempted, errOpen}, "later moment"},
		{"RetryAt beyond MaxElapsed: stop at once", 500 * time.Millisecond, 0, 200 * time.Millisecond,
			1, nil, 0, []error{retry.ErrExhausted, bulwark.ErrNotAttempted, errOpen}, "later moment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var delays []time.Duration
				var causes []error
				rec := &recordingBudget{}
				r := mustNew(t, retry.Config{MaxAttempts: 3, MaxElapsed: tt.maxEl, Backoff: backoff, Budget: rec,
					Observer: onRetry(func(e retry.Event) { delays = append(delays, e.Delay); causes = append(causes, e.Err) })})
				var rejection error = errLocal
				if tt.ahead != 0 {
					rejection = &rejectedUntil{at: time.Now().Add(tt.ahead)}
				}
				fn, calls := sequence(rejection)
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				start := time.Now()
				err := r.Do(ctx, fn)
				assert.Equal(t, tt.wantTook, time.Since(start))
				assert.Equal(t, tt.wantCalls, *calls)
				assert.Equal(t, tt.wantWait, delays)
				for _, c := range causes {
					assert.Same(t, rejection, c, "EventRetry.Err is the rejection")
				}
				st := r.Stats()
				assert.Equal(t, int64(1), st.NotAttempted)
				if tt.wantErr == nil {
					require.NoError(t, err)
					assert.Equal(t, []string{"success"}, rec.log(), "budget told only of the success")
					return
				}
				for _, target := range tt.wantErr {
					assert.ErrorIs(t, err, target)
				}
				assert.Contains(t, err.Error(), tt.wantWhy)
				assert.Empty(t, rec.log(), "budget untouched")
				assert.Equal(t, int64(1), st.Exhausted)
			})
		})
	}
}

func TestTransportLocalRejectionWithRetryAtFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var bodies []string
		rejection := &rejectedUntil{at: time.Now().Add(50 * time.Millisecond)}
		f := &fake{}
		f.resps = append(f.resps,
			func(req *http.Request) (*http.Response, error) {
				b, _ := io.ReadAll(req.Body)
				bodies = append(bodies, string(b))
				return nil, rejection
			},
			f.status(200))
		rec := &recordingBudget{}
		var delays []time.Duration
		r := mustNew(t, retry.Config{Budget: rec, Backoff: retry.Constant(time.Second),
			Observer: onRetry(func(e retry.Event) { delays = append(delays, e.Delay) })})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://example.test/", strings.NewReader("payload"))
		require.NoError(t, err)
		start := time.Now()
		resp, err := mustTransport(t, f, r).RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
		at, ok := bulwark.RetryAt(err)
		assert.True(t, ok)
		assert.Equal(t, rejection.at, at, "the error still names when to come back")
		assert.Zero(t, time.Since(start), "no wait")
		assert.Equal(t, []string{"payload"}, bodies, "one attempt")
		assert.Empty(t, delays)
		assert.Empty(t, rec.log())
	})
}
