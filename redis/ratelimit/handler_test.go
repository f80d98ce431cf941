package ratelimit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-go/bulwark/redis/ratelimit"
)

func TestHandler(t *testing.T) {
	for _, tt := range []struct {
		name       string
		reply      []string
		err        error
		policy     ratelimit.Policy
		wantStatus int
		want       map[string]string // "" means absent
	}{
		{"admitted", []string{"1", "7", "0", "2500000"}, nil, ratelimit.FailOpen, 200,
			map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "7", "RateLimit-Reset": "3", "Retry-After": ""}},
		{"refused", []string{"0", "0", "1200000", "9000000"}, nil, ratelimit.FailOpen, 429,
			map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "9", "Retry-After": "2"}},
		{"refused under a second", []string{"0", "0", "1000", "1000"}, nil, ratelimit.FailOpen, 429,
			map[string]string{"Retry-After": "1", "RateLimit-Reset": "1"}},
		{"unavailable, fail-open", nil, errors.New("down"), ratelimit.FailOpen, 200,
			map[string]string{"RateLimit-Limit": "", "Retry-After": ""}},
		{"unavailable, fail-closed", nil, errors.New("down"), ratelimit.FailClosed, 429,
			map[string]string{"RateLimit-Limit": "", "Retry-After": "1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{reply: tt.reply, err: tt.err}
			l := mustNew(t, store, ratelimit.Config{Prefix: "p:", Rate: 10, Unavailable: tt.policy})
			called := 0
			h, err := ratelimit.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called++ }), l,
				ratelimit.WithKey(func(r *http.Request) string { return r.Header.Get("X-Tenant") }))
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("X-Tenant", "acme")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if wantCalled := tt.wantStatus == 200; (called == 1) != wantCalled {
				t.Errorf("next called %d times, want called %v", called, wantCalled)
			}
			for k, v := range tt.want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tt.err == nil && (len(store.calls) != 1 || store.calls[0][0] != "p:{acme}") {
				t.Errorf("script calls %q, want one on key p:{acme}", store.calls)
			}
		})
	}
}

func TestHandlerDefaultKeyIsClientIP(t *testing.T) {
	store := &fakeStore{reply: []string{"1", "0", "0", "0"}}
	l := mustNew(t, store, ratelimit.Config{Rate: 10})
	h, err := ratelimit.NewHandler(http.NotFoundHandler(), l)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.7:4321"
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(store.calls) != 1 || store.calls[0][0] != "{192.0.2.7}" {
		t.Fatalf("script calls %q, want one on key {192.0.2.7}", store.calls)
	}
}
