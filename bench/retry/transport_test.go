package retrybench

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/bulwark-go/bulwark/retry"
)

// okNet answers every request at once with 200 and a short body, in memory,
// so that the transports' own overhead is what is measured.
type okNet struct{}

func (okNet) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

func roundTrips(b *testing.B, rt http.RoundTripper) {
	req, err := http.NewRequest(http.MethodGet, "http://backend.example/", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// BenchmarkRetryTransport measures one GET through a retrying RoundTripper
// whose first attempt succeeds: the cost every healthy request pays.
func BenchmarkRetryTransport(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		r, err := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.Exponential{Base: base, Max: maxDelay}})
		if err != nil {
			b.Fatal(err)
		}
		rt, err := retry.NewTransport(okNet{}, r)
		if err != nil {
			b.Fatal(err)
		}
		roundTrips(b, rt)
	})
	b.Run("failsafe", func(b *testing.B) {
		rp := retrypolicy.NewBuilder[*http.Response]().WithMaxAttempts(3).WithBackoff(base, maxDelay).Build()
		roundTrips(b, failsafehttp.NewRoundTripper(okNet{}, rp))
	})
}

// BenchmarkHedgeTransport measures one GET through a hedging RoundTripper
// whose first attempt answers before the hedge delay: the cost of the
// hedging machinery (a goroutine, a timer, contexts) when no hedge is sent.
func BenchmarkHedgeTransport(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		rt, err := retry.NewHedgeTransport(okNet{}, retry.HedgeConfig{Delay: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		roundTrips(b, rt)
	})
	b.Run("failsafe", func(b *testing.B) {
		hp := hedgepolicy.NewWithDelay[*http.Response](time.Hour)
		roundTrips(b, failsafehttp.NewRoundTripper(okNet{}, hp))
	})
}
