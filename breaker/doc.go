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
// Code that cannot be wrapped in a closure uses the two-step form:
//
//	p, err := b.Allow() // err matches ErrOpen when rejected
//	...
//	p.Done(callErr)
//
// # State machine
//
// A Breaker is Closed, Open or HalfOpen. Closed lets every call through and
// records its outcome in a window. When the window holds at least MinCalls
// outcomes and failures/outcomes ≥ FailureRate, or (with SlowCall > 0) slow
// calls/outcomes ≥ SlowRate, it trips to Open. Both rates are computed over
// the same window. Open rejects every call with an *OpenError (errors.Is
// ErrOpen) naming the breaker and the end of the open period. After OpenFor
// the next Allow (or State) moves it to HalfOpen, which admits HalfOpenCalls
// probes and rejects the rest: all probes succeeding closes it with a fresh
// window; any probe failing (or being slow) re-opens it. With MaxOpenFor set,
// each consecutive re-open doubles the open time up to MaxOpenFor, and a
// close resets it to OpenFor. A probe whose Permit is never completed is
// reclaimed after OpenFor, so a lost Permit cannot wedge the breaker in
// HalfOpen (the trap of resilience4j issues 903 and 935); its late Done is
// ignored. A probe whose outcome is Ignore (say, its caller cancelled) frees
// its slot at once, as in resilience4j, rather than blocking probes until
// reclaimed. Trip and Reset force Open and Closed. Shadow mode runs the whole
// machine but never rejects.
//
// Outcomes come from Config.Classify (default: nil → Success,
// context.Canceled → Ignore, anything else → Failure; Do and Call also
// ignore a failure when the caller's own ctx was cancelled). Ignored calls
// count toward nothing. A failure whose Permit was admitted under an earlier
// state (a call that was in flight when the breaker opened) is counted in
// Stats but not judged. A late success takes the lock-free path and is
// counted in the current window: checking its state would cost every call an
// extra atomic load, and a stale success can only make the breaker slower
// to trip, never trip it.
//
// Create breakers (and Groups) inside a testing/synctest bubble when the test
// uses one: a breaker keeps its own time base, and one created outside a
// bubble sees the bubble's fake clock as a time long before its birth.
//
// # Windows and the hot path
//
// The count window (WindowSize, default 100) is the last N outcomes; the
// time window (WindowTime, in Buckets buckets, default 10) is the outcomes
// of the last WindowTime, expiring a bucket at a time, so a long idle gap
// forgets everything. Neither stores successes one by one: a success is one
// atomic add on a striped counter (cache-line-padded stripes picked by the
// goroutine's stack address, so two CPUs rarely share a line). Failures and
// slow calls take the breaker's mutex, stamp themselves with the running
// total of outcomes (count window) or land in their bucket (time window),
// and evaluate the rates. So in Closed, Allow + Done of a success are one
// atomic load and one atomic add: no lock and, without SlowCall, no clock
// read, in either window. A time window learns that its current bucket has
// ended from a timer (time.AfterFunc, armed once per bucket, whose callback
// only sets a flag under the lock); the first outcome after that takes the
// lock and rotates the window. This is a deliberate trade: one monotonic
// clock read costs more than the rest of the hot path (about 37 ns against
// about 12 ns on the benchmark machine), and the price is that a success
// landing between a bucket's end and the timer's callback (the timer's
// delivery latency) is counted in the ending bucket. SlowCall needs the
// call's duration, so it adds a clock read in Allow and one in Done.
// Successes are evaluated only in the rare case where they can trip (the
// window holds failures but fewer than MinCalls outcomes). Under concurrency
// the window is exact up to the order in which racing outcomes are numbered.
//
// # OnStateChange
//
// Transitions are made under the breaker's mutex and appended to a small
// queue. The goroutine that made a transition, after unlocking, drains the
// queue and calls OnStateChange outside the lock, unless another goroutine
// is already draining, in which case that one delivers it. One drainer at a
// time and FIFO batches give: one call per transition, in transition order,
// never under a lock, even when many goroutines race (no Closed→HalfOpen, no
// duplicates). A callback may call the breaker, even Trip or Reset; its
// transition is delivered after it returns. The cost of that design: a
// goroutine may return from the call that made a transition before the
// callback for it has run.
//
// # Defaults
//
// WindowSize 100, FailureRate 0.5 and SlowRate 1.0 are resilience4j's
// defaults (slidingWindowSize, failureRateThreshold, slowCallRateThreshold);
// MinCalls 10 (resilience4j's minimumNumberOfCalls is 100, which with a
// window of 100 waits for a full window; 10 keeps the "not enough evidence"
// guard without that delay); OpenFor 5 s is Polly v8's BreakDuration;
// HalfOpenCalls 1 is gobreaker's MaxRequests; Buckets 10.
//
// # Throttle
//
// NewThrottle implements client-side adaptive throttling from the Google SRE
// book, ch. 21 "Handling Overload", Eq. 21-1: over a rolling Window (default
// 2 minutes) it counts requests and backend accepts and rejects locally with
// probability max(0, (requests − K·accepts)/(requests + 1)), K default 2.
// Its rejections are ErrThrottled, which also matches ErrOpen.
//
// # Group and Transport
//
// NewGroup keeps one breaker per key, created on first use, at most MaxKeys
// of them (least recently used evicted first) and, with IdleTTL, dropping
// keys not used for that long. NewTransport breaks per host for an
// http.Client: status ≥ 500 and transport errors are failures (configurable),
// a rejected request never reaches the network and its error wraps ErrOpen,
// and a Retry-After on a 503 or 429 may lengthen the open period (see
// Transport).
//
// Every exported type is safe for concurrent use. Nothing in this package
// starts a goroutine of its own; the only background work is the bucket
// timer of a time-window breaker, whose callback runs for a few
// instructions once per bucket, and which keeps an unused breaker reachable
// for at most one bucket width.
//
// # Observability
//
// Stats is a snapshot of atomic counters. State implements
// encoding.TextMarshaler and TextUnmarshaler, so a Stats published through
// expvar or encoding/json shows "closed", "open" or "half-open" and decodes
// back.
//
// References: resilience4j CircuitBreaker (count/time windows, slow-call
// rate, minimum calls, issues 903/935 on stuck half-open); Polly v8 circuit
// breaker (break duration); sony/gobreaker (two-step breaker, settings with
// documented zero values); Google SRE book ch. 21 (Eq. 21-1); RFC 9110
// §10.2.3 (Retry-After).
package breaker
