package bulkhead

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark"
)

// fakeRT answers every request with status (200 if 0) and a short body, or
// fails with err.
type fakeRT struct {
	calls  atomic.Int64
	status int
	err    error
}

func (f *fakeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

func mustTransport(t *testing.T, next http.RoundTripper, l Limiter, opts ...TransportOption) *Transport {
	t.Helper()
	tr, err := NewTransport(next, l, opts...)
	require.NoError(t, err)
	return tr
}

func TestTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 1})
		next := &fakeRT{}
		client := &http.Client{Transport: mustTransport(t, next, b)}
		resp, err := client.Get("http://backend.invalid/a")
		require.NoError(t, err)
		assert.Equal(t, int64(1), b.Stats().InFlight, "held until the body ends")

		_, err = client.Get("http://backend.invalid/b")
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrRejected)
		assert.ErrorIs(t, err, ErrFull)
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
		assert.Equal(t, int64(1), next.calls.Load(), "a rejection makes no network call")

		require.NoError(t, resp.Body.Close())
		require.NoError(t, resp.Body.Close()) // a second Close releases nothing more
		s := b.Stats()
		assert.Equal(t, int64(1), s.Available)
		assert.Zero(t, s.Misuse)

		resp, err = client.Get("http://backend.invalid/c")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, int64(2), next.calls.Load())
	})
}

// The slot is given back at the first of EOF, a read error and Close.
func TestTransportReleasesAtEOF(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	resp, err := mustTransport(t, &fakeRT{}, b).RoundTrip(httptest.NewRequest(http.MethodGet, "http://backend.invalid/", nil))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(body))
	assert.Equal(t, int64(1), b.Stats().Available, "EOF ends the permit before Close")
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, int64(1), b.Stats().Available)
	assert.Zero(t, b.Stats().Misuse)
}

func TestTransportReleasesOnError(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	boom := errors.New("connection refused")
	rt := mustTransport(t, &fakeRT{err: boom}, b)
	req := httptest.NewRequest(http.MethodGet, "http://backend.invalid/", nil)
	_, err := rt.RoundTrip(req)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, int64(1), b.Stats().Available)
}

func TestTransportClosesBodyOnRejection(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	mustTry(t, b)
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, "http://backend.invalid/", body)
	require.NoError(t, err)
	_, err = mustTransport(t, &fakeRT{}, b).RoundTrip(req)
	assert.ErrorIs(t, err, ErrRejected)
	assert.True(t, body.closed)
}

// A rate-limited request fails with the moment the next token comes.
func TestTransportRateLimitedRetryAt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 4, RateLimiter: rate.NewLimiter(2, 1)})
		rt := mustTransport(t, &fakeRT{}, b)
		resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://backend.invalid/", nil))
		require.NoError(t, err)
		_ = resp.Body.Close()
		_, err = rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://backend.invalid/", nil))
		assert.ErrorIs(t, err, ErrRateLimited)
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
		at, ok := bulwark.RetryAt(err)
		require.True(t, ok)
		assert.Equal(t, 500*time.Millisecond, time.Until(at))
	})
}

// A 503 or 429 answer is the server's overload signal: an Adaptive
// limiter's Permit ends as dropped. WithDropStatus changes the set.
func TestTransportDropStatus(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		opts        []TransportOption
		wantDropped int64
	}{
		{"200 is a sample", 200, nil, 0},
		{"503 is a drop", 503, nil, 1},
		{"429 is a drop", 429, nil, 1},
		{"500 is a sample", 500, nil, 0},
		{"custom set", 500, []TransportOption{WithDropStatus(500)}, 1},
		{"none", 503, []TransportOption{WithDropStatus()}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAdaptive(AdaptiveConfig{})
			require.NoError(t, err)
			rt := mustTransport(t, &fakeRT{status: tc.status}, a, tc.opts...)
			resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://backend.invalid/", nil))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			s := a.Stats()
			assert.Equal(t, tc.wantDropped, s.Dropped)
			assert.Zero(t, s.InFlight)
		})
	}
}

// A read error after the caller's deadline passed is a drop, and it ends
// the permit before Close.
func TestTransportBodyReadError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, err := NewAdaptive(AdaptiveConfig{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: io.NopCloser(errReader{errors.New("stream reset")}), Request: req}, nil
		})
		rt := mustTransport(t, next, a)
		resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://backend.invalid/", nil).WithContext(ctx))
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		_, err = io.ReadAll(resp.Body)
		assert.Error(t, err)
		assert.Equal(t, int64(1), a.Stats().Dropped)
		assert.Zero(t, a.Stats().InFlight)
		_ = resp.Body.Close()
		assert.Equal(t, int64(1), a.Stats().Dropped)
	})
}

func TestNewTransportInvalid(t *testing.T) {
	var nilBulkhead *Bulkhead
	cases := []struct {
		name string
		l    Limiter
		opts []TransportOption
		want string
	}{
		{"nil limiter", nil, nil, "bulkhead: NewTransport limiter is nil"},
		{"nil *Bulkhead", nilBulkhead, nil, "bulkhead: NewTransport limiter is nil"},
		{"bad status", mustNew(t, Config{MaxConcurrent: 1}), []TransportOption{WithDropStatus(503, 42)}, "bulkhead: WithDropStatus(42) outside [100,599]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTransport(nil, tc.l, tc.opts...)
			assert.Nil(t, tr)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNewTransportNilNextIsDefault(t *testing.T) {
	tr := mustTransport(t, nil, mustNew(t, Config{MaxConcurrent: 1}))
	assert.Same(t, http.DefaultTransport, tr.next)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
