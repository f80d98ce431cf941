package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/redis/ratelimit"
	"github.com/bulwark-go/bulwark/redis/script"
)

// A limit of 100 requests per second per user, burst 20, shared by every
// instance that uses the same Redis and prefix. (Not run: it needs a
// server.)
func ExampleLimiter_Allow() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		return
	}
	defer client.Close()
	lim, err := ratelimit.New(script.Rueidis(client), ratelimit.Config{Prefix: "api:", Rate: 100, Period: time.Second, Burst: 20})
	if err != nil {
		return
	}
	defer lim.Close()
	res, err := lim.Allow(context.Background(), "user-42")
	if err == nil && res.Allowed == 0 {
		fmt.Println("refused; retry after", res.RetryAfter)
	}
}

// An HTTP server that answers 429 with Retry-After and the RateLimit-*
// header fields, keyed by API key.
func ExampleNewHandler() {
	var lim *ratelimit.Limiter // from ratelimit.New
	h, err := ratelimit.NewHandler(http.NotFoundHandler(), lim,
		ratelimit.WithKey(func(r *http.Request) string { return r.Header.Get("X-Api-Key") }))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = http.ListenAndServe(":8080", h)
	// Output: ratelimit: NewHandler limiter is nil
}

// A bulkhead admitting calls at a fleet-wide rate, with local
// pre-admission (Config.Batch) so that most admissions make no round trip.
func ExampleLimiter_Bucket() {
	var lim *ratelimit.Limiter // from ratelimit.New with Config.Batch: 50
	if lim == nil {
		return
	}
	calls, err := lim.Bucket("calls-to-payments")
	if err != nil {
		return
	}
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 64, RateLimiter: calls})
	if err != nil {
		return
	}
	_ = bh
}
