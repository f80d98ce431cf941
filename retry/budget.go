package retry

import (
	"math"
	"sync/atomic"
)

// Budget limits retries across many calls, so that a failing dependency is
// not sent a multiple of its normal load. Config.Budget and
// HedgeConfig.Budget take any implementation: TokenBudget (gRFC A6 retry
// throttling, in this process) is the standard one; a fleet-wide budget
// kept in a shared store plugs in the same way.
//
// The contract, for an implementation:
//
//   - Only attempts that reached the dependency are reported. An attempt
//     refused locally by a guard below (an error matching
//     bulwark.ErrNotAttempted: an open breaker, a full bulkhead, a picker
//     with no node) is neither a Success nor a Failure, and its retry does
//     not ask AllowRetry: it cost the dependency nothing. gRFC A6 likewise
//     counts only failures the server returned. Such a retry is free and
//     waits for no backoff (and a rejection that names a future moment,
//     bulwark.RetryAt, ends the call instead).
//   - Success is called once after every successful attempt, including the
//     first attempt of every call (the Retrier's fast path), so it must be
//     cheap: no blocking, no allocation, no I/O on the caller's goroutine.
//   - Failure is called once after every failed attempt whose error is worth
//     a retry (not Permanent, accepted by Config.Retryable, not the caller's
//     own context ending), including the last attempt of a call. Other
//     failures are not reported.
//   - AllowRetry is called before each retry or hedge, after the Failure of
//     the attempt it would follow and after every other check passed
//     (MaxAttempts, MaxElapsed, the context deadline): true means the retry
//     will be made (unless the caller's context ends during its backoff
//     wait), so an implementation may count it as spent. false stops the
//     call with ErrBudget.
//
// So every reported attempt is either a first attempt or a retry that
// AllowRetry admitted: a budget that limits retries to a ratio of requests
// (Finagle's RetryBudget) can count requests as Success and Failure calls
// minus admitted retries (a call whose only attempts failed permanently, or
// were refused locally, is not counted).
//
// The methods are called concurrently from every goroutine that uses the
// Retrier, Hedge or Transport holding the Budget, under no lock of theirs;
// an implementation must be safe for concurrent use.
type Budget interface {
	AllowRetry() bool
	Success()
	Failure()
}

// TokenBudgetConfig configures a TokenBudget. The defaults are those of
// gRFC A6's example retryThrottling policy (MaxTokens 10, TokenRatio 0.1).
//
// Sizing. Only attempts that reached the dependency move the bucket (a local
// rejection is free and waits only for the moment it names, see Budget). From full, MaxTokens/2 net failures
// (5 by default) turn retries off. The bucket refills with successes, not
// with time: from empty, retries resume after just over
// MaxTokens/(2·TokenRatio) successes (51 by default). In steady state retries stay on while the
// share of failed attempts is below TokenRatio/(1+TokenRatio) (9.1% by
// default), which bounds their extra load to about TokenRatio.
//
// For a busy client (hundreds of requests per second) the defaults react
// within a second either way; a larger MaxTokens (say 100) lets retries ride
// out a short burst of failures before they stop. For a low-traffic client
// the same numbers are counted in requests, so they last long in time: at
// one request a minute, 51 successes to recover is 51 minutes without
// retries after a short outage. There a retry is a small absolute load, so
// either raise TokenRatio (1 means one success undoes one failure) and keep
// MaxTokens small (with 4, two net failures turn retries off and three
// successes turn them on again), or leave Config.Budget nil and bound
// retries with MaxAttempts alone.
type TokenBudgetConfig struct {
	// MaxTokens is the bucket size; zero means 10. It must lie in
	// [1, 1_000_000].
	MaxTokens int
	// TokenRatio is what a success adds to the bucket; zero means 0.1. It
	// must lie in (0, 1] and is kept to a precision of 1e-6 tokens.
	TokenRatio float64
}

// microTokens is the fixed-point scale: the bucket is an integer count of
// millionths of a token, so updates are single-word atomics.
const microTokens = 1_000_000

// TokenBudget is the retry throttling of gRFC A6 ("gRPC Retry Design",
// https://github.com/grpc/proposal/blob/master/A6-client-retries.md): the
// bucket starts full at MaxTokens; every failed attempt that reached the
// dependency takes 1 token, every success adds TokenRatio, and a retry (or
// hedge) may start only while the bucket holds more than MaxTokens/2.
// Share one TokenBudget between every Retrier, Hedge and Transport that
// calls one dependency.
//
// Load bound: against a dependency that fails every call, at most
// MaxTokens/2 retries (5 by default) run before retries stop, after which
// each call makes one attempt, so the extra load tends to 0 instead of
// tripling with 3 attempts per call (Google SRE book, ch. 21 "Handling
// Overload", https://sre.google/sre-book/handling-overload/). See
// TokenBudgetConfig for sizing.
//
// A TokenBudget is safe for concurrent use and lock-free.
type TokenBudget struct {
	// tokens is the bucket in micro-tokens, in [0, max], updated by
	// compare-and-swap; a success on a full bucket is a single atomic load.
	tokens atomic.Int64
	max    int64
	ratio  int64
}

var _ Budget = (*TokenBudget)(nil)

// isNilTokenBudget reports whether b is a nil *TokenBudget, which the
// configs take to mean no budget.
func isNilTokenBudget(b Budget) bool {
	tb, ok := b.(*TokenBudget)
	return ok && tb == nil
}

// NewTokenBudget returns a full TokenBudget, or an error matching
// ErrInvalidConfig that names an invalid field.
func NewTokenBudget(cfg TokenBudgetConfig) (*TokenBudget, error) {
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 10
	}
	if cfg.TokenRatio == 0 {
		cfg.TokenRatio = 0.1
	}
	if cfg.MaxTokens < 1 || cfg.MaxTokens > 1_000_000 {
		return nil, configErrorf("TokenBudgetConfig.MaxTokens %d outside [1, 1000000]", cfg.MaxTokens)
	}
	if !(cfg.TokenRatio > 0 && cfg.TokenRatio <= 1) {
		return nil, configErrorf("TokenBudgetConfig.TokenRatio %v outside (0, 1]", cfg.TokenRatio)
	}
	b := &TokenBudget{
		max:   int64(cfg.MaxTokens) * microTokens,
		ratio: max(1, int64(math.Round(cfg.TokenRatio*microTokens))),
	}
	b.tokens.Store(b.max)
	return b, nil
}

// Tokens returns the current number of tokens.
func (b *TokenBudget) Tokens() float64 { return float64(b.tokens.Load()) / microTokens }

// AllowRetry reports whether a retry or hedge may start now: the bucket
// holds more than half of MaxTokens. It does not take a token; the failure
// that preceded the retry already did.
func (b *TokenBudget) AllowRetry() bool { return b.tokens.Load() > b.max/2 }

// Success credits TokenRatio, up to MaxTokens.
func (b *TokenBudget) Success() {
	for {
		t := b.tokens.Load()
		if t >= b.max {
			return
		}
		if b.tokens.CompareAndSwap(t, min(b.max, t+b.ratio)) {
			return
		}
	}
}

// Failure debits one token, down to zero.
func (b *TokenBudget) Failure() {
	for {
		t := b.tokens.Load()
		if t <= 0 {
			return
		}
		if b.tokens.CompareAndSwap(t, max(0, t-microTokens)) {
			return
		}
	}
}
