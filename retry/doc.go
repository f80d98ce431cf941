// Package retry provides a retry loop with jittered exponential backoff and a
// retry budget shared across calls, hedged requests, and http.RoundTrippers
// that retry or hedge idempotent requests.
//
// The three-line use:
//
//	r, err := retry.New(retry.Config{MaxAttempts: 3})
//	...
//	err = r.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//
// Most users want one Retrier per dependency, shared by every goroutine, with
// a TokenBudget so that retries stop when the dependency is failing:
//
//	budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{}) // gRFC A6 defaults
//	r, _ := retry.New(retry.Config{Budget: budget})
//	v, err := retry.Call(ctx, r, fetch)                  // a function that returns a value
//	rt, _ := retry.NewTransport(http.DefaultTransport, r) // or for an http.Client
//
// The zero Config makes 3 attempts in total, waits Exponential backoff from
// 100 ms to 10 s with full jitter, and retries every error except Permanent
// ones and the caller's own context ending. A call that succeeds at once
// reads no clock, starts no timer and allocates nothing (unless
// Config.AttemptTimeout is set). Every exported type is safe for concurrent
// use.
//
// # What Do returns
//
//   - nil once an attempt succeeds.
//   - Permanent(err) stops at once; Do returns err itself, without the
//     marker, so an outer retrier is not stopped by an inner one's decision.
//   - After(err, d) asks for a wait of at least d (a server's Retry-After);
//     the wait is max(backoff, d), with d capped at the Backoff's Cap.
//   - When no attempt is left (MaxAttempts, MaxElapsed, or a context deadline
//     that would pass before the next attempt could start), an error
//     matching both ErrExhausted and the last attempt's error. Do never
//     sleeps into the deadline only to report context.DeadlineExceeded.
//   - When the Budget refuses a retry, an error matching ErrBudget and the
//     last error.
//   - When the caller's context has ended (Do checks it before the first
//     attempt too), an error matching ctx.Err() and context.Cause(ctx), and
//     the last error if there was one.
//
// Config.AttemptTimeout gives each attempt its own deadline; an attempt that
// runs out of it fails with ErrAttemptTimeout and is retried.
//
// # Local rejections cost nothing
//
// A guard below the retry loop may refuse an attempt without sending it: an
// open circuit breaker, a full bulkhead, a picker with no node. Such errors
// match bulwark.ErrNotAttempted. The dependency never saw the attempt, so
// the retry loop retries it without a backoff wait, and the Budget is
// neither charged for it nor asked to allow its retry; it still counts
// toward MaxAttempts. The retry is at once, unless the rejection names a
// future moment at which its guard will admit again (bulwark.RetryAt: an
// open breaker's end, the earliest return of a balancer's nodes). Retrying
// before then would only meet the same refusal and burn the remaining
// attempts, and waiting for it would spend the caller's time on a guess
// (an open breaker's end admits a probe, not a success), so the loop stops
// at once with ErrExhausted and the rejection, failing fast; the error's
// RetryAt tells the caller when to come back. Below a balancing Transport
// such a refusal means every node refuses: the balancer has already re-picked
// the others within the attempt. Budget tokens follow only attempts that reached the
// dependency, as gRFC A6 counts only failures the server returned. If every
// attempt was a local rejection, Do returns the last one wrapped with
// ErrExhausted (errors.Is still finds bulwark.ErrNotAttempted and the
// guard's own sentinel). The Transport applies the same rule to a local
// rejection returned by the RoundTripper below it.
//
// # Backoff
//
// Exponential implements the formulas of Marc Brooker, "Exponential Backoff
// And Jitter", AWS Architecture Blog, 2015
// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
// with expo(n) = min(Max, Base·Multiplier^n),
//
//	FullJitter          U(0, expo(n))
//	EqualJitter         expo(n)/2 + U(0, expo(n)/2)
//	DecorrelatedJitter  min(Max, U(Base, 3·prev))
//	NoJitter            expo(n)
//
// where n = attempt−1, so Base is the first retry's ceiling (the gRFC A6
// convention; the AWS simulator numbers its first backoff n = 1). The
// arithmetic saturates at Max: no attempt number or Max overflows. One
// Backoff value serves every concurrent call: the previous delay that
// decorrelated jitter needs is passed to Delay by the retry loop, which
// keeps it on its stack.
//
// # Budget
//
// A TokenBudget implements gRPC retry throttling (gRFC A6, "gRPC Retry
// Design"): tokens start at MaxTokens (10); each failed attempt costs 1, each
// success returns TokenRatio (0.1); retries and hedges run only while more
// than MaxTokens/2 tokens remain. Shared by every caller of one dependency,
// it bounds the extra load of retries to about TokenRatio in steady state
// and to MaxTokens/2 retries in a full outage, instead of the
// MaxAttempts-fold load of per-request retries alone (Google SRE book, ch.
// 21 "Handling Overload"). TokenBudgetConfig says how to size it for busy
// and for low-traffic clients. Config.Budget takes any Budget, so a budget
// shared by a whole fleet can replace it.
//
// # Hedge
//
// Hedge implements the hedged requests of Dean & Barroso, "The Tail at
// Scale", CACM 2013: if the first attempt has not succeeded after Delay,
// start another, up to MaxHedges; take the first success and cancel the
// rest. Hedge waits for every attempt it started before returning;
// HedgeDiscard also hands every losing value to a function that releases
// it.
//
// # Events
//
// Config.Observer (HedgeConfig.Observer for Hedge) receives an Event for
// each retry before its wait (EventRetry: attempt, delay, cause), each
// retry the Budget refused (EventBudgetRefused), each hedge started or won
// (EventHedge, EventHedgeWon) and the end of every call (EventSuccess,
// EventFailure, with the number of attempts); a Transport's events also
// carry the request's method and host. Events are delivered on the calling
// goroutine, in attempt order, under no lock, as package bulwark's
// delivery rule says; a panicking observer is recovered and counted in
// Stats.ObserverPanics. With no Observer a call pays one branch; an Event
// is a value, so delivering one allocates nothing.
//
// # Transports
//
// NewTransport retries idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT,
// DELETE, or any request with an Idempotency-Key header) with a Retrier,
// replays bodies only through Request.GetBody, retries transport errors and
// 429/502/503/504, honours Retry-After in both its forms (RFC 9110
// §10.2.3) capped at the Backoff's Cap (except where a balance.Transport
// below has ejected the node for that pause: the retry then goes elsewhere
// after its own backoff), drains and closes every response it
// discards, and returns the last response unchanged when attempts run out.
// When the Budget refuses the retry of such a response, RoundTrip returns an
// error matching ErrBudget instead, so the caller can tell.
// WithAttemptTimeout gives each attempt its own deadline, covering the body
// read until Close.
//
// NewHedgeTransport hedges the same idempotent requests: the first good
// response wins with its body intact; the losers are cancelled, drained,
// closed and waited for.
package retry
