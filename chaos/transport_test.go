package chaos_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

const helloBody = "hello, world"

// okTransport answers every request with 200 and helloBody, from memory.
type okTransport struct{ calls *atomic.Int64 }

func (o okTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if o.calls != nil {
		o.calls.Add(1)
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{},
		Body:          io.NopCloser(strings.NewReader(helloBody)),
		ContentLength: -1, // unknown, so a cut must be found by reading
		Request:       req,
	}, nil
}

// closeTracker is a request body that records its Close.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

type transportResult struct {
	status  int
	header  http.Header
	body    string
	readErr error
	err     error
	elapsed time.Duration
	sent    int64
	closed  bool
}

// roundTrip sends one POST with a tracked body through a chaos Transport over
// okTransport, with a 2 s context, and reads the whole response. Call it in
// a synctest bubble: elapsed is then exact.
func roundTrip(t *testing.T, injectors ...*chaos.Injector) transportResult {
	t.Helper()
	var calls atomic.Int64
	rt, err := chaos.NewTransport(okTransport{calls: &calls}, injectors...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	body := &closeTracker{Reader: strings.NewReader("payload")}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://svc/items", body)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := rt.RoundTrip(req)
	r := transportResult{err: err, elapsed: time.Since(start)}
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.status, r.header, r.body, r.readErr = resp.StatusCode, resp.Header, string(b), rerr
	}
	r.sent, r.closed = calls.Load(), body.closed.Load()
	return r
}

func TestTransportFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault chaos.Fault
		check func(t *testing.T, r transportResult)
	}{
		{"Error", chaos.Error(errBoom), func(t *testing.T, r transportResult) {
			if !errors.Is(r.err, errBoom) || !errors.Is(r.err, chaos.ErrInjected) {
				t.Errorf("err = %v, want errBoom and ErrInjected", r.err)
			}
			unsent(t, r)
		}},
		{"Status", chaos.Status(http.StatusServiceUnavailable, 2*time.Second), func(t *testing.T, r transportResult) {
			if r.err != nil || r.status != http.StatusServiceUnavailable {
				t.Fatalf("got %d, %v; want 503", r.status, r.err)
			}
			if got := r.header.Get("Retry-After"); got != "2" {
				t.Errorf("Retry-After = %q, want 2", got)
			}
			if !strings.Contains(r.body, "503 Service Unavailable") {
				t.Errorf("body = %q, want the status text", r.body)
			}
			unsent(t, r)
		}},
		{"Status without Retry-After", chaos.Status(http.StatusTooManyRequests, 0), func(t *testing.T, r transportResult) {
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "" {
				t.Errorf("got %d Retry-After %q; want 429 without Retry-After", r.status, r.header.Get("Retry-After"))
			}
		}},
		{"Reset", chaos.Reset(), func(t *testing.T, r transportResult) {
			if !errors.Is(r.err, syscall.ECONNRESET) || !errors.Is(r.err, chaos.ErrInjected) {
				t.Errorf("err = %v, want ECONNRESET and ErrInjected", r.err)
			}
			unsent(t, r)
		}},
		{"Truncate", chaos.Truncate(5), func(t *testing.T, r transportResult) {
			if r.body != helloBody[:5] || !errors.Is(r.readErr, io.ErrUnexpectedEOF) || !errors.Is(r.readErr, chaos.ErrInjected) {
				t.Errorf("body %q, read error %v; want %q then io.ErrUnexpectedEOF", r.body, r.readErr, helloBody[:5])
			}
			if r.sent != 1 {
				t.Errorf("sent %d requests, want 1", r.sent)
			}
		}},
		{"Truncate to nothing", chaos.Truncate(0), func(t *testing.T, r transportResult) {
			if r.body != "" || !errors.Is(r.readErr, io.ErrUnexpectedEOF) {
				t.Errorf("body %q, read error %v; want nothing then io.ErrUnexpectedEOF", r.body, r.readErr)
			}
		}},
		{"Truncate longer than the body", chaos.Truncate(int64(len(helloBody))), func(t *testing.T, r transportResult) {
			if r.body != helloBody || r.readErr != nil {
				t.Errorf("body %q, read error %v; want the whole body", r.body, r.readErr)
			}
		}},
		{"Latency", chaos.Latency(chaos.Fixed(300 * time.Millisecond)), func(t *testing.T, r transportResult) {
			if r.err != nil || r.body != helloBody || r.sent != 1 {
				t.Errorf("got %q, %v, sent %d; want the response", r.body, r.err, r.sent)
			}
			if r.elapsed != 300*time.Millisecond {
				t.Errorf("took %v, want 300ms", r.elapsed)
			}
		}},
		{"Latency past the deadline", chaos.Latency(chaos.Fixed(time.Hour)), func(t *testing.T, r transportResult) {
			if !errors.Is(r.err, context.DeadlineExceeded) || !errors.Is(r.err, chaos.ErrInjected) {
				t.Errorf("err = %v, want DeadlineExceeded and ErrInjected", r.err)
			}
			if r.elapsed != 2*time.Second {
				t.Errorf("took %v, want the 2s deadline", r.elapsed)
			}
			unsent(t, r)
		}},
		{"Hang", chaos.Hang(), func(t *testing.T, r transportResult) {
			if !errors.Is(r.err, context.DeadlineExceeded) || !errors.Is(r.err, chaos.ErrInjected) {
				t.Errorf("err = %v, want DeadlineExceeded and ErrInjected", r.err)
			}
			if r.elapsed != 2*time.Second {
				t.Errorf("took %v, want the 2s deadline", r.elapsed)
			}
			unsent(t, r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				in := mustNew(t, chaos.Config{Fault: tt.fault})
				tt.check(t, roundTrip(t, in))
				st := in.Stats()
				if st.Injected != 1 || st.Active != 0 {
					t.Errorf("Stats = %+v, want one injection and nothing active", st)
				}
			})
		})
	}
}

func unsent(t *testing.T, r transportResult) {
	t.Helper()
	if r.sent != 0 {
		t.Errorf("sent %d requests, want none", r.sent)
	}
	if !r.closed {
		t.Error("request body not closed")
	}
}

func TestTransportOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := mustNew(t, chaos.Config{Fault: chaos.Latency(chaos.Fixed(100 * time.Millisecond))})
		fail := mustNew(t, chaos.Config{Fault: chaos.Status(http.StatusBadGateway, 0)})

		r := roundTrip(t, slow, fail)
		if r.status != http.StatusBadGateway || r.elapsed != 100*time.Millisecond {
			t.Errorf("latency then status: %d after %v, want 502 after 100ms", r.status, r.elapsed)
		}

		r = roundTrip(t, fail, slow)
		if r.status != http.StatusBadGateway || r.elapsed != 0 {
			t.Errorf("status then latency: %d after %v, want 502 at once", r.status, r.elapsed)
		}
		if got := slow.Stats().Eligible; got != 1 {
			t.Errorf("latency injector saw %d requests, want 1 (the status answered the second)", got)
		}
	})
}

func TestTransportShortestTruncateWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := roundTrip(t, mustNew(t, chaos.Config{Fault: chaos.Truncate(8)}), mustNew(t, chaos.Config{Fault: chaos.Truncate(3)}))
		if r.body != helloBody[:3] || !errors.Is(r.readErr, io.ErrUnexpectedEOF) {
			t.Errorf("body %q, %v; want %q, io.ErrUnexpectedEOF", r.body, r.readErr, helloBody[:3])
		}
	})
}

// TestTransportHangReleasedByCancel checks that a hung request returns as
// soon as its caller cancels, leaving no goroutine behind (synctest.Test
// fails if one is left).
func TestTransportHangReleasedByCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := mustNew(t, chaos.Config{Fault: chaos.Hang()})
		rt, err := chaos.NewTransport(okTransport{}, in)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc/", nil)
			_, err := rt.RoundTrip(req)
			done <- err
		}()
		synctest.Wait()
		if got := in.Stats().Active; got != 1 {
			t.Fatalf("Stats.Active = %d while hung, want 1", got)
		}
		select {
		case err := <-done:
			t.Fatalf("RoundTrip returned %v before the cancel", err)
		default:
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("RoundTrip = %v, want context.Canceled", err)
		}
		if got := in.Stats().Active; got != 0 {
			t.Errorf("Stats.Active = %d after release, want 0", got)
		}
	})
}

func TestTransportStatusHead(t *testing.T) {
	rt, err := chaos.NewTransport(okTransport{}, mustNew(t, chaos.Config{Fault: chaos.Status(http.StatusServiceUnavailable, 0)}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodHead, "http://svc/", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); len(b) != 0 || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("HEAD: %d with %d body bytes, want 503 without a body", resp.StatusCode, len(b))
	}
}

// TestTransportOverNetwork drives a real server through the default
// transport (nil next) with a truncating injector.
func TestTransportOverNetwork(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	rt, err := chaos.NewTransport(nil, mustNew(t, chaos.Config{Fault: chaos.Truncate(10), Target: chaos.Path("/cut")}))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	for _, tc := range []struct {
		path    string
		n       int
		wantErr error
	}{{"/cut", 10, io.ErrUnexpectedEOF}, {"/whole", 100, nil}} {
		resp, err := client.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != tc.n || !errors.Is(err, tc.wantErr) && err != tc.wantErr {
			t.Errorf("%s: %d bytes, %v; want %d bytes, %v", tc.path, len(b), err, tc.n, tc.wantErr)
		}
	}
}

type idleCloser struct {
	okTransport
	closed bool
}

func (c *idleCloser) CloseIdleConnections() { c.closed = true }

func TestTransportCloseIdleConnections(t *testing.T) {
	next := &idleCloser{}
	rt, err := chaos.NewTransport(next, mustNew(t, chaos.Config{Fault: chaos.Reset()}))
	if err != nil {
		t.Fatal(err)
	}
	(&http.Client{Transport: rt}).CloseIdleConnections()
	if !next.closed {
		t.Error("CloseIdleConnections did not reach the wrapped transport")
	}
	rt, err = chaos.NewTransport(okTransport{}, mustNew(t, chaos.Config{Fault: chaos.Reset()}))
	if err != nil {
		t.Fatal(err)
	}
	rt.CloseIdleConnections() // a transport without idle connections: nothing to do
}
