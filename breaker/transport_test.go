package breaker_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/breaker"
)

func TestTransportShortCircuitsOpenHost(t *testing.T) {
	var badHits, goodHits atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badHits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer bad.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		goodHits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer good.Close()

	g, err := breaker.NewGroup(breaker.Config{WindowSize: 4, MinCalls: 4, OpenFor: time.Hour}, breaker.GroupConfig{})
	require.NoError(t, err)
	rt, err := breaker.NewTransport(nil, g)
	require.NoError(t, err)
	client := &http.Client{Transport: rt}

	get := func(url string) (*http.Response, error) {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	for range 4 {
		resp, err := get(bad.URL)
		require.NoError(t, err)
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	}
	for range 10 {
		_, err := get(bad.URL)
		require.ErrorIs(t, err, breaker.ErrOpen)
		resp, err := get(good.URL)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	require.Equal(t, int64(4), badHits.Load(), "an open host sees no more requests")
	require.Equal(t, int64(10), goodHits.Load())

	// A rejected request's body is closed, as RoundTripper requires.
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, _ := http.NewRequest(http.MethodPost, bad.URL, body)
	_, err = client.Do(req)
	require.ErrorIs(t, err, breaker.ErrOpen)
	require.True(t, body.closed.Load(), "request body closed")
	require.Equal(t, int64(4), badHits.Load())
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// fakeNext answers every request with a canned response, counting calls.
type fakeNext struct {
	calls  atomic.Int64
	status int
	header http.Header
	err    error
}

func (f *fakeNext) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return &http.Response{StatusCode: f.status, Header: f.header, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

func TestTransportRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		cap        time.Duration // 0: the default; -1: WithRetryAfterCap(0)
		wantOpen   time.Duration
	}{
		{"503 seconds lengthen the open time", 503, "30", 0, 30 * time.Second},
		{"429 HTTP date (429 classified as failure)", 429, "DATE+45s", 0, 45 * time.Second},
		{"capped", 503, "3600", 0, time.Minute},
		{"custom cap", 503, "3600", 10 * time.Minute, 10 * time.Minute},
		{"shorter than OpenFor changes nothing", 503, "1", 0, 5 * time.Second},
		{"500 ignores Retry-After", 500, "30", 0, 5 * time.Second},
		{"garbage ignored", 503, "soon", 0, 5 * time.Second},
		{"spaces around seconds", 503, " 30 ", 0, 30 * time.Second},
		{"a sign is malformed", 503, "+30", 0, 5 * time.Second},
		{"a 20-digit value is capped", 503, "99999999999999999999", 0, time.Minute},
		{"a cap of zero ignores Retry-After", 503, "30", -1, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.Header{}
				ra := tc.retryAfter
				if strings.HasPrefix(ra, "DATE+") {
					d, _ := time.ParseDuration(strings.TrimPrefix(ra, "DATE+"))
					ra = time.Now().Add(d).UTC().Format(http.TimeFormat)
				}
				h.Set("Retry-After", ra)
				next := &fakeNext{status: tc.status, header: h}
				g, err := breaker.NewGroup(breaker.Config{WindowSize: 1, MinCalls: 1}, breaker.GroupConfig{})
				require.NoError(t, err)
				var opts []breaker.Option
				switch {
				case tc.cap > 0:
					opts = append(opts, breaker.WithRetryAfterCap(tc.cap))
				case tc.cap < 0:
					opts = append(opts, breaker.WithRetryAfterCap(0))
				}
				if tc.status == http.StatusTooManyRequests { // a success by default
					opts = append(opts, breaker.WithClassifier(func(*http.Response, error) breaker.Outcome { return breaker.Failure }))
				}
				rt, err := breaker.NewTransport(next, g, opts...)
				require.NoError(t, err)
				req, _ := http.NewRequest(http.MethodGet, "http://svc.example/x", nil)
				resp, err := rt.RoundTrip(req)
				require.NoError(t, err)
				require.Equal(t, tc.status, resp.StatusCode, "response handed back unchanged")
				s := g.Get("svc.example").Stats()
				require.Equal(t, breaker.Open, s.State)
				require.Equal(t, time.Now().Add(tc.wantOpen), s.OpenUntil)
				_, err = rt.RoundTrip(req)
				require.ErrorIs(t, err, breaker.ErrOpen)
				require.Equal(t, int64(1), next.calls.Load())
			})
		})
	}
}

func TestTransportClassifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fakeNext{status: http.StatusTooManyRequests}
		g, err := breaker.NewGroup(breaker.Config{WindowSize: 2, MinCalls: 2}, breaker.GroupConfig{})
		require.NoError(t, err)
		rt, err := breaker.NewTransport(next, g,
			breaker.WithClassifier(func(resp *http.Response, err error) breaker.Outcome {
				if err == nil && resp.StatusCode == http.StatusTooManyRequests {
					return breaker.Failure
				}
				return breaker.DefaultResponseClassify(resp, err)
			}),
			breaker.WithKey(func(r *http.Request) string { return r.Header.Get("Tenant") }))
		require.NoError(t, err)
		req, _ := http.NewRequest(http.MethodGet, "http://svc.example/", nil)
		req.Header.Set("Tenant", "t1")
		for range 2 {
			_, err := rt.RoundTrip(req)
			require.NoError(t, err)
		}
		_, err = rt.RoundTrip(req)
		require.ErrorIs(t, err, breaker.ErrOpen)
		require.Equal(t, breaker.Closed, g.Get("t2").State())

		next.err = errors.New("dial refused")
		req.Header.Set("Tenant", "t3")
		_, err = rt.RoundTrip(req)
		require.ErrorContains(t, err, "dial refused")
		require.Equal(t, int64(1), g.Get("t3").Stats().Failures)
	})
}

func FuzzTransportRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", "", "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		synctest.Test(t, func(t *testing.T) {
			next := &fakeNext{status: 503, header: http.Header{"Retry-After": {v}}}
			g, _ := breaker.NewGroup(breaker.Config{WindowSize: 1, MinCalls: 1}, breaker.GroupConfig{})
			rt, err := breaker.NewTransport(next, g)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://h/", nil)
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			s := g.Get("h").Stats()
			if d := time.Until(s.OpenUntil); d < 5*time.Second || d > time.Minute {
				t.Fatalf("Retry-After %q: open for %v, want within [5s, 1m]", v, d)
			}
		})
	})
}

func TestNewTransportErrors(t *testing.T) {
	g, err := breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{})
	require.NoError(t, err)
	tests := []struct {
		name  string
		group *breaker.Group
		opts  []breaker.Option
		want  string
	}{
		{"nil group", nil, nil, "breaker: NewTransport group nil: want a *Group from NewGroup"},
		{"negative Retry-After cap", g, []breaker.Option{breaker.WithRetryAfterCap(-time.Second)}, "breaker: WithRetryAfterCap(-1s) negative"},
		{"nil classifier", g, []breaker.Option{breaker.WithClassifier(nil)}, "breaker: WithClassifier(nil): a nil classifier"},
		{"nil key", g, []breaker.Option{breaker.WithKey(nil)}, "breaker: WithKey(nil): a nil key function"},
		{"nil option", g, []breaker.Option{nil}, "breaker: NewTransport: a nil Option"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := breaker.NewTransport(nil, tc.group, tc.opts...)
			require.Nil(t, rt)
			require.ErrorIs(t, err, breaker.ErrInvalidConfig)
			require.EqualError(t, err, tc.want)
		})
	}
}

// A nil next is http.DefaultTransport.
func TestTransportNilNextIsDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	g, err := breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{})
	require.NoError(t, err)
	rt, err := breaker.NewTransport(nil, g)
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "ok", string(body))
}

// A rejection says it was not attempted and, through the Transport's
// wrapping, until when.
func TestTransportRejectionNotAttempted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fakeNext{status: http.StatusBadGateway}
		g, err := breaker.NewGroup(breaker.Config{ConsecutiveFailures: 1, OpenFor: 30 * time.Second}, breaker.GroupConfig{})
		require.NoError(t, err)
		rt, err := breaker.NewTransport(next, g)
		require.NoError(t, err)
		req, _ := http.NewRequest(http.MethodGet, "http://b1.example/", nil)
		_, err = rt.RoundTrip(req)
		require.NoError(t, err)
		_, err = rt.RoundTrip(req)
		require.ErrorIs(t, err, breaker.ErrOpen)
		require.ErrorIs(t, err, bulwark.ErrNotAttempted)
		at, ok := bulwark.RetryAt(err)
		require.True(t, ok)
		require.Equal(t, time.Now().Add(30*time.Second), at)
		require.Equal(t, int64(1), next.calls.Load())
	})
}

// panicky is a RoundTripper whose RoundTrip panics.
type panicky struct{}

func (panicky) RoundTrip(*http.Request) (*http.Response, error) { panic("boom") }

func TestTransportPanicIsFailure(t *testing.T) {
	g, err := breaker.NewGroup(breaker.Config{ConsecutiveFailures: 1}, breaker.GroupConfig{})
	require.NoError(t, err)
	rt, err := breaker.NewTransport(panicky{}, g)
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodGet, "http://b1.example/", nil)
	func() {
		defer func() { require.Equal(t, "boom", recover()) }()
		_, _ = rt.RoundTrip(req)
	}()
	require.Equal(t, breaker.Open, g.Get("b1.example").State())
}
