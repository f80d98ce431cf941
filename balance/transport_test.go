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

	"github.com/bulwark-go/bulwark"
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
	client := &http.Client{Transport: mustTransport(t, next, p)}
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
	assert.Equal(t, int64(1), p.Stats().Nodes[0].Picks)
}

func TestTransportKeepsExplicitHostHeader(t *testing.T) {
	p, err := NewRoundRobin([]string{"10.0.0.1:8080"}, Config{})
	require.NoError(t, err)
	next := &fakeNext{status: 200}
	req, err := http.NewRequest("GET", "http://service/", nil)
	require.NoError(t, err)
	req.Host = "api.example.com"
	resp, err := mustTransport(t, next, p).RoundTrip(req)
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
	resp, err := mustURLTransport(t, next, p).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "https://10.0.0.9:8443/x", next.got.URL.String())
}

// TestTransportPermitSpansBody: the node stays in flight until the body is
// closed, and PeakEWMA's latency sample includes the body read.
func TestTransportPermitSpansBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA([]string{"a:80"}, Config{})
		require.NoError(t, err)
		next := &fakeNext{status: 200, delay: 10 * time.Millisecond, bodyDelay: 30 * time.Millisecond}
		req, err := http.NewRequest("GET", "http://svc/", nil)
		require.NoError(t, err)
		resp, err := mustTransport(t, next, p).RoundTrip(req)
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
		failures int64
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
			resp, err := mustTransport(t, tc.next, p).RoundTrip(req)
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
	_, err = mustTransport(t, &fakeNext{status: 200}, p).RoundTrip(req)
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
	client := &http.Client{Transport: mustTransport(t, nil, p)}
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
	assert.Equal(t, int64(3), st.Nodes[1].Failures)
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
		client := &http.Client{Transport: mustTransport(t, next, p)}
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

func mustTransport(t *testing.T, next http.RoundTripper, p Picker[string], opts ...Option) *Transport[string] {
	t.Helper()
	rt, err := NewTransport(next, p, opts...)
	require.NoError(t, err)
	return rt
}

func mustURLTransport(t *testing.T, next http.RoundTripper, p Picker[*url.URL]) *Transport[*url.URL] {
	t.Helper()
	rt, err := NewURLTransport(next, p)
	require.NoError(t, err)
	return rt
}

func TestNewTransportInvalid(t *testing.T) {
	p, err := NewRoundRobin([]string{"a:80"}, Config{})
	require.NoError(t, err)
	var typedNil *P2C[string]
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"nil picker", func() error { _, err := NewTransport(nil, nil); return err }, "balance: NewTransport picker is nil"},
		{"typed nil picker", func() error { _, err := NewTransport(nil, typedNil); return err }, "balance: NewTransport picker is nil"},
		{"nil URL picker", func() error { _, err := NewURLTransport(nil, nil); return err }, "balance: NewURLTransport picker is nil"},
		{"nil option", func() error { _, err := NewTransport(nil, p, nil); return err }, "balance: NewTransport option is nil"},
		{"WithKey(nil)", func() error { _, err := NewTransport(nil, p, WithKey(nil)); return err }, "balance: WithKey(nil)"},
		{"WithKey without PickKey", func() error {
			_, err := NewTransport(nil, p, WithKey(func(*http.Request) string { return "" }))
			return err
		}, "balance: WithKey: picker *balance.RoundRobin[string] has no PickKey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	rt, err := NewTransport(nil, p)
	require.NoError(t, err)
	assert.Equal(t, http.DefaultTransport, rt.next, "nil next")
}

// WithKey sends requests with the same key to the same node.
func TestTransportWithKey(t *testing.T) {
	c, err := NewConsistent(hosts(5), Config{})
	require.NoError(t, err)
	next := &hostNext{delay: 0, hits: map[string]int{}}
	rt := mustTransport(t, next, c, WithKey(func(r *http.Request) string { return r.URL.Query().Get("user") }))
	for _, user := range []string{"1", "2", "3"} {
		next.hits = map[string]int{}
		for range 10 {
			req, err := http.NewRequest("GET", "http://svc/?user="+user, nil)
			require.NoError(t, err)
			resp, err := rt.RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
		}
		assert.Len(t, next.hits, 1, "user %s went to %v", user, next.hits)
	}
}

// guardNext is a per-host guard in front of the network, as per-host
// breakers below the balancer are: while a host's guard is open it refuses
// at once with a local rejection that names the reopening moment.
type guardNext struct {
	openUntil map[string]time.Time
	sent      map[string]int // requests that reached the "network"
	rejected  map[string]int
	delay     map[string]time.Duration
}

func (g *guardNext) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if until, ok := g.openUntil[host]; ok && time.Now().Before(until) {
		g.rejected[host]++
		return nil, &guardError{name: host, until: until}
	}
	g.sent[host]++
	time.Sleep(g.delay[host])
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

// Through the Transport, with no wiring: the node whose guard is open looks
// idle and cheap to PeakEWMA, but after the first local rejection it gets no
// picks until the guard's deadline; the refused request goes to another node
// within the same RoundTrip; afterwards the node is picked again. When every
// guard is open the Transport returns one error that says when one reopens.
func TestTransportRoutesAroundLocalRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPeakEWMA([]string{"idle:80", "busy:80"}, Config{})
		require.NoError(t, err)
		reopen := time.Now().Add(2 * time.Second)
		g := &guardNext{
			openUntil: map[string]time.Time{"idle:80": reopen},
			sent:      map[string]int{}, rejected: map[string]int{},
			delay: map[string]time.Duration{"busy:80": 10 * time.Millisecond},
		}
		client := &http.Client{Transport: mustTransport(t, g, p)}
		get := func() error {
			resp, err := client.Get("http://service/")
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}
		// busy:80 has a latency sample, idle:80 none: idle:80 scores 0 and
		// PeakEWMA would pick it every time.
		busy := Permit[string]{Node: "busy:80", st: p.snap.Load().states[1], start: p.cfg.now()}
		busy.st.flight.Add(1)
		time.Sleep(10 * time.Millisecond)
		busy.Done(nil)

		require.NoError(t, get(), "the first request meets the open guard, then goes to another node")
		for range 50 {
			require.NoError(t, get())
		}
		assert.Equal(t, 1, g.rejected["idle:80"], "one rejection, then no picks")
		assert.Zero(t, g.sent["idle:80"])
		assert.Equal(t, 51, g.sent["busy:80"])
		st := p.Stats().Nodes[0]
		assert.Zero(t, st.Failures)
		assert.True(t, st.Unavailable)

		time.Sleep(time.Until(reopen))
		require.NoError(t, get())
		assert.Equal(t, 1, g.sent["idle:80"], "picked again once the guard reopens")

		// Every guard open: one error, the earliest reopening, nothing sent.
		now := time.Now()
		g.openUntil = map[string]time.Time{"idle:80": now.Add(3 * time.Second), "busy:80": now.Add(time.Second)}
		sent := g.sent["idle:80"] + g.sent["busy:80"]
		err = get() // each node's guard refuses once, then no node is left
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNoNodes)
		var ue *UnavailableError
		require.ErrorAs(t, err, &ue)
		at, ok := bulwark.RetryAt(err)
		require.True(t, ok)
		assert.True(t, at.Equal(now.Add(time.Second)), "RetryAt %v", at)
		assert.Equal(t, sent, g.sent["idle:80"]+g.sent["busy:80"])
		assert.Equal(t, 1, g.rejected["busy:80"])
	})
}

// bodyNext refuses locally on the hosts in refuse and records the body the
// other hosts receive.
type bodyNext struct {
	refuse   map[string]bool
	received map[string]string
}

func (b *bodyNext) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if b.refuse[host] {
		if req.Body != nil {
			req.Body.Close() // as a refusing RoundTripper must
		}
		return nil, &guardError{name: host}
	}
	data, _ := io.ReadAll(req.Body)
	b.received[host] = string(data)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// A refused request goes to another node only if its body can be replayed:
// with GetBody the other node receives the whole body; without it the
// refusal is returned to the caller.
func TestTransportReplaysBodyAfterLocalRejection(t *testing.T) {
	newPicker := func() *RoundRobin[string] {
		p, err := NewRoundRobin([]string{"a:80", "b:80"}, Config{})
		require.NoError(t, err)
		return p
	}
	t.Run("GetBody", func(t *testing.T) {
		next := &bodyNext{refuse: map[string]bool{"a:80": true}, received: map[string]string{}}
		rt := mustTransport(t, next, newPicker())
		req, err := http.NewRequest("PUT", "http://service/", strings.NewReader("payload"))
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "payload", next.received["b:80"])
	})
	t.Run("no GetBody", func(t *testing.T) {
		next := &bodyNext{refuse: map[string]bool{"a:80": true}, received: map[string]string{}}
		rt := mustTransport(t, next, newPicker())
		req, err := http.NewRequest("PUT", "http://service/", strings.NewReader("payload"))
		require.NoError(t, err)
		req.GetBody = nil
		_, err = rt.RoundTrip(req)
		require.ErrorIs(t, err, bulwark.ErrNotAttempted)
		assert.Empty(t, next.received)
	})
}
