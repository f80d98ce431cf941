package balance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeNext answers in-process: it records the request it got and returns
// status with a body whose read takes bodyDelay.
type fakeNext struct {
	status    int
	err       error
	delay     time.Duration
	bodyDelay time.Duration
	got       *http.Request
}

func (f *fakeNext) RoundTrip(req *http.Request) (*http.Response, error) {
	f.got = req
	time.Sleep(f.delay)
	if f.err != nil {
		return nil, f.err
	}
	return &http.Response{StatusCode: f.status, Body: &slowBody{r: strings.NewReader("hello"), delay: f.bodyDelay}, Request: req}, nil
}

type slowBody struct {
	r      io.Reader
	delay  time.Duration
	closed bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	time.Sleep(b.delay)
	return b.r.Read(p)
}

func (b *slowBody) Close() error { b.closed = true; return nil }

type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestTransportRewritesAClone(t *testing.T) {
	p, err := NewRoundRobin([]string{"10.0.0.1:8080"}, Config{})
	require.NoError(t, err)
	next := &fakeNext{status: 200}
	client := &http.Client{Transport: NewTransport(next, p)}
	req, err := http.NewRequest("GET", "http://service/path?q=1", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "hello", string(body))
	assert.Equal(t, "http://10.0.0.1:8080/path?q=1", next.got.URL.String())
	assert.Equal(t, "", next.got.Host, "Host header follows the node")
	assert.Equal(t, "http://service/path?q=1", req.URL.String(), "caller's request untouched")
	assert.Equal(t, uint64(1), p.Stats().Nodes[0].Picks)
}

func TestTransportKeepsExplicitHostHeader(t *testing.T) {
	p, err := NewRoundRobin([]string{"10.0.0.1:8080"}, Config{})
	require.NoError(t, err)
	next := &fakeNext{status: 200}
	req, err := http.NewRequest("GET", "http://service/", nil)
	require.NoError(t, err)
	req.Host = "api.example.com"
	resp, err := NewTransport(next, p).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "api.example.com", next.got.Host)
}

func TestURLTransport(t *testing.T) {
	u, err := url.Parse("https://10.0.0.9:8443")
	require.NoError(t, err)
	p, err := NewRoundRobin([]*url.URL{u}, Config{})
	require.NoError(t, err)
	next := &fakeNext{status: 200}
	req, err := http.NewRequest("GET", "http://service/x", nil)
	require.NoError(t, err)
	resp, err := NewURLTransport(next, p).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "https://10.0.0.9:8443/x", next.got.URL.String())
}

// TestTransportLeaseSpansBody: the node stays in flight until the body is
// closed, and PeakEWMA's latency sample includes the body read.
func TestTransportLeaseSpansBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA([]string{"a:80"}, Config{})
		require.NoError(t, err)
		next := &fakeNext{status: 200, delay: 10 * time.Millisecond, bodyDelay: 30 * time.Millisecond}
		req, err := http.NewRequest("GET", "http://svc/", nil)
		require.NoError(t, err)
		resp, err := NewTransport(next, p).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, int64(1), p.Stats().Nodes[0].InFlight, "in flight until the body is done")
		_, err = io.ReadAll(resp.Body) // two reads: data, then EOF
		require.NoError(t, err)
		assert.Equal(t, int64(0), p.Stats().Nodes[0].InFlight, "done at EOF")
		assert.Equal(t, 70*time.Millisecond, p.Stats().Nodes[0].Latency)
		require.NoError(t, resp.Body.Close()) // second completion: no-op
		assert.Equal(t, int64(0), p.Stats().Nodes[0].InFlight)
	})
}

func TestTransportOutcomes(t *testing.T) {
	cases := []struct {
		name     string
		next     *fakeNext
		cancel   bool
		wantErr  bool
		failures uint64
	}{
		{"200", &fakeNext{status: 200}, false, false, 0},
		{"404", &fakeNext{status: 404}, false, false, 0},
		{"503", &fakeNext{status: 503}, false, false, 1},
		{"transport error", &fakeNext{err: errors.New("connection refused")}, false, true, 1},
		{"caller cancelled", &fakeNext{err: context.Canceled}, true, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewRoundRobin([]string{"a:80"}, Config{})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			req, err := http.NewRequestWithContext(ctx, "GET", "http://svc/", nil)
			require.NoError(t, err)
			resp, err := NewTransport(tc.next, p).RoundTrip(req)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				assert.True(t, tc.next.got != nil)
			}
			st := p.Stats().Nodes[0]
			assert.Equal(t, tc.failures, st.Failures)
			assert.Zero(t, st.InFlight)
		})
	}
}

func TestTransportNoNodesClosesBody(t *testing.T) {
	p, err := NewP2C([]string{"a:80"}, Config{})
	require.NoError(t, err)
	require.NoError(t, p.Update(nil))
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, err := http.NewRequest("POST", "http://svc/", body)
	require.NoError(t, err)
	_, err = NewTransport(&fakeNext{status: 200}, p).RoundTrip(req)
	assert.ErrorIs(t, err, ErrNoNodes)
	assert.True(t, body.closed)
}

// TestTransportEjectsFailingServer runs real loopback servers (outside any
// synctest bubble): one answers 500 and must be ejected after EjectAfter.
func TestTransportEjectsFailingServer(t *testing.T) {
	var badHits atomic.Int64
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badHits.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer bad.Close()
	nodes := []string{strings.TrimPrefix(good.URL, "http://"), strings.TrimPrefix(bad.URL, "http://")}
	p, err := NewRoundRobin(nodes, Config{EjectAfter: 3})
	require.NoError(t, err)
	client := &http.Client{Transport: NewTransport(nil, p)}
	defer client.CloseIdleConnections()
	for range 20 {
		resp, err := client.Get("http://service/")
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	assert.Equal(t, int64(3), badHits.Load(), "ejected after 3 failures")
	st := p.Stats()
	assert.True(t, st.Nodes[1].Ejected)
	assert.Equal(t, uint64(3), st.Nodes[1].Failures)
	assert.Zero(t, st.Nodes[0].InFlight+st.Nodes[1].InFlight)
}

// hostNext refuses connections to one host at once and answers the others
// after a delay, like a fleet with a dead node.
type hostNext struct {
	dead  string
	delay time.Duration
	hits  map[string]int
}

func (h *hostNext) RoundTrip(req *http.Request) (*http.Response, error) {
	h.hits[req.URL.Host]++
	if req.URL.Host == h.dead {
		return nil, errors.New("dial tcp " + h.dead + ": connect: connection refused")
	}
	time.Sleep(h.delay)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

// Through the Transport, a node that refuses connections at once must not
// attract PeakEWMA's traffic (the failure penalty), even with ejection off.
func TestTransportPeakEWMAAvoidsFastFailingNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes := []string{"a:80", "b:80", "c:80", "dead:80"}
		p, err := NewPeakEWMA(nodes, Config{DisableEjection: true})
		require.NoError(t, err)
		seed(p.cfg, 9)
		next := &hostNext{dead: "dead:80", delay: 5 * time.Millisecond, hits: map[string]int{}}
		client := &http.Client{Transport: NewTransport(next, p)}
		refused := 0
		for range 1000 {
			resp, err := client.Get("http://service/")
			if err != nil {
				refused++
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		assert.Equal(t, next.hits["dead:80"], refused)
		for _, n := range nodes[:3] {
			assert.Less(t, next.hits["dead:80"], next.hits[n]/10, "dead node's hits against %s: %v", n, next.hits)
		}
	})
}
