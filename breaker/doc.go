// Package breaker provides circuit breakers. A Breaker watches the outcomes
// of the calls it lets through to a dependency; when too many fail it opens
// and rejects calls at once for a while, so that callers fail fast instead
// of queueing on a dependency that cannot answer and the dependency gets
// room to recover; then it lets a few probe calls through and closes again
// if they succeed.
//
// The three-line use:
//
//	b, err := breaker.New(breaker.Config{Name: "db"})
//	...
//	err = b.Do(ctx, func(ctx context.Context) error { return db.Ping(ctx) })
//
// Do (or Call, for a function that returns a value) is what most callers
// want. While the breaker is open, Do returns an *OpenError without calling
// fn: errors.Is(err, ErrOpen) and errors.Is(err, bulwark.ErrNotAttempted)
// hold, and bulwark.RetryAt(err) tells when the breaker admits calls again.
// Code that cannot be wrapped in a closure uses the two-step form:
//
//	p, err := b.Allow() // err is an *OpenError when rejected
//	...
//	p.Done(callErr)
//
// Config{} is a working breaker: it opens when half of the last 100 calls
// failed (once at least 10 are in) and stays open 5 s. To open after a
// number of failures in a row instead, as sony/gobreaker does by default,
// set Config.ConsecutiveFailures; for any other rule, Config.ShouldTrip.
//
// The package also has a Throttle (client-side adaptive throttling, which
// sheds a share of calls instead of all of them), a Group (one breaker per
// key: host, tenant, route) and a Transport (per-host breaking for an
// http.Client).
//
// Every exported type is safe for concurrent use. In Closed, Allow, Done and
// Do take no lock and allocate nothing. User callbacks (Classify,
// ShouldTrip, Observer) are never called under a lock of the breaker.
//
// # State machine
//
// A Breaker is Closed, Open or HalfOpen. Closed lets every call through and
// records its outcome in a window (the last WindowSize outcomes, or those of
// the last WindowTime). It trips to Open on ConsecutiveFailures failures in
// a row, or, once the window holds at least MinCalls outcomes, when
// failures/outcomes reaches FailureRate or (with SlowCall > 0) slow
// calls/outcomes reaches SlowRate; ShouldTrip, when set, replaces that rule.
// Open rejects every call with an *OpenError naming the breaker and the end
// of the open period. After OpenFor the next Allow (or State) moves it to
// HalfOpen, which admits HalfOpenCalls probes and rejects the rest: all
// probes succeeding closes it with a fresh window; any probe failing (or
// being slow) re-opens it. With MaxOpenFor set, each consecutive re-open
// doubles the open time up to MaxOpenFor, and a close resets it to OpenFor.
// Trip and Reset force Open and Closed. Shadow mode runs the whole machine
// but never rejects: the safe way to try thresholds on live traffic.
//
// A probe whose Permit is never finished is reclaimed after OpenFor, so a
// lost Permit cannot wedge the breaker in HalfOpen (the trap of resilience4j
// issues 903 and 935, https://github.com/resilience4j/resilience4j/issues/903);
// its late Done is ignored. A probe whose outcome is Ignore (say, its caller
// cancelled) frees its slot at once.
//
// # Outcomes
//
// Outcomes come from Config.Classify (default DefaultClassify: nil →
// Success, context.Canceled → Ignore, anything else → Failure). Do and Call
// also ignore a failure when the caller's own ctx was cancelled, and count a
// call that panics as a Failure (the panic then goes on to their caller
// unchanged), so a dependency whose calls panic trips the breaker like one
// whose calls fail. Ignored calls count toward nothing. A failure whose
// Permit was admitted under an earlier state (a call that was in flight when
// the breaker opened) is counted in Stats but not judged. A late success is
// counted in the current window: a stale success can only make the breaker
// slower to trip, never trip it.
//
// # Windows
//
// The count window (WindowSize, default 100) is the last N outcomes; the
// time window (WindowTime, in Buckets buckets, default 10) is the outcomes
// of the last WindowTime, expiring a bucket at a time, so a long idle gap
// forgets everything. A time window learns that its current bucket has ended
// from a timer rather than by reading the clock on every call, so a success
// that lands between a bucket's end and the timer's callback is counted in
// the ending bucket. SlowCall needs each call's duration, so it adds a clock
// read in Allow and one in Done. Under concurrency the window is exact up to
// the order in which racing outcomes are numbered.
//
// # Events
//
// Config.Observer receives an Event for every outcome (EventSuccess,
// EventFailure, EventIgnored), every rejection (EventRejected, with its
// Reason), every transition (EventStateChange) and every probe admitted
// (EventProbe), under the delivery rule of package bulwark: never under a
// lock of the breaker, even when many goroutines race. Transitions are
// queued and delivered one at a time, in the order they happened. An
// observer may call the breaker, even Trip or Reset; the transitions that
// causes are delivered after it returns. The price of that guarantee: a
// goroutine may return from the call that made a transition before the
// event for it has been delivered (another goroutine delivers it). A call's
// own events are delivered by its goroutine before it returns: a failure
// before the trip it caused, a probe after the transition that admitted it.
// A panicking observer is recovered and counted in Stats.ObserverPanics; the
// breaker decides as if it had returned. Without an Observer the hot paths
// pay nothing: its presence is a bit of the state word they test anyway.
//
// # Defaults
//
// WindowSize 100, FailureRate 0.5 and SlowRate 1.0 are resilience4j's
// defaults (slidingWindowSize, failureRateThreshold,
// slowCallRateThreshold); MinCalls 10 (resilience4j's minimumNumberOfCalls
// is 100, which with a window of 100 waits for a full window; 10 keeps the
// "not enough evidence" guard without that delay); OpenFor 5 s is Polly v8's
// BreakDuration; HalfOpenCalls 1 is gobreaker's MaxRequests; Buckets 10.
//
// # Throttle
//
// NewThrottle implements client-side adaptive throttling from Beyer, Jones,
// Petoff and Murphy (eds.), "Site Reliability Engineering", O'Reilly 2016,
// ch. 21 "Handling Overload", Eq. 21-1
// (https://sre.google/sre-book/handling-overload/): over a rolling Window
// (default 2 minutes) it counts requests and backend accepts, and rejects
// locally with probability max(0, (requests − K·accepts)/(requests + 1)), K
// default 2. Its rejections are ErrThrottled, which also matches ErrOpen and
// bulwark.ErrNotAttempted. It hands out the same Permit as a Breaker.
//
// # Group and Transport
//
// NewGroup keeps one breaker per key, created on first use, at most MaxKeys
// of them (least recently used evicted first) and, with IdleTTL, dropping
// keys not used for that long; All enumerates them and AllStats their Stats. NewTransport breaks per
// host for an http.Client: status ≥ 500 and transport errors are failures
// (configurable), a rejected request never reaches the network and its error
// wraps the *OpenError, and a Retry-After on a 503 or 429 may lengthen the
// open period (RFC 9110 §10.2.3). It goes innermost in a client stack, below
// the balancing transport (see NewTransport).
//
// Nothing in this package starts a goroutine of its own; the only
// background work is the bucket timer of a time-window breaker, whose
// callback runs for a few instructions once per bucket, and which keeps an
// unused breaker reachable for at most one bucket width.
//
// # Observability and tests
//
// Stats is a snapshot of atomic counters. State implements
// encoding.TextMarshaler and TextUnmarshaler, so a Stats published through
// expvar or encoding/json shows "closed", "open" or "half-open" and decodes
// back.
//
// Create breakers (and Groups and Throttles) inside a testing/synctest
// bubble when the test uses one: each keeps its own time base, and one
// created outside a bubble sees the bubble's fake clock as a time long
// before its birth.
package breaker
