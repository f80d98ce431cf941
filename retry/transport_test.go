package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

// trackedBody counts Close calls on the response bodies it wraps.
type trackedBody struct {
	io.ReadCloser
	closed *atomic.Int32
}

func (b trackedBody) Close() error {
	b.closed.Add(1)
	return b.ReadCloser.Close()
}

// counting wraps next and counts responses and body closes.
type counting struct {
	next      http.RoundTripper
	responses atomic.Int32
	closed    atomic.Int32
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	c.responses.Add(1)
	resp.Body = trackedBody{resp.Body, &c.closed}
	return resp, nil
}

// server answers with the statuses in order (the last one repeats) and
// records each request body.
type server struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	bodies   []string
	onHit    func()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	n := len(s.bodies)
	code := s.statuses[min(n, len(s.statuses))-1]
	onHit := s.onHit
	s.mu.Unlock()
	if onHit != nil {
		onHit()
	}
	for k, v := range s.header {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "response %d", n)
}

func (s *server) hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

func newLoopback(t *testing.T, s *server, max int) (*http.Client, *counting, string) {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	r := mustNew(t, retry.Config{MaxAttempts: max, Backoff: retry.Constant(0)})
	c := &counting{next: ts.Client().Transport}
	return &http.Client{Transport: mustTransport(t, c, r)}, c, ts.URL
}

func TestTransportIdempotency(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		key      string
		wantHits int
	}{
		{"GET retried", http.MethodGet, "", 3},
		{"PUT retried", http.MethodPut, "", 3},
		{"DELETE retried", http.MethodDelete, "", 3},
		{"POST without key sent once", http.MethodPost, "", 1},
		{"PATCH without key sent once", http.MethodPatch, "", 1},
		{"POST with Idempotency-Key retried", http.MethodPost, "k-1", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &server{statuses: []int{503}}
			client, c, url := newLoopback(t, s, 3)
			const payload = "exact\x00bytes\n"
			req, err := http.NewRequestWithContext(t.Context(), tt.method, url, strings.NewReader(payload))
			require.NoError(t, err)
			if tt.key != "" {
				req.Header.Set("Idempotency-Key", tt.key)
			}
			resp, err := client.Do(req)
			require.NoError(t, err, "a retry status is returned as a response")
			body, _ := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Equal(t, fmt.Sprintf("response %d", tt.wantHits), string(body), "the last response, unchanged")
			assert.Equal(t, tt.wantHits, s.hits())
			for i, b := range s.bodies {
				assert.Equal(t, payload, b, "attempt %d body", i+1)
			}
			assert.Equal(t, c.responses.Load(), c.closed.Load(), "every response body closed")
		})
	}
}

func TestTransportBodyWithoutGetBodySentOnce(t *testing.T) {
	s := &server{statuses: []int{503}}
	client, _, url := newLoopback(t, s, 3)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, io.NopCloser(strings.NewReader("x")))
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, 1, s.hits())
}

func TestTransportRecoversAndClosesDiscarded(t *testing.T) {
	s := &server{statuses: []int{502, 429, 200}}
	client, c, url := newLoopback(t, s, 5)
	resp, err := client.Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "response 3", string(body))
	assert.Equal(t, int32(3), c.responses.Load())
	assert.Equal(t, int32(3), c.closed.Load())
}

func TestTransportRetryAfterCappedLoopback(t *testing.T) {
	// Constant(0) has Cap 0: "Retry-After: 3600" must not stall the client.
	s := &server{statuses: []int{503, 200}, header: http.Header{"Retry-After": {"3600"}}}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var delays []time.Duration
	r := mustNew(t, retry.Config{Backoff: retry.Constant(0), Observer: onRetry(func(a retry.Event) { delays = append(delays, a.Delay) })})
	client := &http.Client{Transport: mustTransport(t, ts.Client().Transport, r)}
	resp, err := client.Get(ts.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, []time.Duration{0}, delays)
}

func TestTransportContextCancelLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := &server{statuses: []int{503}, onHit: cancel}
	client, c, url := newLoopback(t, s, 5)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	if resp != nil { // the 503 may arrive before the client sees the cancel
		require.NoError(t, resp.Body.Close())
	} else {
		assert.ErrorIs(t, err, context.Canceled)
	}
	assert.Equal(t, 1, s.hits(), "no attempt after ctx ended")
	assert.Equal(t, c.responses.Load(), c.closed.Load())
}

func mustTransport(t *testing.T, next http.RoundTripper, r *retry.Retrier, opts ...retry.Option) *retry.Transport {
	t.Helper()
	tr, err := retry.NewTransport(next, r, opts...)
	require.NoError(t, err)
	return tr
}

// fake is a next RoundTripper for tests inside a synctest bubble.
type fake struct {
	mu     sync.Mutex
	resps  []func(*http.Request) (*http.Response, error)
	reqs   []*http.Request
	closed atomic.Int32
}

func (f *fake) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	i := min(len(f.reqs), len(f.resps)) - 1
	f.mu.Unlock()
	return f.resps[i](req)
}

func (f *fake) status(code int, header ...string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		body := trackedBody{io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("x"), 1<<20))), &f.closed}
		return &http.Response{StatusCode: code, Header: h, Body: body, Request: req}, nil
	}
}

func TestTransportRetryAfterHonoured(t *testing.T) {
	backoff := retry.Exponential{Base: time.Second, Max: time.Minute, Jitter: retry.NoJitter}
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		wantWait   time.Duration
	}{
		{"seconds", func(time.Time) string { return "30" }, 30 * time.Second},
		{"seconds capped at Max", func(time.Time) string { return "3600" }, time.Minute},
		{"HTTP-date", func(now time.Time) string { return now.Add(45 * time.Second).UTC().Format(http.TimeFormat) }, 45 * time.Second},
		{"past date: backoff", func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, time.Second},
		{"garbage: backoff", func(time.Time) string { return "soon" }, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// The bubble's clock starts at a whole second, so HTTP-date
				// (second resolution) round-trips exactly.
				f := &fake{}
				f.resps = append(f.resps, f.status(503, "Retry-After", tt.retryAfter(time.Now())), f.status(200))
				r := mustNew(t, retry.Config{Backoff: backoff})
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
				require.NoError(t, err)
				start := time.Now()
				resp, err := mustTransport(t, f, r).RoundTrip(req)
				require.NoError(t, err)
				assert.Equal(t, 200, resp.StatusCode)
				assert.Equal(t, tt.wantWait, time.Since(start))
				assert.Equal(t, int32(1), f.closed.Load(), "the 503 body was closed")
			})
		})
	}
}

func TestTransportDoesNotMutateRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.resps = append(f.resps, func(req *http.Request) (*http.Response, error) {
			req.Header.Set("X-Mutated", "yes") // a misbehaving next
			return nil, errors.New("connection reset")
		}, f.status(200))
		r := mustNew(t, retry.Config{Backoff: retry.Constant(time.Second)})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://example.test/", strings.NewReader("body"))
		require.NoError(t, err)
		resp, err := mustTransport(t, f, r).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Empty(t, req.Header.Get("X-Mutated"))
		require.Len(t, f.reqs, 2)
		assert.NotSame(t, req, f.reqs[0])
		assert.NotSame(t, f.reqs[0], f.reqs[1])
	})
}

func TestTransportErrorsAndCancel(t *testing.T) {
	errReset := errors.New("connection reset")
	tests := []struct {
		name      string
		cancelAt  time.Duration // 0: never
		wantCalls int
		wantIs    []error
	}{
		{"transport errors exhaust", 0, 3, []error{retry.ErrExhausted, errReset}},
		{"cancel during wait stops the loop", 1500 * time.Millisecond, 2, []error{context.Canceled, errReset}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{}
				f.resps = append(f.resps, func(*http.Request) (*http.Response, error) { return nil, errReset })
				r := mustNew(t, retry.Config{Backoff: retry.Constant(time.Second)})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tt.cancelAt > 0 {
					time.AfterFunc(tt.cancelAt, cancel)
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
				require.NoError(t, err)
				start := time.Now()
				resp, err := mustTransport(t, f, r).RoundTrip(req)
				assert.Nil(t, resp)
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target)
				}
				assert.Len(t, f.reqs, tt.wantCalls)
				if tt.cancelAt > 0 {
					assert.Equal(t, tt.cancelAt, time.Since(start), "returns when ctx ends")
				}
			})
		})
	}
}

func TestTransportCustomStatuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.resps = append(f.resps, f.status(500), f.status(503), f.status(200))
		r := mustNew(t, retry.Config{Backoff: retry.Constant(time.Second)})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := mustTransport(t, f, r, retry.WithRetryStatuses(500)).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, 503, resp.StatusCode, "503 is not retried once the set is replaced")
		assert.Len(t, f.reqs, 2)
	})
}

// blockingBody is a response body whose Read blocks until ctx ends.
type blockingBody struct {
	ctx    context.Context
	closed *atomic.Int32
}

func (b blockingBody) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b blockingBody) Close() error {
	b.closed.Add(1)
	return nil
}

func TestTransportAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		var attemptCtxs []context.Context
		hang := func(req *http.Request) (*http.Response, error) {
			attemptCtxs = append(attemptCtxs, req.Context())
			<-req.Context().Done() // a server that never answers
			return nil, req.Context().Err()
		}
		ok := func(req *http.Request) (*http.Response, error) {
			attemptCtxs = append(attemptCtxs, req.Context())
			body := trackedBody{io.NopCloser(strings.NewReader("ok")), &f.closed}
			return &http.Response{StatusCode: 200, Body: body, Request: req}, nil
		}
		f.resps = append(f.resps, hang, hang, ok)
		var seen []error
		r := mustNew(t, retry.Config{MaxAttempts: 5, Backoff: retry.Constant(time.Second),
			Observer: onRetry(func(a retry.Event) { seen = append(seen, a.Err) })})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		start := time.Now()
		resp, err := mustTransport(t, f, r, retry.WithAttemptTimeout(10*time.Second)).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, 2*10*time.Second+2*time.Second, time.Since(start), "two timed-out attempts and two waits")
		require.Len(t, seen, 2)
		for _, e := range seen {
			assert.ErrorIs(t, e, retry.ErrAttemptTimeout)
			assert.ErrorIs(t, e, context.DeadlineExceeded)
		}
		require.Len(t, attemptCtxs, 3)
		dl, ok2 := attemptCtxs[2].Deadline()
		require.True(t, ok2, "each attempt has its own deadline")
		assert.Equal(t, start.Add(22*time.Second+10*time.Second), dl)

		// The deadline still covers reading the body, until Close.
		require.NoError(t, attemptCtxs[2].Err())
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "ok", string(body))
		require.NoError(t, resp.Body.Close())
		assert.ErrorIs(t, attemptCtxs[2].Err(), context.Canceled, "Close releases the attempt's context")
		assert.Equal(t, int32(1), f.closed.Load())
		assert.NoError(t, t.Context().Err(), "the caller's ctx is untouched")
	})
}

func TestTransportAttemptTimeoutCoversBodyRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		var closed atomic.Int32
		f.resps = append(f.resps, func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: blockingBody{req.Context(), &closed}, Request: req}, nil
		})
		r := mustNew(t, retry.Config{Backoff: retry.Constant(time.Second)})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		start := time.Now()
		resp, err := mustTransport(t, f, r, retry.WithAttemptTimeout(5*time.Second)).RoundTrip(req)
		require.NoError(t, err)
		_, err = io.ReadAll(resp.Body)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a stalled body read ends at the attempt deadline")
		assert.Equal(t, 5*time.Second, time.Since(start))
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, int32(1), closed.Load())
		assert.Len(t, f.reqs, 1, "a response already handed over is not retried")
	})
}

func TestTransportAttemptTimeoutCallerContextWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.resps = append(f.resps, func(req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		})
		r := mustNew(t, retry.Config{MaxAttempts: 10, Backoff: retry.Constant(time.Second)})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := mustTransport(t, f, r, retry.WithAttemptTimeout(time.Minute)).RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, retry.ErrAttemptTimeout, "the caller's deadline, not the attempt's")
		assert.Len(t, f.reqs, 1)
	})
}

func TestTransportBudgetRefusalIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.resps = append(f.resps, f.status(503, "Retry-After", "7"), f.status(200))
		tb, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		require.NoError(t, err)
		for range 4 {
			tb.Failure() // 6 tokens: the next failure leaves 5, not above half
		}
		r := mustNew(t, retry.Config{Budget: tb, Backoff: retry.Constant(time.Second)})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := mustTransport(t, f, r).RoundTrip(req)
		assert.Nil(t, resp, "a response and an error are never returned together")
		assert.ErrorIs(t, err, retry.ErrBudget)
		var se *retry.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 503, se.Code)
		assert.Equal(t, "7", se.Header.Get("Retry-After"))
		assert.Equal(t, int32(1), f.closed.Load(), "the withheld response was closed")
		assert.Len(t, f.reqs, 1)
		assert.Equal(t, int64(1), r.Stats().BudgetSkipped)
	})
}

func TestTransportExhaustedStatusIsTheResponse(t *testing.T) {
	// Unlike a budget refusal, running out of attempts hands back the last
	// response: the policy was followed to its end.
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.resps = append(f.resps, f.status(503))
		r := mustNew(t, retry.Config{MaxAttempts: 2, Backoff: retry.Constant(time.Second)})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := mustTransport(t, f, r).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, 503, resp.StatusCode)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, int32(2), f.closed.Load())
	})
}

func FuzzTransportRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", " 5", "+5", "-1", "1e9", "99999999999999999999",
		"Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "\x00", "soon"} {
		f.Add(s)
	}
	backoff := retry.Exponential{Base: time.Second, Max: 10 * time.Second, Jitter: retry.NoJitter}
	f.Fuzz(func(t *testing.T, v string) {
		synctest.Test(t, func(t *testing.T) {
			// Whatever the header says, the wait lies between the backoff
			// and the Backoff's Max, and the retry happens.
			n := &fake{}
			n.resps = append(n.resps, func(req *http.Request) (*http.Response, error) {
				h := http.Header{}
				h["Retry-After"] = []string{v}
				return &http.Response{StatusCode: 503, Header: h, Body: http.NoBody, Request: req}, nil
			}, n.status(200))
			var delays []time.Duration
			r := mustNew(t, retry.Config{Backoff: backoff, Observer: onRetry(func(a retry.Event) { delays = append(delays, a.Delay) })})
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
			require.NoError(t, err)
			resp, err := mustTransport(t, n, r).RoundTrip(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Len(t, delays, 1)
			if delays[0] < backoff.Base || delays[0] > backoff.Max {
				t.Fatalf("Retry-After %q: wait %v outside [%v, %v]", v, delays[0], backoff.Base, backoff.Max)
			}
		})
	})
}
