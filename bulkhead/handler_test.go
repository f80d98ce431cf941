package bulkhead

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

func mustHandler(t *testing.T, next http.Handler, l Limiter, opts ...HandlerOption) *Handler {
	t.Helper()
	h, err := NewHandler(next, l, opts...)
	require.NoError(t, err)
	return h
}

// With MaxConcurrent 2 and 10 slow concurrent requests, 8 are shed with 503
// and Retry-After, and next sees exactly 2.
func TestHandlerSheds(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 2})
	var entered atomic.Int64
	inside := make(chan struct{}, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(mustHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		inside <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "done")
	}), b))
	defer srv.Close()

	type result struct {
		status     int
		retryAfter string
		body       string
	}
	results := make(chan result, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			resp, err := srv.Client().Get(srv.URL)
			if !assert.NoError(t, err) {
				results <- result{}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("Retry-After"), string(body)}
		})
	}
	// The 8 shed requests answer while the 2 admitted ones are held inside.
	for range 8 {
		r := <-results
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Equal(t, "1", r.retryAfter)
		assert.Contains(t, r.body, "overloaded")
		assert.Less(t, len(r.body), 100)
	}
	<-inside
	<-inside
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "done", r.body)
	}
	assert.Equal(t, int64(2), entered.Load())
	s := b.Stats()
	assert.Equal(t, int64(8), s.RejectedFull)
	assert.Equal(t, int64(2), s.Available)
}

func TestHandlerWithAdaptive(t *testing.T) {
	a, err := NewAdaptive(AdaptiveConfig{InitialLimit: 1, MaxLimit: 1})
	require.NoError(t, err)
	p, err := a.Acquire(context.Background()) // fill the only slot
	require.NoError(t, err)
	ran := false
	h := mustHandler(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }), a)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.False(t, ran)
	p.Done(nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, ran)
	assert.Equal(t, int64(0), a.Stats().InFlight)
}

// A rate-limited request is told when the next token comes (rounded up to
// whole seconds); without that knowledge the handler sends WithRetryAfter.
func TestHandlerRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
		limited := mustNew(t, Config{MaxConcurrent: 8, RateLimiter: rate.NewLimiter(rate.Every(5*time.Second), 1)})
		mustTry(t, limited)
		time.Sleep(1500 * time.Millisecond)
		rec := httptest.NewRecorder()
		mustHandler(t, ok, limited).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, "4", rec.Header().Get("Retry-After"), "3.5 s to the next token")

		full := mustNew(t, Config{MaxConcurrent: 1})
		mustTry(t, full)
		rec = httptest.NewRecorder()
		mustHandler(t, ok, full, WithRetryAfter(7*time.Second)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, "7", rec.Header().Get("Retry-After"))
	})
}

// A panicking handler gives its slot back and records nothing; the panic
// goes on.
func TestHandlerPanicReleases(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	h := mustHandler(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), b)
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	})
	s := b.Stats()
	assert.Equal(t, int64(1), s.Available)
	assert.Zero(t, s.Misuse)
}

func TestNewHandlerInvalid(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	b := mustNew(t, Config{MaxConcurrent: 1})
	var nilBulkhead *Bulkhead
	var nilAdaptive *Adaptive
	cases := []struct {
		name string
		next http.Handler
		l    Limiter
		opts []HandlerOption
		want string
	}{
		{"nil next", nil, b, nil, "bulkhead: NewHandler next handler is nil"},
		{"nil limiter", ok, nil, nil, "bulkhead: NewHandler limiter is nil"},
		{"nil *Bulkhead", ok, nilBulkhead, nil, "bulkhead: NewHandler limiter is nil"},
		{"nil *Adaptive", ok, nilAdaptive, nil, "bulkhead: NewHandler limiter is nil"},
		{"zero Retry-After", ok, b, []HandlerOption{WithRetryAfter(0)}, "bulkhead: WithRetryAfter(0s) not a whole number of seconds >= 1s"},
		{"fractional Retry-After", ok, b, []HandlerOption{WithRetryAfter(1500 * time.Millisecond)}, "bulkhead: WithRetryAfter(1.5s)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHandler(tc.next, tc.l, tc.opts...)
			assert.Nil(t, h)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
