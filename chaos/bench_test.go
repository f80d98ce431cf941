package chaos_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-go/bulwark/chaos"
)

// The benchmarks compare each wrapper with the bare call it wraps:
//
//	bare   the wrapped call alone
//	off    through an Injector switched off: the cost chaos adds to a
//	       service that keeps it compiled in (one atomic load; 0 allocs)
//	miss   through an Injector switched on whose fault does not strike
//	       (a draw per call, Rate 1e-9)
//
// The off and miss rows must show no allocation beyond the bare row.

// staticTransport answers with one preallocated response, so that the
// benchmark measures the wrapper and not the response.
type staticTransport struct{ resp *http.Response }

func (s staticTransport) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

func benchInjector(b *testing.B, on bool) *chaos.Injector {
	in, err := chaos.New(chaos.Config{Fault: chaos.Status(http.StatusServiceUnavailable, 0), Rate: 1e-9, Seed: 1, Disabled: !on})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

func BenchmarkTransport(b *testing.B) {
	next := staticTransport{resp: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
	req := httptest.NewRequest(http.MethodGet, "http://svc/", nil)
	run := func(b *testing.B, rt http.RoundTripper) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rt.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, next) })
	for _, tc := range []struct {
		name string
		on   bool
	}{{"off", false}, {"miss", true}} {
		b.Run(tc.name, func(b *testing.B) {
			rt, err := chaos.NewTransport(next, benchInjector(b, tc.on))
			if err != nil {
				b.Fatal(err)
			}
			run(b, rt)
		})
	}
	b.Run("off-parallel", func(b *testing.B) {
		rt, err := chaos.NewTransport(next, benchInjector(b, false))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

var okBody = []byte("ok")

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}

func BenchmarkHandler(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(okBody) })
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := nopWriter{h: http.Header{}}
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, next) })
	for _, tc := range []struct {
		name string
		on   bool
	}{{"off", false}, {"miss", true}} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := chaos.NewHandler(next, benchInjector(b, tc.on))
			if err != nil {
				b.Fatal(err)
			}
			run(b, h)
		})
	}
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = fn(ctx)
		}
	})
	for _, tc := range []struct {
		name string
		on   bool
	}{{"off", false}, {"miss", true}} {
		b.Run(tc.name, func(b *testing.B) {
			in := benchInjector(b, tc.on)
			b.ReportAllocs()
			for b.Loop() {
				_ = in.Do(ctx, fn)
			}
		})
	}
	b.Run("call-off", func(b *testing.B) {
		in := benchInjector(b, false)
		get := func(context.Context) (int, error) { return 1, nil }
		b.ReportAllocs()
		for b.Loop() {
			_, _ = chaos.Call(ctx, in, get)
		}
	})
}
