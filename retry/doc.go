// Package retry provides jittered exponential backoff, a deadline-aware retry
// loop with a shared retry budget, hedged requests, and an http.RoundTripper
// that retries idempotent requests.
//
// The three-line use:
//
//	r, err := retry.New(retry.Config{MaxAttempts: 3})
//	...
//	err = r.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//
// References: Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture
// Blog, 2015 (the jitter formulas); gRFC A6 "gRPC Retry Design" (retry
// throttling, the Budget); Dean & Barroso, "The Tail at Scale", CACM 2013
// (hedged requests).
package retry
