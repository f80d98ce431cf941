package bulkhead

import (
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark"
)

// RateLimiter decides the admission rate of a Bulkhead (Config.RateLimiter).
// Allow reports whether one call may be admitted now and, when it returns
// true, has taken the call's token. Allow must be safe for concurrent use
// and must not block for long: it runs on every admission, before the slot
// check, and TryAcquire promises not to block.
//
// *rate.Limiter from golang.org/x/time/rate satisfies RateLimiter as it is.
// So can a limiter shared by a fleet of processes, such as GCRA
// (Generic Cell Rate Algorithm) kept in Redis, provided its Allow answers
// from local state or within its own short timeout (for instance by leasing
// batches of tokens and serving them locally).
//
// When a call is refused, the Bulkhead tells the caller when a token is
// expected (a *RateLimitedError, found by bulwark.RetryAt) if it can learn
// it: for a *rate.Limiter it computes the moment from the limiter's tokens
// and rate; any other RateLimiter that also implements bulwark.RetryAter
// has its RetryAt called right after the refusing Allow, and a zero time
// means unknown.
type RateLimiter interface {
	Allow() bool
}

var _ RateLimiter = (*rate.Limiter)(nil)

// nextAdmission returns when l expects to admit its next call, if it knows.
func nextAdmission(l RateLimiter, now time.Time) (time.Time, bool) {
	switch l := l.(type) {
	case *rate.Limiter:
		return tokenBucketNext(l, now)
	case bulwark.RetryAter:
		at := l.RetryAt()
		return at, !at.IsZero()
	}
	return time.Time{}, false
}

// tokenBucketNext returns when l will hold one whole token, from its state
// at now. A limiter with a zero rate or a burst below one never admits
// again: there is no such moment.
func tokenBucketNext(l *rate.Limiter, now time.Time) (time.Time, bool) {
	limit := l.Limit()
	switch {
	case limit == rate.Inf:
		return now, true
	case limit <= 0 || l.Burst() < 1:
		return time.Time{}, false
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return now, true // another caller's token came back meanwhile
	}
	wait := math.Ceil((1 - tokens) / float64(limit) * float64(time.Second))
	return now.Add(time.Duration(wait)), true
}
