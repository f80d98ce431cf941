package retry

import (
	"fmt"
	"math"
	"sync/atomic"
)

// BudgetConfig configures a Budget. The defaults are those of gRFC A6's
// example retryThrottling policy.
type BudgetConfig struct {
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

// Budget is a retry budget shared by many calls: the retry throttling of
// gRFC A6 ("gRPC Retry Design"). The bucket starts full at MaxTokens; every
// retryable failure takes 1 token, every success adds TokenRatio, and a
// retry (or hedge) may start only while the bucket holds more than
// MaxTokens/2.
//
// Load bound: against a dependency that fails every call, at most MaxTokens/2
// retries (5 by default) run before retries stop, after which each call makes
// one attempt only, so the extra load tends to 0 instead of tripling with 3
// attempts. Retries stay enabled only while failures ≤ TokenRatio·successes,
// so in steady state retries add at most about TokenRatio (10%) to the load,
// as the Google SRE book's per-client retry budget recommends.
//
// A Budget is safe for concurrent use and lock-free: one atomic word, updated
// by compare-and-swap. A success on a full bucket is a single atomic load.
type Budget struct {
	tokens atomic.Int64 // micro-tokens in [0, max]
	max    int64
	ratio  int64
}

// NewBudget returns a full Budget, or an error naming an invalid field.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 10
	}
	if cfg.TokenRatio == 0 {
		cfg.TokenRatio = 0.1
	}
	if cfg.MaxTokens < 1 || cfg.MaxTokens > 1_000_000 {
		return nil, fmt.Errorf("retry: BudgetConfig.MaxTokens %d outside [1, 1000000]", cfg.MaxTokens)
	}
	if !(cfg.TokenRatio > 0 && cfg.TokenRatio <= 1) {
		return nil, fmt.Errorf("retry: BudgetConfig.TokenRatio %v outside (0,1]", cfg.TokenRatio)
	}
	b := &Budget{
		max:   int64(cfg.MaxTokens) * microTokens,
		ratio: max(1, int64(math.Round(cfg.TokenRatio*microTokens))),
	}
	b.tokens.Store(b.max)
	return b, nil
}

// Tokens returns the current number of tokens.
func (b *Budget) Tokens() float64 { return float64(b.tokens.Load()) / microTokens }

// AllowRetry reports whether a retry or hedge may start now: the bucket holds
// more than half of MaxTokens. It does not take a token; the failure that
// preceded the retry already did.
func (b *Budget) AllowRetry() bool { return b.tokens.Load() > b.max/2 }

// Success credits TokenRatio, up to MaxTokens.
func (b *Budget) Success() {
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

// Failure debits one token, down to zero. Call it for failures that a retry
// could fix, not for the caller's own cancellation.
func (b *Budget) Failure() {
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
