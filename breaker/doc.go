// Package breaker provides a circuit breaker with count and time windows,
// slow-call tripping and half-open probes, Google SRE client-side adaptive
// throttling, keyed breaker groups, and a per-host http.RoundTripper.
//
// The three-line use:
//
//	b, err := breaker.New(breaker.Config{Name: "db"})
//	...
//	err = b.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//
// References: resilience4j CircuitBreaker (count/time windows, slow-call rate);
// Google SRE book, ch. 21 "Handling Overload" (adaptive throttling, Eq. 21-1).
package breaker
