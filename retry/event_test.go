package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/retry"
)

// onRetry is an observer that passes only EventRetry to f.
func onRetry(f func(retry.Event)) func(retry.Event) {
	return func(e retry.Event) {
		if e.Kind == retry.EventRetry {
			f(e)
		}
	}
}

// eventLog records events as short strings: kind, attempt, and the fields
// that are set.
type eventLog struct{ got []string }

func (l *eventLog) observe(e retry.Event) { l.got = append(l.got, describe(e)) }

func describe(e retry.Event) string {
	s := fmt.Sprintf("%s#%d", e.Kind, e.Attempt)
	if e.Delay != 0 {
		s += " " + e.Delay.String()
	}
	if e.NotAttempted {
		s += " local"
	}
	if e.Method != "" || e.Host != "" {
		s += " " + e.Method + " " + e.Host
	}
	return s
}

var _ bulwark.Event = retry.Event{}

// seq is sequence without the counter.
func seq(errs ...error) func(context.Context) error {
	fn, _ := sequence(errs...)
	return fn
}

func TestRetrierEvents(t *testing.T) {
	tests := []struct {
		name    string
		cfg     retry.Config
		fn      func(context.Context) error
		want    []string
		wantErr error // what the EventFailure's Err matches, and Do's error
	}{
		{"success at once", retry.Config{}, seq(), []string{"success#1"}, nil},
		{"two failures then success", retry.Config{MaxAttempts: 3}, seq(errFlaky, errFlaky),
			[]string{"retry#1 1s", "retry#2 2s", "success#3"}, nil},
		{"exhausted", retry.Config{MaxAttempts: 2}, seq(errFlaky, errFlaky),
			[]string{"retry#1 1s", "failure#2"}, retry.ErrExhausted},
		{"permanent", retry.Config{}, seq(retry.Permanent(errFlaky)),
			[]string{"failure#1"}, errFlaky},
		{"not retryable", retry.Config{Retryable: func(error) bool { return false }}, seq(errFlaky),
			[]string{"failure#1"}, errFlaky},
		{"local rejection retried at once", retry.Config{}, seq(errLocal),
			[]string{"retry#1 local", "success#2"}, nil},
		{"server hint lengthens the wait", retry.Config{}, seq(retry.After(errFlaky, 3*time.Second)),
			[]string{"retry#1 3s", "success#2"}, nil},
		{"budget refuses", retry.Config{Budget: mustBudget(retry.TokenBudgetConfig{MaxTokens: 2})}, seq(errFlaky),
			[]string{"budget_refused#1", "failure#1"}, retry.ErrBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log eventLog
				var failure error
				cfg := tt.cfg
				cfg.Name = "db"
				cfg.Backoff = retry.Exponential{Base: time.Second, Max: 10 * time.Second, Jitter: retry.NoJitter}
				cfg.Observer = func(e retry.Event) {
					assert.Equal(t, "db", e.Name)
					if e.Kind == retry.EventFailure {
						failure = e.Err
					}
					log.observe(e)
				}
				r := mustNew(t, cfg)
				err := r.Do(t.Context(), tt.fn)
				assert.Equal(t, tt.want, log.got)
				if tt.wantErr == nil {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tt.wantErr)
				assert.Same(t, err, failure, "EventFailure carries the error Do returned")
			})
		})
	}
}

func mustBudget(cfg retry.TokenBudgetConfig) *retry.TokenBudget {
	b, err := retry.NewTokenBudget(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// drained returns a TokenBudget that refuses retries: one token of two.
func drained() *retry.TokenBudget {
	b := mustBudget(retry.TokenBudgetConfig{MaxTokens: 2})
	b.Failure()
	return b
}

func TestRetrierEventsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log eventLog
		r := mustNew(t, retry.Config{Backoff: retry.Constant(time.Minute), Observer: log.observe})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		err := r.Do(ctx, seq(errFlaky))
		require.ErrorIs(t, err, retry.ErrExhausted, "a wait past the deadline is not started")
		assert.Equal(t, []string{"failure#1"}, log.got)

		log.got = nil
		ctx, cancel = context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		err = r.Do(ctx, seq(errFlaky))
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, []string{"retry#1 1m0s", "failure#1"}, log.got)
	})
}

func TestTransportEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		statuses := []int{503, 502, 200}
		var sent int
		next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			code := statuses[sent]
			sent++
			return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("x")), Request: req}, nil
		})
		var log eventLog
		r := mustNew(t, retry.Config{Backoff: retry.Constant(time.Second), Observer: log.observe})
		rt, err := retry.NewTransport(next, r)
		require.NoError(t, err)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://api.example:8080/v1", nil)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, []string{
			"retry#1 1s PUT api.example:8080",
			"retry#2 1s PUT api.example:8080",
			"success#3 PUT api.example:8080",
		}, log.got)
	})
}

func TestHedgeEvents(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	tests := []struct {
		name    string
		cfg     retry.HedgeConfig
		latency []time.Duration
		errs    []error
		want    []string
	}{
		{"first wins", retry.HedgeConfig{Delay: time.Second}, []time.Duration{time.Millisecond, 0}, []error{nil, nil},
			[]string{"success#1"}},
		{"hedge wins", retry.HedgeConfig{Delay: time.Second, MaxHedges: 2}, []time.Duration{time.Hour, time.Millisecond, 0}, []error{nil, nil, nil},
			[]string{"hedge#2 1s", "hedge_won#2", "success#2"}},
		{"all fail", retry.HedgeConfig{Delay: time.Second}, []time.Duration{3 * time.Second, time.Millisecond}, []error{errA, errB},
			[]string{"hedge#2 1s", "failure#2"}},
		{"budget refuses the hedge", retry.HedgeConfig{Delay: time.Second, Budget: drained()},
			[]time.Duration{2 * time.Second, 0}, []error{nil, nil},
			[]string{"budget_refused#1", "success#1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log eventLog
				cfg := tt.cfg
				cfg.Observer = log.observe
				fn, _, _ := hedgeFn(tt.latency, tt.errs)
				_, _ = retry.Hedge(t.Context(), cfg, fn)
				assert.Equal(t, tt.want, log.got)
			})
		})
	}
}

// TestObserverCallsBack: an observer may use the Retrier it observes, even
// start a call of its own, without deadlock.
func TestObserverCallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r *retry.Retrier
		var inner atomic.Int32
		var nested []string
		r = mustNew(t, retry.Config{Backoff: retry.Constant(time.Second), Observer: func(e retry.Event) {
			_ = r.Stats()
			if e.Kind == retry.EventRetry && inner.Add(1) == 1 {
				require.NoError(t, r.Do(t.Context(), seq()))
			}
			nested = append(nested, describe(e))
		}})
		require.NoError(t, r.Do(t.Context(), seq(errFlaky)))
		assert.Equal(t, []string{"success#1", "retry#1 1s", "success#2"}, nested, "the inner call's event is delivered inside the outer's")
		assert.Equal(t, int64(2), r.Stats().Calls)
	})
}

// TestPanickingObserver: a panicking observer changes nothing the caller
// sees but Stats.ObserverPanics.
func TestPanickingObserver(t *testing.T) {
	script := func(t *testing.T, observer func(retry.Event)) (errs []error, calls int, st retry.Stats) {
		r := mustNew(t, retry.Config{MaxAttempts: 3, Backoff: retry.Constant(time.Second),
			Budget: mustBudget(retry.TokenBudgetConfig{MaxTokens: 4}), Observer: observer})
		for _, errs0 := range [][]error{nil, {errFlaky}, {errFlaky, errFlaky, errFlaky}, {errLocal}, {errFlaky, errFlaky}} {
			fn := seq(errs0...)
			counted := func(ctx context.Context) error { calls++; return fn(ctx) }
			errs = append(errs, r.Do(t.Context(), counted))
		}
		return errs, calls, r.Stats()
	}
	synctest.Test(t, func(t *testing.T) {
		wantErrs, wantCalls, wantStats := script(t, nil)
		var events int64
		gotErrs, gotCalls, gotStats := script(t, func(retry.Event) { events++; panic("observer") })
		assert.Equal(t, wantCalls, gotCalls)
		require.Len(t, gotErrs, len(wantErrs))
		for i := range wantErrs {
			assert.Equal(t, fmt.Sprint(wantErrs[i]), fmt.Sprint(gotErrs[i]), "call %d", i)
		}
		assert.Equal(t, events, gotStats.ObserverPanics)
		assert.NotZero(t, events)
		gotStats.ObserverPanics = 0
		assert.Equal(t, wantStats, gotStats)
	})
}

func TestObservedSuccessAllocatesNothing(t *testing.T) {
	var n int
	r := mustNew(t, retry.Config{Observer: func(e retry.Event) { n += e.Attempt }})
	fn := func(context.Context) error { return nil }
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() { _ = r.Do(ctx, fn) })
	assert.Zero(t, allocs)
	assert.NotZero(t, n)
}
