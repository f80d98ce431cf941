package balance

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/internal/retryafter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A node that pushes back is ejected at once for the pause it asks, by
// every picker type, and picked again when the pause ends.
func TestPushbackEjectsForThePause(t *testing.T) {
	for _, name := range pickerNames {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tp := allPickersWith(t, []string{"a", "b", "c", "d"}, Config{EjectFor: time.Minute})[name]
				l := pickNode(t, tp, "b")
				require.True(t, l.Pushback(3*time.Second))
				l.Done(nil)
				st := tp.Stats()
				assert.True(t, st.Nodes[1].Ejected)
				assert.Equal(t, 3*time.Second, st.Nodes[1].EjectedFor, "the pause, not EjectFor")
				assert.NotContains(t, countPicks(t, tp, 200), "b")
				time.Sleep(3 * time.Second)
				assert.Contains(t, countPicks(t, tp, 200), "b", "back after the pause")
			})
		})
	}
}

func TestPushbackCappedByMaxEjectFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b"}, Config{EjectFor: time.Second, MaxEjectFor: 10 * time.Second})
		require.NoError(t, err)
		l := pickNode(t, p, "a")
		require.True(t, l.Pushback(time.Hour))
		l.Done(nil)
		assert.Equal(t, 10*time.Second, p.Stats().Nodes[0].EjectedFor)
	})
}

// A pushback sets the length of its own ejection only: the next ejection
// after failures starts from EjectFor, not doubled.
func TestPushbackDoesNotLengthenTheNextEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b", "c"}, Config{EjectAfter: 1, EjectFor: 10 * time.Second})
		require.NoError(t, err)
		l := pickNode(t, p, "a")
		require.True(t, l.Pushback(time.Second))
		l.Done(nil)
		time.Sleep(time.Second)
		doneOn(t, p, "a", errBoom)
		assert.Equal(t, 10*time.Second, p.Stats().Nodes[0].EjectedFor)
	})
}

func TestPushbackRefused(t *testing.T) {
	p, err := NewRoundRobin([]string{"a", "b"}, Config{})
	require.NoError(t, err)
	var zero Permit[string]
	assert.False(t, zero.Pushback(time.Second), "zero Permit")

	l := pickNode(t, p, "a")
	assert.False(t, l.Pushback(0), "no pause")
	assert.False(t, l.Pushback(-time.Second), "negative pause")
	l.Done(nil)
	assert.False(t, l.Pushback(time.Second), "done Permit")
	assert.False(t, p.Stats().Nodes[0].Ejected)

	off, err := NewRoundRobin([]string{"a", "b"}, Config{DisableEjection: true})
	require.NoError(t, err)
	l = pickNode(t, off, "a")
	assert.False(t, l.Pushback(time.Second), "DisableEjection")
	l.Done(nil)
	assert.False(t, off.Stats().Nodes[0].Ejected)
}

// A pushback stays within MaxEjectedPercent: the node that would exceed it
// stays in, and Pushback says so.
func TestPushbackWithinMaxEjectedPercent(t *testing.T) {
	p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{MaxEjectedPercent: 50})
	require.NoError(t, err)
	for i, node := range []string{"a", "b", "c"} {
		l := pickNode(t, p, node)
		assert.Equal(t, i < 2, l.Pushback(time.Second), node)
		l.Done(nil)
	}
	st := p.Stats()
	assert.Equal(t, 2, st.Ejected)
	assert.False(t, st.Nodes[2].Ejected)

	one, err := NewRoundRobin([]string{"solo"}, Config{})
	require.NoError(t, err)
	l := mustPick(t, one)
	assert.False(t, l.Pushback(time.Second), "a fleet of one keeps its node")
	l.Done(nil)
}

// A pushback on a node already ejected reports true and keeps the
// ejection; one on an expired ejection no Pick has ended starts anew.
func TestPushbackOnEjectedNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		p, err := NewRoundRobin([]string{"a", "b", "c"}, Config{Observer: rec.observe, EjectAfter: 1, EjectFor: 10 * time.Second})
		require.NoError(t, err)
		slow := pickNode(t, p, "a")
		doneOn(t, p, "a", errBoom) // ejected for 10 s while slow is in flight
		assert.True(t, slow.Pushback(time.Second), "already ejected")
		assert.Equal(t, 10*time.Second, p.Stats().Nodes[0].EjectedFor)

		time.Sleep(10 * time.Second) // expired; no Pick has seen it
		assert.True(t, slow.Pushback(2*time.Second))
		slow.Done(nil)
		assert.Equal(t, 2*time.Second, p.Stats().Nodes[0].EjectedFor)
		var kinds []EventKind
		for _, e := range rec.take() {
			kinds = append(kinds, e.Kind)
		}
		assert.Equal(t, []EventKind{EventEjected, EventReturned, EventEjected}, kinds)
	})
}

func TestPushbackEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		p, err := NewRoundRobin([]string{"a", "b"}, Config{Name: "svc", Observer: rec.observe})
		require.NoError(t, err)
		l := pickNode(t, p, "b")
		rec.take()
		require.True(t, l.Pushback(1500*time.Millisecond))
		l.Done(nil)
		events := rec.take()
		require.Len(t, events, 1)
		e := events[0]
		assert.Equal(t, EventEjected, e.Kind)
		assert.Equal(t, "b", e.Node)
		assert.Equal(t, 1500*time.Millisecond, e.Pushback)
		assert.Equal(t, time.Now().Add(1500*time.Millisecond), e.Until)
		assert.Equal(t, int64(1), e.Ejections)
	})
}

// statusNext answers every request with status and header for one host,
// 200 for the others, and counts the requests per host.
type statusNext struct {
	host   string
	status int
	header http.Header
	hits   map[string]int
}

func (s *statusNext) RoundTrip(req *http.Request) (*http.Response, error) {
	s.hits[req.URL.Host]++
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: req}
	if req.URL.Host == s.host {
		resp.StatusCode, resp.Header = s.status, s.header.Clone()
	}
	return resp, nil
}

func get(t *testing.T, rt http.RoundTripper) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://service/", nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Through the Transport, a 503 or 429 with Retry-After takes the node out
// for the pause (capped by WithRetryAfterCap) and marks the response; the
// node's next request comes after the pause.
func TestTransportHonoursRetryAfter(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := NewRoundRobin([]string{"a:80", "b:80", "c:80"}, Config{EjectFor: time.Minute})
				require.NoError(t, err)
				next := &statusNext{host: "b:80", status: status, header: http.Header{"Retry-After": {"5"}}, hits: map[string]int{}}
				rt := mustTransport(t, next, p, WithRetryAfterCap(2*time.Second))
				var marked int
				for range 30 {
					if retryafter.Held(get(t, rt)) {
						marked++
					}
				}
				assert.Equal(t, 1, next.hits["b:80"], "one request, then the pause")
				assert.Equal(t, 1, marked)
				assert.Equal(t, 2*time.Second, p.Stats().Nodes[1].EjectedFor, "capped by WithRetryAfterCap")
				time.Sleep(2 * time.Second)
				for range 3 {
					get(t, rt)
				}
				assert.Equal(t, 2, next.hits["b:80"], "back after the pause")
			})
		})
	}
}

// Without a usable Retry-After, or with WithRetryAfterCap(0), or when the
// ejection cap keeps the node in, nothing is ejected at once and nothing is
// marked.
func TestTransportRetryAfterIgnored(t *testing.T) {
	cases := []struct {
		name   string
		nodes  []string
		status int
		ra     string
		opts   []Option
	}{
		{"no header", []string{"a:80", "b:80"}, 503, "", nil},
		{"malformed", []string{"a:80", "b:80"}, 503, "soon", nil},
		{"zero", []string{"a:80", "b:80"}, 503, "0", nil},
		{"500", []string{"a:80", "b:80"}, 500, "5", nil},
		{"cap 0", []string{"a:80", "b:80"}, 503, "5", []Option{WithRetryAfterCap(0)}},
		{"fleet of one", []string{"b:80"}, 503, "5", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewRoundRobin(tc.nodes, Config{})
			require.NoError(t, err)
			h := http.Header{}
			if tc.ra != "" {
				h.Set("Retry-After", tc.ra)
			}
			next := &statusNext{host: "b:80", status: tc.status, header: h, hits: map[string]int{}}
			rt := mustTransport(t, next, p, tc.opts...)
			for range 2 * len(tc.nodes) {
				assert.False(t, retryafter.Held(get(t, rt)))
			}
			assert.Equal(t, 2, next.hits["b:80"])
			assert.False(t, p.Stats().Nodes[len(tc.nodes)-1].Ejected)
		})
	}
}

func TestWithRetryAfterCapNegative(t *testing.T) {
	p, err := NewRoundRobin([]string{"a:80"}, Config{})
	require.NoError(t, err)
	_, err = NewTransport(nil, p, WithRetryAfterCap(-time.Second))
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "WithRetryAfterCap(-1s) negative")
}
