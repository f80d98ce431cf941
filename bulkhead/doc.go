// Package bulkhead provides a concurrency limiter with a bounded FIFO queue and
// optional rate admission, adaptive concurrency limits (AIMD, Vegas, Gradient2),
// a load-shedding http.Handler wrapper and a client-side http.RoundTripper.
//
// The three-line use:
//
//	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 8})
//	...
//	err = bh.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//
// References: resilience4j Bulkhead; Netflix concurrency-limits (AIMDLimit,
// VegasLimit, Gradient2Limit).
package bulkhead
