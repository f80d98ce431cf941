// Package bulkhead provides concurrency limiters: a Bulkhead bounds how many
// calls to a dependency run at once, so that one slow dependency cannot take
// every goroutine, connection or worker of a service with it; an Adaptive
// limiter finds that bound by itself from measured latency. Both shed the
// calls over the bound at once, or (Bulkhead) queue them for a while.
//
// The three-line use:
//
//	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 8})
//	...
//	err = bh.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//
// Most callers want Do, or Call to get a value back. Where the call cannot
// be wrapped in a function, Acquire (which may wait in the queue) and
// TryAcquire (which never waits) return a Permit; finish it with Done:
//
//	p, err := bh.Acquire(ctx)
//	if err != nil {
//		return err // rejected, or ctx ended
//	}
//	defer p.Done(nil)
//
// Done is idempotent: the first Done records the outcome and zeroes the
// Permit, so a second Done on the same variable is a no-op. Copies of a
// Permit are the same admission: finish it through one variable.
//
// Both limiters satisfy the Limiter interface, which Call, NewHandler and
// NewTransport take. Every exported type is safe for concurrent use.
//
// # Bulkhead
//
// New(Config) returns a Bulkhead with MaxConcurrent slots. When every slot
// is taken, a caller waits in a FIFO queue of at most MaxWaiting callers,
// for at most MaxWait (resilience4j's maxConcurrentCalls and
// maxWaitDuration); with MaxWaiting 0 it is rejected at once. Newcomers,
// TryAcquire included, never take a slot while anyone is queued, and a
// finished call hands its slot straight to the oldest waiter, so the queue
// is never overtaken. A caller whose context ends while queued leaves
// without leaking or stealing a slot.
//
// SetLimit changes the number of slots while the Bulkhead is in use: new
// slots go to queued callers first, oldest first; when the limit shrinks,
// calls in flight finish normally and new calls wait (or are rejected) until
// fewer than the new limit are in flight.
//
// An optional rate limit comes before the slots: Rate and Burst (a token
// bucket of golang.org/x/time/rate), or any RateLimiter in
// Config.RateLimiter, such as a *rate.Limiter or a limiter shared by a
// fleet of processes.
//
// # Rejections
//
// Every rejection satisfies errors.Is(err, ErrRejected) and
// errors.Is(err, bulwark.ErrNotAttempted) (the call never ran, so layers
// above know it cost the dependency nothing), and names its cause: ErrFull,
// ErrTimeout or ErrRateLimited. A rate-limited rejection whose limiter knows
// when its next token comes is a *RateLimitedError, and bulwark.RetryAt(err)
// returns that moment. A caller whose own context ends gets ctx.Err(), which
// is not a rejection.
//
// # Adaptive limits
//
// NewAdaptive(AdaptiveConfig) returns a limiter that sheds the calls over a
// limit it keeps adjusting from the round-trip times (RTT) and drops of the
// calls it admitted, after Netflix concurrency-limits
// (https://github.com/Netflix/concurrency-limits). It never queues: a call
// over the limit is rejected at once with ErrFull. Finish a call with
// Permit.Dropped when the service signalled overload (a 503, a timeout, a
// queue full downstream); Done with an error matching
// context.DeadlineExceeded counts the same.
//
// Which algorithm to pick:
//
//   - Vegas (VegasLimit, the default) estimates how many calls queue inside
//     the service from the ratio of the minimum RTT to the current one, as
//     TCP Vegas does. Pick it when the service's unloaded latency is stable
//     and you want the limit to follow capacity closely in both directions.
//   - Gradient2 (Gradient2Limit) compares a short-term RTT with a long-term
//     average and lets only a small queue form. Pick it for server-side load
//     shedding (NewHandler) against sustained overload: it keeps latency
//     closest to the unloaded one, and it tolerates latency that drifts
//     slowly.
//   - AIMD (AIMDLimit) grows by one while the calls succeed and cuts by 10%
//     on a drop or a window that is too slow. Pick it when drops are the
//     signal you trust (timeouts, 503 and 429 through NewTransport), or when
//     you have a latency target: set AdaptiveConfig.Timeout to it. Without
//     one, a window is too slow when its mean RTT is above Tolerance (1.5)
//     times the no-load RTT, which AIMD re-measures every 10 s by briefly
//     running a quarter of its calls.
//
// The algorithms, with their deviations from Netflix:
//
//   - AIMD: on a drop or a window over its threshold,
//     limit = max(1, min(limit−1, ⌊limit·0.9⌋)); otherwise +1 when in-flight
//     ≥ limit/2. The default threshold is derived from measured latency
//     rather than Netflix's fixed 5 s, which never fires against a service
//     answering in milliseconds and lets the limit climb without bound under
//     overload.
//   - Vegas: queue = ⌈limit·(1 − rttNoLoad/rtt)⌉; grow by β when queue ≤
//     threshold, by one step when queue < α, shrink by one step when queue
//     > β (α = 3·L, β = 6·L, threshold = L, step L, with L Netflix's
//     Log10RootFunction of the limit); rttNoLoad is the minimum RTT,
//     re-probed every 15–30·limit updates. The probe is AIMD's (the limit
//     drops to a quarter of the calls in flight until a window of calls
//     admitted under it completes, whose RTT becomes rttNoLoad), not
//     Netflix's reset to the current RTT, which under overload takes the
//     queue Vegas allows for the no-load RTT and lets each probe deepen it;
//     while the caller uses less than half the limit the reset is kept, as
//     nothing of ours queues then.
//   - Gradient2: gradient = clamp(longRTT/shortRTT, 0.5, 1); the limit moves
//     (smoothing 0.2) toward limit·gradient + 4. The long RTT is an
//     exponential average over time (time constant 300 s, Netflix's 600
//     one-second windows) rather than over updates.
//
// For every algorithm, completed calls are aggregated into windows (at least
// WindowSize calls and at least the current limit, about one round trip of
// traffic), and the algorithm sees the window's mean RTT, as Netflix's
// WindowedLimit does; the RTT of a dropped call is not a latency sample
// (fast failures during an overload otherwise poison Vegas's no-load RTT and
// leave its limit stuck low after recovery, the symptom of
// https://github.com/platinummonkey/go-concurrency-limits/issues/117).
//
// # Events
//
// Config.Observer (AdaptiveConfig.Observer) receives an Event for every
// rejection with its Reason (full, timeout, rate_limited), every queued
// caller whose context ended, every limit change (SetLimit, or an Adaptive
// limiter's algorithm) and every call an Adaptive limiter finished (with its
// RTT), under the delivery rule of package bulwark: never under a lock,
// limit changes one at a time in the order they took effect, a panicking
// observer recovered and counted in Stats.ObserverPanics. A Bulkhead's
// admissions and releases report nothing, so its fast paths are the same
// with and without an Observer.
//
// # HTTP
//
// NewHandler(next, limiter) sheds on the server: a rejected request is
// answered 503 with Retry-After and a short text body, and next never runs
// for it. NewTransport(next, limiter) limits on the client: a rejected
// request fails without touching the network, and an admitted request holds
// its Permit until its response body ends (EOF, a read error or Close).
package bulkhead
