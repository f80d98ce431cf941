package bulkhead

import (
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark"
)

// ErrRejected matches every rejection by a Bulkhead or an Adaptive limiter:
// errors.Is(err, ErrRejected) holds for ErrFull, ErrTimeout and ErrRateLimited.
// A caller whose own context ends gets ctx.Err() instead, which is not a
// rejection.
//
// Every rejection also matches bulwark.ErrNotAttempted: the protected call
// never ran, so layers above (retry, balance) know it cost the dependency
// nothing.
var ErrRejected = errors.New("bulkhead: rejected")

var (
	// ErrFull reports that no slot was free and the call could not queue
	// (MaxWaiting is 0 or the queue already holds MaxWaiting callers), or, for
	// an Adaptive limiter, that the current limit is reached.
	ErrFull error = &rejection{"bulkhead: full"}
	// ErrTimeout reports that the call waited Config.MaxWait in the queue
	// without getting a slot.
	ErrTimeout error = &rejection{"bulkhead: timed out waiting for a slot"}
	// ErrRateLimited reports that the admission rate (Config.Rate and
	// Config.Burst, or Config.RateLimiter) refused the call. The error a
	// caller gets may be a *RateLimitedError that also says when the rate
	// limiter expects to admit again; errors.Is(err, ErrRateLimited) holds
	// either way.
	ErrRateLimited error = &rejection{"bulkhead: admission rate exceeded"}
)

// ErrInvalidConfig matches every configuration error of this package: from
// New, NewAdaptive, NewHandler, NewTransport and SetLimit. The message names
// the field (or option) and its value, e.g.
// "bulkhead: Config.MaxConcurrent 0 must be > 0".
var ErrInvalidConfig = errors.New("bulkhead: invalid config")

// rejection is a distinct sentinel that also matches ErrRejected and
// bulwark.ErrNotAttempted.
type rejection struct{ msg string }

func (e *rejection) Error() string { return e.msg }

// Is makes every rejection sentinel match ErrRejected and
// bulwark.ErrNotAttempted.
func (e *rejection) Is(target error) bool {
	return target == ErrRejected || target == bulwark.ErrNotAttempted
}

// RateLimitedError is the rejection by the admission rate when the rate
// limiter knows when it will admit again: errors.Is(err, ErrRateLimited),
// errors.Is(err, ErrRejected) and errors.Is(err, bulwark.ErrNotAttempted)
// hold, and bulwark.RetryAt(err) returns At.
type RateLimitedError struct {
	// At is the earliest moment at which the rate limiter expects to admit a
	// call, as it knew at the rejection; other callers may take that token
	// first.
	At time.Time
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("bulkhead: admission rate exceeded (next admission at %s)", e.At.Format(time.RFC3339Nano))
}

// RetryAt returns At; it implements bulwark.RetryAter.
func (e *RateLimitedError) RetryAt() time.Time { return e.At }

// Unwrap returns ErrRateLimited.
func (e *RateLimitedError) Unwrap() error { return ErrRateLimited }

// configError is an ErrInvalidConfig whose message names the field and value.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "bulkhead: " + fmt.Sprintf(format, args...)}
}
