// Package bulkhead provides concurrency limiters: a Bulkhead with a fixed
// number of slots, a bounded FIFO queue and optional rate admission; an
// Adaptive limiter whose limit follows the protected service (AIMD, Vegas,
// Gradient2); a load-shedding http.Handler wrapper; and a client-side
// http.RoundTripper.
//
// The three-line use:
//
//	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 8})
//	...
//	err = bh.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//
// # Bulkhead
//
// New(Config) returns a Bulkhead with MaxConcurrent slots. Do and Call run a
// function while holding a slot; Acquire/Release and TryAcquire/Release are the
// two-step forms. When every slot is taken, a caller waits in a FIFO queue of
// at most MaxWaiting callers, for at most MaxWait (resilience4j's
// maxConcurrentCalls and maxWaitDuration); with MaxWaiting 0 it is rejected at
// once. An optional token bucket (Rate, Burst; golang.org/x/time/rate) limits
// how fast calls are admitted.
//
// Every rejection satisfies errors.Is(err, ErrRejected) and names its cause:
// ErrFull, ErrTimeout or ErrRateLimited. A caller whose own context ends gets
// ctx.Err(), which is not a rejection.
//
// Fairness and correctness of the queue: newcomers (TryAcquire included)
// never take a slot while anyone is queued, and a Release with callers queued
// hands its slot straight to the oldest one, so the queue cannot be
// overtaken. A queued caller that gives up leaves the queue; if a slot was
// handed to it in the same instant, it passes that slot on as a Release
// would, so slots are never leaked. More Releases than acquisitions cannot
// inflate the limit for good: the surplus is ignored and counted in
// Stats().Misuse, exactly once each, and the count is exact again at rest.
// Detection looks at the free count only, so it sees a surplus when a Release
// would raise the free slots above MaxConcurrent: one that lands while
// others hold slots is indistinguishable from their Release until the last
// of them returns, and one that races with a TryAcquire failing at the edge
// of the limit (whose add lowers the free count for an instant) may likewise
// be caught only at a later Release; until then one caller more may run.
//
// Cost: while nobody waits, TryAcquire and Release are one atomic add each
// (LOCK XADD on amd64: it cannot fail and needs no prior load) on one word,
// alone on its cache line, that packs the free slots, the number of waiters
// and the admission count; nothing allocates, and no clock is read. A
// TryAcquire that finds no slot gives it back with a second add, so for an
// instant the free count reads one low; under contention at the very edge of
// the limit a concurrent TryAcquire (or an Acquire that may not queue) may
// then report full although a slot is being returned. Both re-check exactly
// before rejecting, so this takes three callers racing at one instant; an
// Acquire with room in the queue queues instead and is handed the slot. The mutex and the queue are touched only
// when the bulkhead is full (x/sync/semaphore takes a mutex on every call).
// MaxConcurrent is at most 2^22−1 so that the packed free count never
// overflows its field. See bench/bulkhead/RESULTS.md for measured figures.
//
// # Adaptive limits
//
// NewAdaptive(AdaptiveConfig) returns a limiter that sheds calls over a limit
// it keeps adjusting from measured round-trip times and drops, after Netflix
// concurrency-limits (REFERENCES §9):
//
//   - AIMD (AIMDLimit): on a drop, or a mean RTT above Timeout,
//     limit = max(1, min(limit−1, ⌊limit·0.9⌋)); otherwise +1 when in-flight
//     ≥ limit/2.
//   - Vegas (VegasLimit, the default): queue = ⌈limit·(1 − rttNoLoad/rtt)⌉;
//     grow by β when queue ≤ threshold, by one step when queue < α, shrink by
//     one step when queue > β (α = 3·L, β = 6·L, threshold = L, step L, with L
//     Netflix's Log10RootFunction of the limit); rttNoLoad is the minimum RTT,
//     re-probed every 15–30·limit updates.
//   - Gradient2 (Gradient2Limit): gradient = clamp(longRTT/shortRTT, 0.5, 1);
//     limit moves (smoothing 0.2) toward limit·gradient + 4.
//
// Deviations from Netflix, each for a reason tested in this package:
// completed calls are aggregated into windows (at least WindowSize calls and
// at least the current limit, about one round trip of traffic), and the
// algorithm sees the window's mean RTT, as Netflix's WindowedLimit does; the
// RTT of a dropped call is not used as a latency sample (fast failures during
// an overload otherwise poison Vegas's no-load RTT and leave its limit stuck
// low after recovery, the symptom of go-concurrency-limits issue 117); and
// Gradient2's long RTT is an exponential average over time (time constant
// 300 s, Netflix's 600 one-second windows) rather than over updates.
//
// Calls over the limit are rejected at once with ErrFull (Netflix's
// SimpleLimiter): an adaptive limiter sheds, it does not queue.
//
// # HTTP
//
// Handler(limiter, next) sheds on the server: a rejected request is answered
// 503 with Retry-After: 1 and a short text body, and next never runs for it.
// NewTransport(next, limiter) limits on the client: a rejected request fails
// with an error wrapping ErrRejected without touching the network, and an
// admitted request holds its permit until its response body is closed. Both
// take a Limiter, the one-method interface (Admit) that *Bulkhead and
// *Adaptive satisfy.
//
// Every exported type is safe for concurrent use.
package bulkhead
