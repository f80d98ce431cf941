package retry

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrExhausted marks the error returned when no further attempt will be
	// made although the last failure was retryable: MaxAttempts reached,
	// MaxElapsed spent, or the context deadline too close for another
	// attempt. The same error also matches the last attempt's error.
	ErrExhausted = errors.New("retry: attempts exhausted")

	// ErrBudget marks the error returned when a retry was skipped because the
	// shared Budget was below half. The same error also matches the last
	// attempt's error.
	ErrBudget = errors.New("retry: retry budget exhausted")
)

// Permanent marks err as not worth retrying: the Retrier returns at once.
// The marker is removed on the way out: Do returns err itself (the argument
// given here, not any error wrapping the marker), so an outer retrier sees
// a plain error and decides for itself. Permanent(nil) returns nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// After marks err as retryable no sooner than d from now, e.g. from a
// server's Retry-After. The Retrier waits max(backoff delay, d), with d
// capped at the Backoff's Cap so that a hostile or mistaken hint cannot stall
// the caller. A negative d counts as 0. After(nil, d) returns nil. The marker
// survives wrapping (it is found with errors.As) and is removed when Do
// returns the error inside ErrExhausted or ErrBudget.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	if d < 0 {
		d = 0
	}
	return &afterError{err: err, after: d}
}

type afterError struct {
	err   error
	after time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// hint returns the "not before" duration carried by err, if any.
func hint(err error) (time.Duration, bool) {
	var a *afterError
	if errors.As(err, &a) {
		return a.after, true
	}
	return 0, false
}

// stopError is what Do returns when it gives up on a retryable error: it
// matches its reason (ErrExhausted, ErrBudget or the caller's ctx.Err()) and
// the last attempt's error.
type stopError struct {
	reason   error
	last     error
	attempts int
	why      string
}

func (e *stopError) Error() string {
	return fmt.Sprintf("%v after %d attempt(s) (%s): %v", e.reason, e.attempts, e.why, e.last)
}

func (e *stopError) Unwrap() []error { return []error{e.reason, e.last} }

// clean removes the After marker from err so that a stale hint cannot reach
// an outer retrier: an outermost marker is unwrapped; a deeper one is hidden
// behind unmarked, which keeps errors.Is and errors.As working for every
// other error in the chain.
func clean(err error) error {
	for {
		a, ok := err.(*afterError)
		if !ok {
			break
		}
		err = a.err
	}
	if _, ok := hint(err); ok {
		return &unmarked{err: err}
	}
	return err
}

// unmarked wraps an error whose chain holds an After marker. It has no
// Unwrap: its Is and As walk the chain themselves and refuse to find the
// marker.
type unmarked struct{ err error }

func (u *unmarked) Error() string        { return u.err.Error() }
func (u *unmarked) Is(target error) bool { return errors.Is(u.err, target) }
func (u *unmarked) As(target any) bool {
	if _, ok := target.(**afterError); ok {
		return false
	}
	return errors.As(u.err, target)
}
