package retry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

var errShutdown = errors.New("shutting down")

func TestContextCheckedBeforeFirstAttempt(t *testing.T) {
	tests := []struct {
		name   string
		ctx    func() context.Context
		wantIs []error
	}{
		{"cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, []error{context.Canceled}},
		{"cancelled with a cause", func() context.Context {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(errShutdown)
			return ctx
		}, []error{context.Canceled, errShutdown}},
		{"deadline passed with a cause", func() context.Context {
			ctx, cancel := context.WithDeadlineCause(context.Background(), time.Unix(0, 0), errShutdown)
			_ = cancel // ended already; cancel only releases it
			return ctx
		}, []error{context.DeadlineExceeded, errShutdown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, retry.Config{})
			ctx := tt.ctx()
			called := false
			err := r.Do(ctx, func(context.Context) error { called = true; return nil })
			assert.False(t, called, "Do called fn with an ended context")
			for _, target := range tt.wantIs {
				assert.ErrorIs(t, err, target)
			}
			_, err = retry.Call(ctx, r, func(context.Context) (int, error) { called = true; return 1, nil })
			assert.False(t, called, "Call called fn with an ended context")
			for _, target := range tt.wantIs {
				assert.ErrorIs(t, err, target)
			}
			assert.Equal(t, retry.Stats{}, r.Stats(), "no call, no attempt")

			var bodyClosed atomic.Bool
			next := roundTripFunc(func(*http.Request) (*http.Response, error) { called = true; return nil, errFlaky })
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/", strings.NewReader("x"))
			require.NoError(t, err)
			req.Body = closeRecorder{req.Body, &bodyClosed}
			_, err = mustTransport(t, next, r).RoundTrip(req)
			assert.False(t, called, "RoundTrip sent a request with an ended context")
			assert.True(t, bodyClosed.Load(), "the request body is closed")
			for _, target := range tt.wantIs {
				assert.ErrorIs(t, err, target)
			}
		})
	}
}

// closeRecorder records that a request body was closed.
type closeRecorder struct {
	io.ReadCloser
	closed *atomic.Bool
}

func (c closeRecorder) Close() error {
	c.closed.Store(true)
	return c.ReadCloser.Close()
}

func TestContextCauseMatched(t *testing.T) {
	tests := []struct {
		name string
		// run calls Do with a context that ends with errShutdown as its
		// cause, and returns Do's error.
		run    func(t *testing.T, r *retry.Retrier) error
		wantIs []error
	}{
		{"cancelled during the wait", func(t *testing.T, r *retry.Retrier) error {
			ctx, cancel := context.WithCancelCause(t.Context())
			time.AfterFunc(time.Minute, func() { cancel(errShutdown) })
			fn, _ := failing(10, errFlaky)
			return r.Do(ctx, fn)
		}, []error{context.Canceled, errShutdown, errFlaky}},
		{"fn returns ctx.Err()", func(t *testing.T, r *retry.Retrier) error {
			ctx, cancel := context.WithCancelCause(t.Context())
			return r.Do(ctx, func(ctx context.Context) error {
				cancel(errShutdown)
				return ctx.Err()
			})
		}, []error{context.Canceled, errShutdown}},
		{"fn returns the cause", func(t *testing.T, r *retry.Retrier) error {
			ctx, cancel := context.WithCancelCause(t.Context())
			return r.Do(ctx, func(ctx context.Context) error {
				cancel(errShutdown)
				return context.Cause(ctx)
			})
		}, []error{context.Canceled, errShutdown}},
		{"deadline with a cause during an attempt", func(t *testing.T, r *retry.Retrier) error {
			ctx, cancel := context.WithTimeoutCause(t.Context(), 30*time.Second, errShutdown)
			defer cancel()
			return r.Do(ctx, func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			})
		}, []error{context.DeadlineExceeded, errShutdown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustNew(t, retry.Config{MaxAttempts: 10, Backoff: retry.Constant(time.Hour)})
				err := tt.run(t, r)
				require.Error(t, err)
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target)
				}
				assert.NotErrorIs(t, err, retry.ErrExhausted)
			})
		})
	}
}

func TestContextErrorUnchangedWithoutCause(t *testing.T) {
	// fn's own context error comes back as it is when the context has no
	// cause of its own.
	r := mustNew(t, retry.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	var got error
	err := r.Do(ctx, func(ctx context.Context) error {
		cancel()
		got = ctx.Err()
		return got
	})
	assert.Same(t, got, err)
}

func TestHedgeContextCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(1500*time.Millisecond, func() { cancel(errShutdown) })
		fn, started, returned := hedgeFn([]time.Duration{time.Hour, time.Hour}, []error{nil, nil})
		_, err := retry.Hedge(ctx, retry.HedgeConfig{Delay: time.Second}, fn)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errShutdown)
		assert.Equal(t, started.Load(), returned.Load())
	})
}
