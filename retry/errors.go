package retry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrExhausted marks the error returned when no further attempt will be
	// made although the last failure was retryable: MaxAttempts reached,
	// MaxElapsed spent, or the context deadline too close for another
	// attempt. The same error also matches the last attempt's error.
	ErrExhausted = errors.New("retry: attempts exhausted")

	// ErrBudget marks the error returned when a retry was skipped because
	// the Budget refused it. The same error also matches the last attempt's
	// error (for the Transport, a *StatusError carrying the response's
	// status and header).
	ErrBudget = errors.New("retry: retry budget exhausted")

	// ErrAttemptTimeout marks the error of an attempt that ran out of its
	// own time (Config.AttemptTimeout, WithAttemptTimeout). Such an error
	// also matches context.DeadlineExceeded, yet it is retried like any
	// other failure: only the caller's own context ending stops the loop.
	ErrAttemptTimeout = errors.New("retry: attempt timed out")

	// ErrInvalidConfig matches every configuration error of this package:
	// from New, NewTokenBudget, Hedge, NewTransport, NewHedgeTransport and
	// their options. The message names the field (or option) and its value,
	// e.g. "retry: Config.MaxAttempts -1 negative".
	ErrInvalidConfig = errors.New("retry: invalid config")
)

// configError is an ErrInvalidConfig whose message names the field and value.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "retry: " + fmt.Sprintf(format, args...)}
}

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
// the caller; the wait still counts against MaxElapsed and the context
// deadline, so a hint longer than either ends the call at once with
// ErrExhausted instead of a wait. A negative d counts as 0. After(nil, d)
// returns nil. The marker survives wrapping (it is found with errors.As)
// and is removed when Do returns the error inside ErrExhausted or ErrBudget.
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

// stopError is what Do returns when it gives up on a retryable error, or
// when the caller's context ended: it matches its reason (ErrExhausted,
// ErrBudget or ctx.Err()), the context's cause if it has its own, and the
// last attempt's error (none if ctx ended before the first attempt).
type stopError struct {
	reason   error
	cause    error // context.Cause, when it differs from reason
	last     error
	attempts int
	why      string
}

func (e *stopError) Error() string {
	var b strings.Builder
	b.WriteString(e.reason.Error())
	if e.cause != nil {
		fmt.Fprintf(&b, " (cause: %v)", e.cause)
	}
	if e.attempts == 0 {
		b.WriteString(" before the first attempt")
	} else {
		fmt.Fprintf(&b, " after %d attempt(s) (%s)", e.attempts, e.why)
	}
	if e.last != nil {
		fmt.Fprintf(&b, ": %v", e.last)
	}
	return b.String()
}

func (e *stopError) Unwrap() []error {
	errs := make([]error, 0, 3)
	errs = append(errs, e.reason)
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.last != nil {
		errs = append(errs, e.last)
	}
	return errs
}

// ctxStop returns what Do reports once the caller's ctx has ended, after
// attempts attempts whose last error was last (nil before the first): an
// error matching ctx.Err(), context.Cause(ctx) and last. When last already
// matches both (fn returned the context's own error) it is returned
// unchanged, and so is a bare ctx.Err() before the first attempt when the
// context has no cause of its own: neither allocates.
func ctxStop(ctx context.Context, last error, attempts int, why string) error {
	cerr, cause := ctx.Err(), context.Cause(ctx)
	if last == nil && cause == cerr {
		return cerr
	}
	if ctxMatches(ctx, last) {
		return last
	}
	e := &stopError{reason: cerr, last: last, attempts: attempts, why: why}
	if cause != cerr {
		e.cause = cause
	}
	return e
}

// ctxMatches reports whether err matches both ctx.Err() and
// context.Cause(ctx) of an ended ctx.
func ctxMatches(ctx context.Context, err error) bool {
	return err != nil && errors.Is(err, ctx.Err()) && errors.Is(err, context.Cause(ctx))
}

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
