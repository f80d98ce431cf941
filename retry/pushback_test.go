package retry_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/internal/retryafter"
	"github.com/bulwark-go/bulwark/retry"
)

// A Retry-After on a response that a balancer below has held the node for
// is not waited for: the retry waits its own backoff and goes on.
func TestTransportSkipsRetryAfterHeldBelow(t *testing.T) {
	backoff := retry.Exponential{Base: time.Second, Max: time.Minute, Jitter: retry.NoJitter}
	for _, held := range []bool{false, true} {
		name := map[bool]string{false: "not held: honoured", true: "held: backoff only"}[held]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{}
				first := f.status(503, "Retry-After", "30")
				f.resps = append(f.resps, func(req *http.Request) (*http.Response, error) {
					resp, err := first(req)
					if held {
						retryafter.MarkHeld(resp, req)
					}
					return resp, err
				}, f.status(200))
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://example.test/", nil)
				require.NoError(t, err)
				start := time.Now()
				resp, err := mustTransport(t, f, mustNew(t, retry.Config{Backoff: backoff})).RoundTrip(req)
				require.NoError(t, err)
				assert.Equal(t, 200, resp.StatusCode)
				want := map[bool]time.Duration{false: 30 * time.Second, true: time.Second}[held]
				assert.Equal(t, want, time.Since(start))
			})
		})
	}
}

// pushyFleet answers 503 with Retry-After from one node and 200 from the
// others, counting requests per node.
type pushyFleet struct {
	pushy string
	hits  map[string]int
}

func (p *pushyFleet) RoundTrip(req *http.Request) (*http.Response, error) {
	p.hits[req.URL.Host]++
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: req}
	if req.URL.Host == p.pushy {
		resp.StatusCode = http.StatusServiceUnavailable
		resp.Header.Set("Retry-After", "30")
	}
	return resp, nil
}

// In the stack retry → balance, a node's Retry-After takes the node out
// and the request's retry goes to another node after the retry's backoff,
// not after the node's 30 s; later requests never meet the node.
func TestStackRetryAfterGoesElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := &pushyFleet{pushy: "b:80", hits: map[string]int{}}
		p, err := balance.NewRoundRobin([]string{"a:80", "b:80", "c:80"}, balance.Config{})
		require.NoError(t, err)
		lb, err := balance.NewTransport(fleet, p)
		require.NoError(t, err)
		backoff := retry.Exponential{Base: 10 * time.Millisecond, Max: time.Minute, Jitter: retry.NoJitter}
		client := &http.Client{Transport: mustTransport(t, lb, mustNew(t, retry.Config{Backoff: backoff}))}
		start := time.Now()
		for range 20 {
			resp, err := client.Get("http://service/")
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode)
		}
		assert.Equal(t, 1, fleet.hits["b:80"])
		assert.LessOrEqual(t, time.Since(start), 10*time.Millisecond, "one backoff, no Retry-After wait")
	})
}
