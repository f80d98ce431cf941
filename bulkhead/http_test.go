package bulkhead

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With MaxConcurrent 2 and 10 slow concurrent requests, 8 are shed with 503
// and Retry-After, and next sees exactly 2.
func TestHandlerSheds(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 2})
	var entered atomic.Int64
	inside := make(chan struct{}, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(Handler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		inside <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "done")
	})))
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
	assert.Equal(t, uint64(8), s.RejectedFull)
	assert.Equal(t, 2, s.Available)
}

func TestHandlerWithAdaptive(t *testing.T) {
	a, err := NewAdaptive(AdaptiveConfig{InitialLimit: 1, MaxLimit: 1})
	require.NoError(t, err)
	p, err := a.Acquire(context.Background()) // fill the only slot
	require.NoError(t, err)
	ran := false
	h := Handler(a, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.False(t, ran)
	p.Done(nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, ran)
	assert.Equal(t, 0, a.Stats().InFlight)
}

// fakeRT answers every request with a body the test can hold open.
type fakeRT struct {
	calls atomic.Int64
	err   error
}

func (f *fakeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

func TestTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 1})
		next := &fakeRT{}
		client := &http.Client{Transport: NewTransport(next, b)}
		resp, err := client.Get("http://backend.invalid/a")
		require.NoError(t, err)
		assert.Equal(t, 1, b.Stats().InFlight, "held until the body is closed")

		_, err = client.Get("http://backend.invalid/b")
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrRejected)
		assert.ErrorIs(t, err, ErrFull)
		assert.Equal(t, int64(1), next.calls.Load(), "a rejection makes no network call")

		require.NoError(t, resp.Body.Close())
		require.NoError(t, resp.Body.Close()) // a second Close releases nothing more
		s := b.Stats()
		assert.Equal(t, 1, s.Available)
		assert.Zero(t, s.Misuse)

		resp, err = client.Get("http://backend.invalid/c")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, int64(2), next.calls.Load())
	})
}

func TestTransportReleasesOnError(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	boom := errors.New("connection refused")
	rt := NewTransport(&fakeRT{err: boom}, b)
	req := httptest.NewRequest(http.MethodGet, "http://backend.invalid/", nil)
	_, err := rt.RoundTrip(req)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, b.Stats().Available)
}

func TestTransportClosesBodyOnRejection(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	require.True(t, b.TryAcquire())
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, "http://backend.invalid/", body)
	require.NoError(t, err)
	_, err = NewTransport(&fakeRT{}, b).RoundTrip(req)
	assert.ErrorIs(t, err, ErrRejected)
	assert.True(t, body.closed)
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
