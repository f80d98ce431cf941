package retry_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

// hangThenSucceed returns an fn that blocks until its context ends for the
// first hangs calls (returning the context's error), then returns nil; ctxs
// records the context of each call.
func hangThenSucceed(hangs int) (fn func(context.Context) error, ctxs *[]context.Context) {
	ctxs = new([]context.Context)
	return func(ctx context.Context) error {
		*ctxs = append(*ctxs, ctx)
		if len(*ctxs) <= hangs {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, ctxs
}

func TestAttemptTimeoutDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []error
		r := mustNew(t, retry.Config{MaxAttempts: 5, AttemptTimeout: 10 * time.Second, Backoff: retry.Constant(time.Second),
			Observer: onRetry(func(a retry.Event) { seen = append(seen, a.Err) })})
		fn, ctxs := hangThenSucceed(2)
		start := time.Now()
		require.NoError(t, r.Do(t.Context(), fn))
		assert.Equal(t, 2*10*time.Second+2*time.Second, time.Since(start), "two timed-out attempts and two waits")
		require.Len(t, seen, 2)
		for _, e := range seen {
			assert.ErrorIs(t, e, retry.ErrAttemptTimeout)
			assert.ErrorIs(t, e, context.DeadlineExceeded)
		}
		require.Len(t, *ctxs, 3)
		dl, ok := (*ctxs)[2].Deadline()
		require.True(t, ok, "each attempt has its own deadline")
		assert.Equal(t, start.Add(22*time.Second+10*time.Second), dl)
		assert.Error(t, (*ctxs)[2].Err(), "the attempt's context is released when it returns")
		assert.NoError(t, t.Context().Err())
	})
}

func TestAttemptTimeoutCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{AttemptTimeout: time.Second, Backoff: retry.Constant(0)})
		calls := 0
		v, err := retry.Call(t.Context(), r, func(ctx context.Context) (string, error) {
			if calls++; calls == 1 {
				<-ctx.Done()
				return "late", ctx.Err()
			}
			return "ok", nil
		})
		require.NoError(t, err)
		assert.Equal(t, "ok", v)
		assert.Equal(t, 2, calls)

		// Exhausted by timeouts: ErrExhausted, ErrAttemptTimeout, the zero T.
		calls = 0
		v, err = retry.Call(t.Context(), r, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "late", ctx.Err()
		})
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.ErrorIs(t, err, retry.ErrAttemptTimeout)
		assert.Empty(t, v)
	})
}

func TestAttemptTimeoutCallerDeadlineWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.Config{MaxAttempts: 10, AttemptTimeout: time.Minute, Backoff: retry.Constant(time.Second)})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		fn, ctxs := hangThenSucceed(100)
		err := r.Do(ctx, fn)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, retry.ErrAttemptTimeout, "the caller's deadline, not the attempt's")
		assert.Len(t, *ctxs, 1)
	})
}

func TestTransportUsesConfigAttemptTimeout(t *testing.T) {
	tests := []struct {
		name         string
		opts         []retry.Option
		wantDeadline time.Duration // 0: none
	}{
		{"Config.AttemptTimeout", nil, 5 * time.Second},
		{"WithAttemptTimeout replaces it", []retry.Option{retry.WithAttemptTimeout(2 * time.Second)}, 2 * time.Second},
		{"WithAttemptTimeout(0) removes it", []retry.Option{retry.WithAttemptTimeout(0)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var got context.Context
				next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
					got = req.Context()
					return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
				})
				r := mustNew(t, retry.Config{AttemptTimeout: 5 * time.Second})
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
				require.NoError(t, err)
				start := time.Now()
				resp, err := mustTransport(t, next, r, tt.opts...).RoundTrip(req)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				dl, ok := got.Deadline()
				if tt.wantDeadline == 0 {
					assert.False(t, ok, "no attempt deadline")
					return
				}
				require.True(t, ok)
				assert.Equal(t, start.Add(tt.wantDeadline), dl)
			})
		})
	}
}
