package retry

import (
	"fmt"
	"math"
	"time"

	"github.com/bulwark-go/bulwark/internal/fastrand"
)

// Backoff computes the wait before a retry.
//
// A Backoff is a pure function of its arguments plus randomness: the per-call
// state that some strategies need (the previous delay, for decorrelated
// jitter) is passed in by the caller, which keeps it on its stack. That is why
// one Backoff value can be shared by every concurrent call of a Retrier
// without a lock and without an allocation per call.
//
// Implementations must be safe for concurrent use.
type Backoff interface {
	// Delay returns the wait before retry number attempt (1 is the first
	// retry, i.e. the wait after the first failed attempt). The Retrier
	// numbers only retries that follow an attempt that reached the
	// dependency: a local rejection is retried at once, without a Delay.
	// prev is the delay this Backoff returned for the previous retry of the
	// same call, or 0 before the first retry. The result lies in [0, Cap()].
	Delay(attempt int, prev time.Duration) time.Duration

	// Cap returns the longest delay Delay can return. The Retrier also caps
	// server hints (After, Retry-After) at Cap.
	Cap() time.Duration
}

// Constant returns a Backoff that always waits d. Its Cap is d, so server
// hints (After, Retry-After) never make a Constant retrier wait longer than d.
// A negative d is rejected by New.
func Constant(d time.Duration) Backoff { return constant(d) }

type constant time.Duration

func (c constant) Delay(int, time.Duration) time.Duration { return time.Duration(c) }
func (c constant) Cap() time.Duration                     { return time.Duration(c) }

func (c constant) validate(in string) error {
	if c < 0 {
		return configErrorf("%sConstant(%v) negative", in, time.Duration(c))
	}
	return nil
}

// Jitter selects how Exponential randomises its delay. The formulas are those
// of Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog,
// 2015, where expo(n) = min(Max, Base·Multiplier^n).
type Jitter uint8

const (
	// FullJitter waits U(0, expo(n)). It is the zero value because the AWS
	// simulation shows it doing the least total work under contention.
	FullJitter Jitter = iota
	// NoJitter waits exactly expo(n). Clients that failed together retry
	// together; use it only when there is a single client.
	NoJitter
	// EqualJitter waits expo(n)/2 + U(0, expo(n)/2): never less than half.
	EqualJitter
	// DecorrelatedJitter waits min(Max, U(Base, 3·prev)), with prev = Base
	// before the first retry. It ignores Multiplier (the growth factor is the
	// 3 of the formula) and depends on the previous delay, which the caller
	// passes to Delay.
	DecorrelatedJitter
)

// String returns the jitter's name.
func (j Jitter) String() string {
	switch j {
	case FullJitter:
		return "FullJitter"
	case NoJitter:
		return "NoJitter"
	case EqualJitter:
		return "EqualJitter"
	case DecorrelatedJitter:
		return "DecorrelatedJitter"
	}
	return fmt.Sprintf("Jitter(%d)", uint8(j))
}

// DefaultMax is the cap of an Exponential whose Max is zero, and part of the
// default Backoff of a Retrier (100 ms doubling up to 10 s, full jitter: the
// AWS SDK's order of magnitude, kept below typical 30 s request deadlines).
const DefaultMax = 10 * time.Second

// Exponential is a capped exponential Backoff with jitter. Retry number
// attempt (1-based) has the ceiling expo = min(Max, Base·Multiplier^(attempt−1)),
// so Base is the ceiling of the first retry (the gRFC A6 convention; the AWS
// simulator's n is attempt−1 here). The arithmetic saturates at Max, so no
// attempt number or Max (up to the largest Duration) overflows.
//
// Fields: Base must be > 0. Max zero means DefaultMax (10 s); Max must be
// ≥ Base. Multiplier zero means 2; it must be ≥ 1. The zero Jitter is
// FullJitter. New validates an Exponential passed in Config; call Validate if
// you use one directly. Delay never panics, even on invalid fields.
//
// An Exponential is a value with no mutable state: it is safe for concurrent
// use. Delay draws from a package-wide lock-free generator (wyrand, seeded
// from the runtime's OS-seeded source at start-up), so it takes no lock and
// allocates nothing.
type Exponential struct {
	Base       time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     Jitter
}

// Validate reports the first invalid field, naming it and its value, with
// an error matching ErrInvalidConfig.
func (e Exponential) Validate() error { return e.validate("") }

// validate is Validate with the name of the Config field holding e, if any.
func (e Exponential) validate(in string) error {
	switch {
	case e.Base <= 0:
		return configErrorf("%sExponential.Base %v must be > 0", in, e.Base)
	case e.Max < 0:
		return configErrorf("%sExponential.Max %v negative", in, e.Max)
	case e.cap() < e.Base:
		return configErrorf("%sExponential.Max %v below Base %v", in, e.cap(), e.Base)
	case math.IsNaN(e.Multiplier) || (e.Multiplier != 0 && e.Multiplier < 1):
		return configErrorf("%sExponential.Multiplier %v must be >= 1", in, e.Multiplier)
	case e.Jitter > DecorrelatedJitter:
		return configErrorf("%sExponential.Jitter %v unknown", in, e.Jitter)
	}
	return nil
}

// Cap returns Max, or DefaultMax when Max is zero.
func (e Exponential) Cap() time.Duration { return e.cap() }

func (e Exponential) cap() time.Duration {
	if e.Max == 0 {
		return DefaultMax
	}
	return e.Max
}

// Delay returns the jittered delay before retry number attempt; prev is only
// read by DecorrelatedJitter. It does not block and does not allocate.
func (e Exponential) Delay(attempt int, prev time.Duration) time.Duration {
	switch e.Jitter {
	case FullJitter:
		c, ok := e.doubled(attempt)
		if !ok {
			c = e.ceilingSlow(attempt)
		}
		return scale(fastrand.Uint64(), c)
	case NoJitter:
		return e.ceiling(attempt)
	}
	return e.delay(attempt, prev, fastrand.Uint64())
}

// delay is Delay with the random draw u passed in, so tests can use a seeded
// source.
func (e Exponential) delay(attempt int, prev time.Duration, u uint64) time.Duration {
	switch e.Jitter {
	case NoJitter:
		return e.ceiling(attempt)
	case EqualJitter:
		c := e.ceiling(attempt)
		half := c / 2
		return half + scale(u, c-half)
	case DecorrelatedJitter:
		return e.decorrelated(prev, u)
	default:
		return scale(u, e.ceiling(attempt))
	}
}

// ceiling returns min(Max, Base·Multiplier^(attempt−1)) without overflow.
func (e Exponential) ceiling(attempt int) time.Duration {
	if c, ok := e.doubled(attempt); ok {
		return c
	}
	return e.ceilingSlow(attempt)
}

// doubled returns Base·2^(attempt−1) when the Multiplier is the default and
// the result stays within the cap; ok is false otherwise (ceilingSlow's
// cases). It is the only copy of the doubling rule, small enough to inline
// into Delay (no loop, no float, no call): Base<<n ≤ Max ⇔ Base ≤ Max>>n,
// so the shift cannot overflow. BenchmarkExponentialDelay measures Delay on
// the concrete type; a change that stops the inlining shows there as a
// slower full-jitter row.
func (e Exponential) doubled(attempt int) (c time.Duration, ok bool) {
	if n := uint(attempt - 1); n < 63 && (e.Multiplier == 0 || e.Multiplier == 2) &&
		e.Base > 0 && e.Base <= e.cap()>>n {
		return e.Base << n, true
	}
	return 0, false
}

// ceilingSlow is ceiling where doubled does not apply: invalid fields,
// attempt < 1, a doubling that reached the cap, or another Multiplier.
func (e Exponential) ceilingSlow(attempt int) time.Duration {
	base, hi := e.Base, e.cap()
	switch {
	case base <= 0 || hi <= 0:
		return 0
	case base >= hi:
		return hi
	case attempt <= 1:
		return base
	case e.Multiplier == 0 || e.Multiplier == 2:
		return hi // doubled shifts every doubling that stays within the cap
	case !(e.Multiplier > 1): // 1, or invalid: no growth
		return base
	}
	f := float64(base) * math.Pow(e.Multiplier, float64(attempt-1))
	if !(f < float64(hi)) { // also catches +Inf
		return hi
	}
	return time.Duration(f)
}

// decorrelated returns min(Max, U(Base, 3·prev)), prev at least Base.
func (e Exponential) decorrelated(prev time.Duration, u uint64) time.Duration {
	base, max := e.Base, e.cap()
	if base <= 0 || max <= 0 {
		return 0
	}
	if base >= max {
		return max
	}
	if prev < base {
		prev = base
	}
	lo := float64(base)
	hi := 3 * float64(prev) // float: 3·prev may pass the largest Duration
	d := lo + unit(u)*(hi-lo)
	if !(d < float64(max)) {
		return max
	}
	return time.Duration(d)
}

// unit maps u to [0, 1) with 53 bits of precision.
func unit(u uint64) float64 { return float64(u>>11) * 0x1p-53 }

// scale returns U(0, c) from the draw u (fastrand.N: no floating point, no
// bias beyond 2^-64); c ≤ 0 gives 0.
func scale(u uint64, c time.Duration) time.Duration {
	return time.Duration(fastrand.N(u, uint64(max(c, 0))))
}
