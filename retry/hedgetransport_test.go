package retry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
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

// hedgeNet is a next RoundTripper for hedging tests inside a synctest
// bubble: attempt i (in arrival order) waits latency[i] (or until its
// context ends) and answers status[i] (0: a transport error). It tracks
// which attempts are still running, which were cancelled, and every body
// it handed out.
type hedgeNet struct {
	latency []time.Duration
	status  []int

	mu        sync.Mutex
	n         int
	bodies    []*netBody
	reqBodies []string
	running   atomic.Int32
	cancelled atomic.Int32
	ctxs      []context.Context
}

// netBody is a response body that records whether it was read to its end
// and closed.
type netBody struct {
	r      *bytes.Reader
	closed atomic.Bool
	eof    atomic.Bool
}

func (b *netBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *netBody) Close() error { b.closed.Store(true); return nil }

func (h *hedgeNet) RoundTrip(req *http.Request) (*http.Response, error) {
	h.running.Add(1)
	defer h.running.Add(-1)
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	h.mu.Lock()
	i := h.n
	h.n++
	h.reqBodies = append(h.reqBodies, string(reqBody))
	h.ctxs = append(h.ctxs, req.Context())
	h.mu.Unlock()
	select {
	case <-time.After(h.latency[i]):
	case <-req.Context().Done():
		h.cancelled.Add(1)
		return nil, req.Context().Err()
	}
	if h.status[i] == 0 {
		return nil, errors.New("connection reset")
	}
	b := &netBody{r: bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, 1000))}
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.mu.Unlock()
	return &http.Response{StatusCode: h.status[i], Body: b, Request: req, Header: http.Header{}}, nil
}

func mustHedge(t *testing.T, next http.RoundTripper, cfg retry.HedgeConfig, opts ...retry.Option) *retry.HedgeTransport {
	t.Helper()
	ht, err := retry.NewHedgeTransport(next, cfg, opts...)
	require.NoError(t, err)
	return ht
}

func TestHedgeTransport(t *testing.T) {
	tests := []struct {
		name        string
		cfg         retry.HedgeConfig
		latency     []time.Duration
		status      []int
		wantStatus  int  // 0: an error
		wantBody    byte // the winner's body letter: 'a' + attempt
		wantSent    int  // attempts sent
		wantElapsed time.Duration
	}{
		{"fast first, no hedge", retry.HedgeConfig{Delay: time.Second}, []time.Duration{10 * time.Millisecond}, []int{200},
			200, 'a', 1, 10 * time.Millisecond},
		{"slow first, hedge wins", retry.HedgeConfig{Delay: time.Second}, []time.Duration{time.Hour, 100 * time.Millisecond}, []int{200, 200},
			200, 'b', 2, 1100 * time.Millisecond},
		{"retry status loses", retry.HedgeConfig{Delay: time.Second}, []time.Duration{time.Millisecond, time.Millisecond}, []int{503, 200},
			200, 'b', 2, 1001 * time.Millisecond},
		{"a definitive 404 wins", retry.HedgeConfig{Delay: time.Second}, []time.Duration{time.Hour, time.Millisecond}, []int{200, 404},
			404, 'b', 2, 1001 * time.Millisecond},
		{"transport error loses", retry.HedgeConfig{Delay: time.Second, MaxHedges: 2}, []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}, []int{0, 0, 200},
			200, 'c', 3, 2001 * time.Millisecond},
		{"all lose: the first-started response", retry.HedgeConfig{Delay: time.Second}, []time.Duration{3 * time.Second, time.Millisecond}, []int{502, 503},
			502, 'a', 2, 3 * time.Second},
		{"all lose with errors", retry.HedgeConfig{Delay: time.Second}, []time.Duration{3 * time.Second, time.Millisecond}, []int{0, 503},
			0, 0, 2, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				net := &hedgeNet{latency: tt.latency, status: tt.status}
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
				require.NoError(t, err)
				start := time.Now()
				resp, err := mustHedge(t, net, tt.cfg).RoundTrip(req)
				assert.Equal(t, tt.wantElapsed, time.Since(start))
				assert.Zero(t, net.running.Load(), "an attempt outlived RoundTrip")
				assert.Equal(t, tt.wantSent, net.n)
				if tt.wantStatus == 0 {
					assert.Nil(t, resp)
					assert.Error(t, err)
				} else {
					require.NoError(t, err)
					assert.Equal(t, tt.wantStatus, resp.StatusCode)
					body, err := io.ReadAll(resp.Body)
					require.NoError(t, err, "the winner's body is intact")
					assert.Equal(t, bytes.Repeat([]byte{tt.wantBody}, 1000), body)
					require.NoError(t, resp.Body.Close())
				}
				for _, b := range net.bodies {
					assert.True(t, b.closed.Load(), "every body is closed")
					assert.True(t, b.eof.Load(), "every body is read: the winner's by the caller, the others drained")
				}
				net.mu.Lock()
				for i, c := range net.ctxs {
					assert.Error(t, c.Err(), "attempt %d's context is released", i)
				}
				net.mu.Unlock()
			})
		})
	}
}

func TestHedgeTransportWinnerContextLivesUntilClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &hedgeNet{latency: []time.Duration{time.Hour, time.Millisecond}, status: []int{200, 200}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := mustHedge(t, net, retry.HedgeConfig{Delay: time.Second}).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, int32(1), net.cancelled.Load(), "the loser was cancelled")
		assert.ErrorIs(t, net.ctxs[0].Err(), context.Canceled)
		assert.NoError(t, net.ctxs[1].Err(), "the winner's context lives while its body is read")
		time.Sleep(time.Minute)
		assert.NoError(t, net.ctxs[1].Err())
		require.NoError(t, resp.Body.Close())
		assert.ErrorIs(t, net.ctxs[1].Err(), context.Canceled, "Close releases the winner's context")
	})
}

func TestHedgeTransportOnlyIdempotent(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		key      string
		getBody  bool
		wantSent int
		wantBody string
	}{
		{"GET hedged", http.MethodGet, "", true, 2, ""},
		{"PUT with a replayable body hedged", http.MethodPut, "", true, 2, "payload"},
		{"POST sent once", http.MethodPost, "", true, 1, "payload"},
		{"POST with Idempotency-Key hedged", http.MethodPost, "k-1", true, 2, "payload"},
		{"PUT without GetBody sent once", http.MethodPut, "", false, 1, "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				net := &hedgeNet{latency: []time.Duration{3 * time.Second, time.Millisecond}, status: []int{200, 200}}
				var body io.Reader
				if tt.wantBody != "" {
					body = strings.NewReader(tt.wantBody)
				}
				req, err := http.NewRequestWithContext(t.Context(), tt.method, "http://example.test/", body)
				require.NoError(t, err)
				if !tt.getBody {
					req.GetBody = nil
				}
				if tt.key != "" {
					req.Header.Set("Idempotency-Key", tt.key)
				}
				resp, err := mustHedge(t, net, retry.HedgeConfig{Delay: time.Second}).RoundTrip(req)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				assert.Equal(t, tt.wantSent, net.n)
				for i, b := range net.reqBodies {
					assert.Equal(t, tt.wantBody, b, "attempt %d's request body", i)
				}
			})
		})
	}
}

func TestHedgeTransportCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &hedgeNet{latency: []time.Duration{time.Hour, time.Hour}, status: []int{200, 200}}
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(1500*time.Millisecond, func() { cancel(errShutdown) })
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := mustHedge(t, net, retry.HedgeConfig{Delay: time.Second, MaxHedges: 3}).RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errShutdown)
		assert.Equal(t, 2, net.n, "no hedge after the caller gave up")
		assert.Zero(t, net.running.Load())
	})
}

func TestHedgeTransportBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingBudget{deny: true}
		net := &hedgeNet{latency: []time.Duration{3 * time.Second}, status: []int{200}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := mustHedge(t, net, retry.HedgeConfig{Delay: time.Second, Budget: rec}).RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, 1, net.n, "the budget refused the hedge")
		assert.Equal(t, []string{"allow", "success"}, rec.log())
	})
}

func TestHedgeTransportAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Delay 0 sends both at once; each has 2s. The first hangs past it,
		// the second answers in 1s.
		net := &hedgeNet{latency: []time.Duration{time.Hour, time.Second}, status: []int{200, 200}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		start := time.Now()
		resp, err := mustHedge(t, net, retry.HedgeConfig{}, retry.WithAttemptTimeout(2*time.Second)).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, time.Second, time.Since(start))
		dl, ok := net.ctxs[1].Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(2*time.Second), dl)
		require.NoError(t, resp.Body.Close())
	})
}
