package retry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Config configures a Retrier. Every zero field has a documented default.
type Config struct {
	// MaxAttempts is the total number of attempts, counting the first; zero
	// means 3 (the "three tries" per request of the Google SRE book, ch. 21).
	// It must be >= 0; 1 disables retries.
	MaxAttempts int

	// MaxElapsed bounds the time spent retrying; zero means no bound. The
	// clock starts at the first failure, not at the call: a call that
	// succeeds at once never reads the clock. A retry is not started if its
	// backoff would end later than MaxElapsed after the first failure.
	MaxElapsed time.Duration

	// Backoff computes the wait between attempts; nil means
	// Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second,
	// Multiplier: 2, Jitter: FullJitter}.
	Backoff Backoff

	// Retryable reports whether an error is worth another attempt; nil means
	// every error. Either way, Permanent errors and the caller's own context
	// errors (fn returned ctx's error after ctx ended) are never retried.
	Retryable func(error) bool

	// Budget, if not nil, is charged for every retryable failure, credited
	// for every success, and consulted before every retry; it is typically
	// shared by every Retrier that talks to one dependency.
	Budget *Budget

	// OnRetry, if not nil, is called before each wait, in attempt order, on
	// the calling goroutine and under no lock.
	OnRetry func(Attempt)
}

// Attempt describes a failed attempt that is about to be retried.
type Attempt struct {
	Number int           // the failed attempt, 1 for the first
	Err    error         // its error
	Delay  time.Duration // the wait before attempt Number+1
}

// Stats are a Retrier's cumulative counters.
type Stats struct {
	Calls         int64 // calls of Do, Call and retryable transport requests
	Attempts      int64 // attempts made: Calls + Retries
	Retries       int64 // attempts after the first
	BudgetSkipped int64 // calls that stopped because the Budget refused a retry
	Exhausted     int64 // calls that ended with ErrExhausted
}

// Retrier runs a function until it succeeds, fails permanently or runs out
// of attempts, waiting a Backoff delay between attempts.
//
// A Retrier is safe for concurrent use; it holds configuration and atomic
// counters only, so one Retrier per dependency serves every goroutine. A call
// that succeeds at once costs one call of fn and one or two uncontended
// atomic operations (no clock read, no timer, no allocation).
type Retrier struct {
	maxAttempts int
	maxElapsed  time.Duration
	backoff     Backoff
	retryable   func(error) bool
	budget      *Budget
	onRetry     func(Attempt)

	calls, retries, budgetSkipped, exhausted atomic.Int64
}

var defaultBackoff = Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2}

// New returns a Retrier, or an error naming the first invalid field.
func New(cfg Config) (*Retrier, error) {
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("retry: Config.MaxAttempts %d must be >= 0", cfg.MaxAttempts)
	}
	if cfg.MaxElapsed < 0 {
		return nil, fmt.Errorf("retry: Config.MaxElapsed %v must be >= 0", cfg.MaxElapsed)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff == nil {
		cfg.Backoff = defaultBackoff
	}
	if v, ok := cfg.Backoff.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			return nil, fmt.Errorf("retry: Config.Backoff: %w", err)
		}
	}
	return &Retrier{
		maxAttempts: cfg.MaxAttempts,
		maxElapsed:  cfg.MaxElapsed,
		backoff:     cfg.Backoff,
		retryable:   cfg.Retryable,
		budget:      cfg.Budget,
		onRetry:     cfg.OnRetry,
	}, nil
}

// Stats returns the Retrier's counters. Each is read atomically; the set is
// not a snapshot of one instant.
func (r *Retrier) Stats() Stats {
	calls, retries := r.calls.Load(), r.retries.Load()
	return Stats{
		Calls:         calls,
		Attempts:      calls + retries,
		Retries:       retries,
		BudgetSkipped: r.budgetSkipped.Load(),
		Exhausted:     r.exhausted.Load(),
	}
}

// Do calls fn until it returns nil, and blocks in between for the backoff
// delay. It returns:
//   - nil on success;
//   - the error itself if it is not retryable, and the plain cause of a
//     Permanent error (neither carries an After marker out);
//   - an error matching ErrExhausted and the last error when attempts,
//     MaxElapsed or the ctx deadline leave no room for another attempt (Do
//     never sleeps past the deadline: it stops at once instead);
//   - an error matching ErrBudget and the last error when the Budget refused
//     the retry;
//   - fn's error unchanged if it is the caller's context error, or an error
//     matching both ctx.Err() and the last error if ctx ended otherwise,
//     e.g. during a wait (Do returns promptly).
//
// fn receives ctx unchanged.
func (r *Retrier) Do(ctx context.Context, fn func(context.Context) error) error {
	r.calls.Add(1)
	err := fn(ctx)
	if err == nil {
		if r.budget != nil {
			r.budget.Success()
		}
		return nil
	}
	return r.retry(ctx, fn, err, nil)
}

// Call is Do for a function that returns a value: it returns fn's value on
// success and the zero T with Do's error otherwise.
func Call[T any](ctx context.Context, r *Retrier, fn func(context.Context) (T, error)) (T, error) {
	r.calls.Add(1)
	v, err := fn(ctx)
	if err == nil {
		if r.budget != nil {
			r.budget.Success()
		}
		return v, nil
	}
	err = r.retry(ctx, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	}, err, nil)
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// retry is the slow path of Do: err is the first attempt's error. discard, if
// not nil, runs once a retry is decided, before the wait (the transport
// closes the previous response there).
func (r *Retrier) retry(ctx context.Context, fn func(context.Context) error, err error, discard func()) error {
	var firstFailure time.Time
	if r.maxElapsed > 0 {
		firstFailure = time.Now()
	}
	var prev time.Duration
	for attempt := 1; ; attempt++ {
		wait, stop := r.next(ctx, attempt, err, prev, firstFailure)
		if stop != nil {
			return stop
		}
		prev = wait.backoff
		if discard != nil {
			discard()
		}
		if r.onRetry != nil {
			r.onRetry(Attempt{Number: attempt, Err: clean(err), Delay: wait.total})
		}
		if serr := sleep(ctx, wait.total); serr != nil {
			return &stopError{reason: serr, last: clean(err), attempts: attempt, why: "context ended while waiting"}
		}
		r.retries.Add(1)
		if err = fn(ctx); err == nil {
			if r.budget != nil {
				r.budget.Success()
			}
			return nil
		}
	}
}

type waitTime struct{ backoff, total time.Duration }

// next decides what follows failed attempt number attempt: a wait, or the
// error to return.
func (r *Retrier) next(ctx context.Context, attempt int, err error, prev time.Duration, firstFailure time.Time) (waitTime, error) {
	var p *permanentError
	if errors.As(err, &p) {
		return waitTime{}, clean(p.err)
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return waitTime{}, clean(err)
		}
		return waitTime{}, &stopError{reason: cerr, last: clean(err), attempts: attempt, why: "context ended"}
	}
	if r.retryable != nil && !r.retryable(err) {
		return waitTime{}, clean(err)
	}
	if r.budget != nil {
		r.budget.Failure()
	}
	if attempt >= r.maxAttempts {
		return waitTime{}, r.exhaust(err, attempt, "MaxAttempts reached")
	}
	if r.budget != nil && !r.budget.AllowRetry() {
		r.budgetSkipped.Add(1)
		return waitTime{}, &stopError{reason: ErrBudget, last: clean(err), attempts: attempt, why: "budget below half"}
	}
	w := waitTime{backoff: r.backoff.Delay(attempt, prev)}
	w.total = w.backoff
	if h, ok := hint(err); ok {
		w.total = max(w.total, min(h, r.backoff.Cap()))
	}
	if r.maxElapsed > 0 && time.Since(firstFailure)+w.total > r.maxElapsed {
		return waitTime{}, r.exhaust(err, attempt, "MaxElapsed reached")
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(w.total).Before(dl) {
		return waitTime{}, r.exhaust(err, attempt, "context deadline before next attempt")
	}
	return w, nil
}

func (r *Retrier) exhaust(err error, attempts int, why string) error {
	r.exhausted.Add(1)
	return &stopError{reason: ErrExhausted, last: clean(err), attempts: attempts, why: why}
}

// sleep waits d or until ctx ends, and returns ctx.Err() in the latter case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
