package chaos_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

// helloHandler is the plain handler under test: 200 and helloBody.
func helloHandler(served *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, helloBody)
	})
}

// TestHandlerFaults serves one request to a recorder in a synctest bubble.
func TestHandlerFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      chaos.Fault
		wantCode   int
		wantBody   string // substring
		wantServed int64
		wantTook   time.Duration
		wantHeader string // Retry-After
	}{
		{"Error", chaos.Error(errBoom), http.StatusInternalServerError, "boom", 0, 0, ""},
		{"Status", chaos.Status(http.StatusServiceUnavailable, time.Second), http.StatusServiceUnavailable, "503 Service Unavailable", 0, 0, "1"},
		{"Latency", chaos.Latency(chaos.Fixed(250 * time.Millisecond)), http.StatusOK, helloBody, 1, 250 * time.Millisecond, ""},
		{"Truncate longer than the body", chaos.Truncate(100), http.StatusOK, helloBody, 1, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var served atomic.Int64
				in := mustNew(t, chaos.Config{Fault: tt.fault})
				h, err := chaos.NewHandler(helloHandler(&served), in)
				if err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				if took := time.Since(start); took != tt.wantTook {
					t.Errorf("took %v, want %v", took, tt.wantTook)
				}
				if w.Code != tt.wantCode || !strings.Contains(w.Body.String(), tt.wantBody) {
					t.Errorf("got %d %q, want %d containing %q", w.Code, w.Body.String(), tt.wantCode, tt.wantBody)
				}
				if got := w.Header().Get("Retry-After"); got != tt.wantHeader {
					t.Errorf("Retry-After = %q, want %q", got, tt.wantHeader)
				}
				if got := served.Load(); got != tt.wantServed {
					t.Errorf("next served %d requests, want %d", got, tt.wantServed)
				}
				if st := in.Stats(); st.Injected != 1 || st.Active != 0 {
					t.Errorf("Stats = %+v, want one injection, nothing active", st)
				}
			})
		})
	}
}

// TestHandlerWaitsEndWithTheRequest checks that Hang and a long Latency
// release when the request's context ends, and that next never runs.
func TestHandlerWaitsEndWithTheRequest(t *testing.T) {
	for _, f := range []chaos.Fault{chaos.Hang(), chaos.Latency(chaos.Fixed(time.Hour))} {
		t.Run(f.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var served atomic.Int64
				in := mustNew(t, chaos.Config{Fault: f})
				h, err := chaos.NewHandler(helloHandler(&served), in)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				defer cancel()
				start := time.Now()
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
				if took := time.Since(start); took != 3*time.Second {
					t.Errorf("returned after %v, want at the 3s deadline", took)
				}
				if served.Load() != 0 || w.Body.Len() != 0 {
					t.Errorf("served %d, wrote %q; want nothing", served.Load(), w.Body.String())
				}
				if got := in.Stats().Active; got != 0 {
					t.Errorf("Stats.Active = %d, want 0", got)
				}
			})
		})
	}
}

// TestHandlerAbortsWithoutHijack checks the fallback for writers that cannot
// be hijacked: the handler aborts with http.ErrAbortHandler, as net/http
// expects.
func TestHandlerAbortsWithoutHijack(t *testing.T) {
	for _, f := range []chaos.Fault{chaos.Reset(), chaos.Truncate(3)} {
		t.Run(f.String(), func(t *testing.T) {
			var served atomic.Int64
			h, err := chaos.NewHandler(helloHandler(&served), mustNew(t, chaos.Config{Fault: f}))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if got := recover(); got != http.ErrAbortHandler {
					t.Errorf("recovered %v, want http.ErrAbortHandler", got)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		})
	}
}

// TestHandlerOverNetwork checks what a real client sees from a real server.
func TestHandlerOverNetwork(t *testing.T) {
	long := strings.Repeat("y", 10000)
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("length") {
			w.Header().Set("Content-Length", strconv.Itoa(len(long)))
		}
		io.WriteString(w, long[:len(long)/2])
		io.WriteString(w, long[len(long)/2:])
	})
	tests := []struct {
		name    string
		fault   chaos.Fault
		query   string
		wantN   int
		wantErr func(error) bool
		onRead  bool // the error comes from reading the body
	}{
		{"Reset", chaos.Reset(), "", 0, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }, false},
		{"Truncate chunked", chaos.Truncate(100), "", 100, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, true},
		{"Truncate with Content-Length", chaos.Truncate(5000), "?length", 5000, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, true},
		{"Truncate at zero", chaos.Truncate(0), "", 0, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, true},
		{"Truncate beyond the body", chaos.Truncate(int64(len(long))), "?length", len(long), func(err error) bool { return err == nil }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := chaos.NewHandler(plain, mustNew(t, chaos.Config{Fault: tt.fault}))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL + tt.query)
			if !tt.onRead {
				if !tt.wantErr(err) {
					t.Fatalf("Get = %v, want a reset", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(b) != tt.wantN || !tt.wantErr(err) {
				t.Errorf("read %d bytes, %v; want %d bytes and the expected error", len(b), err, tt.wantN)
			}
		})
	}
}

// TestHandlerHangReleasedByClient checks that a hung server request ends
// when the client gives up, so the server closes cleanly.
func TestHandlerHangReleasedByClient(t *testing.T) {
	arrived := make(chan struct{})
	in := mustNew(t, chaos.Config{Fault: chaos.Hang(), When: func(context.Context) bool {
		close(arrived) // the server holds the request from here on
		return true
	}})
	h, err := chaos.NewHandler(http.NotFoundHandler(), in)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		_, err := (&http.Client{Transport: tr}).Do(req)
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client got %v, want context.Canceled", err)
	}
	srv.Close() // returns only once the handler has: the hang was released
	if st := in.Stats(); st.Active != 0 || st.Injected != 1 {
		t.Errorf("Stats = %+v after the server closed, want one injection, nothing active", st)
	}
}

// TestHandlerResetOverTLS checks that the reset reaches the TCP connection
// under TLS too.
func TestHandlerResetOverTLS(t *testing.T) {
	h, err := chaos.NewHandler(http.NotFoundHandler(), mustNew(t, chaos.Config{Fault: chaos.Reset()}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = false // HTTP/2 cannot be hijacked; see TestHandlerAbortsWithoutHijack
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	_, err = client.Get(srv.URL)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Get over TLS = %v, want a connection reset", err)
	}
}
