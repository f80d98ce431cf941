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
// # Retrier
//
// New builds a Retrier from a Config whose zero fields are defaults: 3
// attempts in total, Exponential backoff from 100 ms to 10 s with full
// jitter, every error retryable except Permanent errors and the caller's own
// context errors. Do runs a function, Call runs one that returns a value.
// A call that succeeds at once reads no clock, starts no timer and allocates
// nothing. Stats reports attempts, retries, budget refusals and exhaustion.
//
// What Do returns:
//   - Permanent(err) stops at once; Do returns err itself, without the
//     marker, so an outer retrier is not stopped by an inner one's decision
//     (cf. cenkalti/backoff issue 174).
//   - After(err, d) asks for a wait of at least d (a server's Retry-After);
//     the wait is max(backoff, d), with d capped at the Backoff's Cap.
//   - When no attempt is left (MaxAttempts, MaxElapsed, or a context deadline
//     that would pass before the next attempt could start), the error
//     matches both ErrExhausted and the last attempt's error. Do never sleeps
//     into the deadline only to report context.DeadlineExceeded.
//   - When the Budget refuses a retry, the error matches ErrBudget and the
//     last error.
//   - When the caller's context ends, Do returns at once with an error that
//     matches ctx.Err() (and the last error, if there was one of its own).
//
// MaxElapsed counts from the first failure, not from the call, so that the
// fast path never reads the clock; a slow first attempt does not eat into it.
//
// # Backoff
//
// Exponential implements the formulas of Marc Brooker, "Exponential Backoff
// And Jitter", AWS Architecture Blog, 2015 (see REFERENCES.md §6): with
// expo(n) = min(Max, Base·Multiplier^n),
//
//	FullJitter          U(0, expo(n))
//	EqualJitter         expo(n)/2 + U(0, expo(n)/2)
//	DecorrelatedJitter  min(Max, U(Base, 3·prev))
//	NoJitter            expo(n)
//
// where n = attempt−1, so Base is the first retry's ceiling (the gRFC A6
// convention). The AWS simulator numbers its first backoff n = 1; only the
// index differs. The arithmetic saturates at Max, so attempt 1000 or
// Max = 1<<62 cannot overflow.
//
// Decorrelated jitter needs the previous delay. Rather than give the Backoff
// mutable state (which would need a lock, or one Backoff per call and an
// allocation), Backoff.Delay takes the previous delay as an argument and the
// retry loop keeps it on its stack. One Backoff value therefore serves every
// concurrent call, and Delay takes no lock and allocates nothing. The random
// draws come from one package-wide wyrand generator (a Weyl sequence advanced
// by an atomic add, mixed by a 64×64→128 multiply), seeded at start-up from
// the runtime's OS-seeded source so that separate processes jitter apart; it
// costs about half of math/rand/v2's rand.Uint64. It is for spreading
// retries, not for secrets.
//
// # Budget
//
// A Budget implements gRPC retry throttling (gRFC A6, "gRPC Retry Design"):
// tokens start at MaxTokens (10); each retryable failure costs 1, each
// success returns TokenRatio (0.1); retries and hedges run only while more
// than MaxTokens/2 tokens remain. Shared by every caller of one dependency,
// it bounds the extra load of retries to about TokenRatio (10%) in steady
// state and to MaxTokens/2 retries in a full outage, instead of the
// MaxAttempts-fold (3×) load of per-request retries alone (Google SRE book,
// ch. 21 "Handling Overload").
//
// # Hedge
//
// Hedge implements the hedged requests of Dean & Barroso, "The Tail at
// Scale", CACM 2013: if the first attempt has not succeeded after Delay,
// start another, up to MaxHedges; take the first success and cancel the
// rest. Hedge waits for every attempt it started before returning.
//
// # Transport
//
// NewTransport wraps an http.RoundTripper. It retries only idempotent
// requests (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or any request with an
// Idempotency-Key header), replays bodies only through Request.GetBody,
// retries transport errors and 429/502/503/504, honours Retry-After in both
// its forms (RFC 9110 §10.2.3) capped at the Backoff's Cap (cf.
// go-retryablehttp issues 247 and 295), drains (up to 64 KiB) and closes
// every response it discards, and returns the last response unchanged when
// attempts run out. WithAttemptTimeout gives each attempt its own deadline
// (covering the body read until Close); an attempt that runs out of it is
// retried like a transport error.
//
// Every exported type is safe for concurrent use.
package retry
