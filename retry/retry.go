package retry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/internal/observe"
	"github.com/bulwark-go/bulwark/internal/stripe"
)

// Config configures a Retrier. Every zero field has a documented default.
type Config struct {
	// MaxAttempts is the total number of attempts, counting the first and
	// counting local rejections (retried at once, see Do); zero means 3 (the "three tries" per request
	// of the Google SRE book, ch. 21). It must be >= 0; 1 disables retries.
	MaxAttempts int

	// MaxElapsed bounds the time spent retrying; zero means no bound. The
	// clock starts at the first failure, not at the call: a call that
	// succeeds at once never reads the clock. A retry is not started if its
	// wait (backoff or server hint, whichever is longer) would end later
	// than MaxElapsed after the first failure; the call then ends at once
	// with ErrExhausted. It must be >= 0.
	MaxElapsed time.Duration

	// AttemptTimeout gives each attempt its own deadline, AttemptTimeout
	// after the attempt starts and never later than the caller's; zero
	// means none. An attempt that runs out of it fails with an error
	// matching ErrAttemptTimeout (and context.DeadlineExceeded), which is
	// retried like any other failure. A Transport applies it to every
	// attempt too, covering the response body (see WithAttemptTimeout). It
	// costs a context and a timer per attempt. It must be >= 0.
	AttemptTimeout time.Duration

	// Backoff computes the wait between attempts; its Cap also bounds a
	// server hint (After). Nil means
	// Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second,
	// Multiplier: 2, Jitter: FullJitter}.
	Backoff Backoff

	// Retryable reports whether an error is worth another attempt; nil means
	// every error. Either way, Permanent errors and the caller's own context
	// errors (fn returned after ctx ended) are never retried.
	Retryable func(error) bool

	// Budget, if not nil, limits retries across calls (see Budget for what
	// is called when); it is typically a *TokenBudget shared by every
	// Retrier that talks to one dependency. A nil *TokenBudget means none.
	Budget Budget

	// Name identifies the Retrier in its events; it may be empty.
	Name string

	// Observer, if not nil, receives the Retrier's events (see Event): the
	// end of every call (EventSuccess, EventFailure), each retry before its
	// wait (EventRetry) and each retry the Budget refused. It is called on
	// the calling goroutine, in attempt order, under no lock, by Do, Call
	// and the Transport; a panic in it is recovered and counted in
	// Stats.ObserverPanics. Nil (the default) costs the call one branch.
	Observer func(Event)
}

// Stats are a Retrier's cumulative counters.
type Stats struct {
	Calls         int64 // calls of Do, Call and retryable transport requests
	Attempts      int64 // attempts made: Calls + Retries
	Retries       int64 // attempts after the first
	NotAttempted  int64 // attempts refused locally (bulwark.ErrNotAttempted) by a guard below
	BudgetSkipped int64 // calls that stopped because the Budget refused a retry
	Exhausted     int64 // calls that ended with ErrExhausted
	// ObserverPanics counts panics of Config.Observer, recovered.
	ObserverPanics int64
}

// Retrier runs a function until it succeeds, fails permanently or runs out
// of attempts, waiting a Backoff delay between attempts. Create one with
// New; one Retrier per dependency serves every goroutine.
//
// A Retrier is safe for concurrent use.
type Retrier struct {
	// Configuration, read-only after New, and atomic counters: nothing to
	// lock. A call that succeeds at once costs fn, a context check and one
	// or two uncontended atomic operations (no clock read, no timer, no
	// allocation).
	maxAttempts    int
	maxElapsed     time.Duration
	attemptTimeout time.Duration
	backoff        Backoff
	retryable      func(error) bool
	budget         Budget
	tokens         *TokenBudget // budget, when it is one: called without dispatch on the fast path
	name           string
	obs            observer // no Observer: not Enabled

	// calls is added to by every call, so it is striped: a Retrier shared
	// by the goroutines of a busy service would otherwise bounce one cache
	// line between every core. The others count only retries and failures.
	calls                                           stripe.Counter
	retries, notAttempted, budgetSkipped, exhausted atomic.Int64
}

var defaultBackoff = Exponential{Base: 100 * time.Millisecond, Max: DefaultMax, Multiplier: 2}

// New returns a Retrier, or an error matching ErrInvalidConfig that names
// the first invalid field.
func New(cfg Config) (*Retrier, error) {
	switch {
	case cfg.MaxAttempts < 0:
		return nil, configErrorf("Config.MaxAttempts %d negative", cfg.MaxAttempts)
	case cfg.MaxElapsed < 0:
		return nil, configErrorf("Config.MaxElapsed %v negative", cfg.MaxElapsed)
	case cfg.AttemptTimeout < 0:
		return nil, configErrorf("Config.AttemptTimeout %v negative", cfg.AttemptTimeout)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff == nil {
		cfg.Backoff = defaultBackoff
	}
	if v, ok := cfg.Backoff.(interface{ validate(string) error }); ok {
		if err := v.validate("Config.Backoff "); err != nil {
			return nil, err
		}
	}
	if isNilTokenBudget(cfg.Budget) {
		cfg.Budget = nil
	}
	tokens, _ := cfg.Budget.(*TokenBudget)
	r := &Retrier{
		tokens:         tokens,
		maxAttempts:    cfg.MaxAttempts,
		maxElapsed:     cfg.MaxElapsed,
		attemptTimeout: cfg.AttemptTimeout,
		backoff:        cfg.Backoff,
		retryable:      cfg.Retryable,
		budget:         cfg.Budget,
		name:           cfg.Name,
	}
	r.calls.Init()
	r.obs = observe.New(cfg.Observer)
	return r, nil
}

// Stats returns the Retrier's counters. Each is read atomically; the set is
// not a snapshot of one instant.
func (r *Retrier) Stats() Stats {
	calls, retries := int64(r.calls.Sum()), r.retries.Load()
	return Stats{
		Calls:         calls,
		Attempts:      calls + retries,
		Retries:       retries,
		NotAttempted:  r.notAttempted.Load(),
		BudgetSkipped: r.budgetSkipped.Load(),
		Exhausted:     r.exhausted.Load(),

		ObserverPanics: r.obs.Panics(),
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
//   - once ctx has ended (before the first attempt, during one or during a
//     wait), an error matching ctx.Err(), context.Cause(ctx) and the last
//     error, if any; fn's own error unchanged if it already matches both.
//     Do returns promptly, and checks ctx before the first attempt.
//
// An attempt refused locally by a guard (an error matching
// bulwark.ErrNotAttempted) is retried without a backoff wait and without
// touching the Budget; it counts toward MaxAttempts. The retry is at once,
// unless the rejection names a future moment at which the guard admits
// again (bulwark.RetryAt): Do then returns at once an error matching
// ErrExhausted and the rejection, whose RetryAt tells the caller when.
//
// fn receives ctx, or with Config.AttemptTimeout a context derived from it.
func (r *Retrier) Do(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Err() != nil {
		return ctxStop(ctx, nil, 0, "")
	}
	r.calls.Add()
	var err error
	if r.attemptTimeout == 0 {
		err = fn(ctx)
	} else {
		err = within(ctx, r.attemptTimeout, fn)
	}
	if err == nil {
		if r.budget != nil {
			r.success()
		}
		if r.obs.Enabled() {
			r.emit(request{}, Event{Kind: EventSuccess, Attempt: 1})
		}
		return nil
	}
	return r.retry(ctx, fn, err, nil, r.attemptTimeout, request{})
}

// Call is Do for a function that returns a value: it returns fn's value on
// success and the zero T with Do's error otherwise.
func Call[T any](ctx context.Context, r *Retrier, fn func(context.Context) (T, error)) (T, error) {
	var v T
	if ctx.Err() != nil {
		return v, ctxStop(ctx, nil, 0, "")
	}
	r.calls.Add()
	attempt := func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	}
	var err error
	if r.attemptTimeout == 0 {
		v, err = fn(ctx)
	} else {
		err = within(ctx, r.attemptTimeout, attempt)
	}
	if err == nil {
		if r.budget != nil {
			r.success()
		}
		if r.obs.Enabled() {
			r.emit(request{}, Event{Kind: EventSuccess, Attempt: 1})
		}
		return v, nil
	}
	err = r.retry(ctx, attempt, err, nil, r.attemptTimeout, request{})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// within runs fn under a deadline d from now, and marks its error with
// ErrAttemptTimeout when that deadline (not the caller's) ended it.
func within(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, d)
	err := fn(actx)
	timedOut := err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded)
	cancel()
	if timedOut {
		return attemptTimeout(d, err)
	}
	return err
}

func attemptTimeout(d time.Duration, err error) error {
	return fmt.Errorf("%w after %v: %w", ErrAttemptTimeout, d, err)
}

// retry is the slow path of Do: err is the first attempt's error. discard, if
// not nil, runs once a retry is decided, before the wait (the transport
// closes the previous response there). Each retry runs fn under timeout
// (0: none). req tags the events of a Transport's request.
func (r *Retrier) retry(ctx context.Context, fn func(context.Context) error, err error, discard func(), timeout time.Duration, req request) error {
	var firstFailure time.Time
	if r.maxElapsed > 0 {
		firstFailure = time.Now()
	}
	var prev time.Duration
	failures := 0 // failed attempts that reached the dependency, before err
	for attempt := 1; ; attempt++ {
		w, stop := r.next(ctx, attempt, failures, err, prev, firstFailure, req)
		if stop != nil {
			if r.obs.Enabled() {
				r.emit(req, Event{Kind: EventFailure, Attempt: attempt, Err: stop})
			}
			return stop
		}
		if !w.local {
			failures++
			prev = w.backoff
		}
		if discard != nil {
			discard()
		}
		if r.obs.Enabled() {
			cause := err
			if w.marked {
				cause = clean(err)
			}
			r.emit(req, Event{Kind: EventRetry, Attempt: attempt, Err: cause, Delay: w.total, NotAttempted: w.local})
		}
		if serr := sleep(ctx, w.total); serr != nil {
			stop = ctxStop(ctx, clean(err), attempt, "context ended while waiting")
			if r.obs.Enabled() {
				r.emit(req, Event{Kind: EventFailure, Attempt: attempt, Err: stop})
			}
			return stop
		}
		r.retries.Add(1)
		if timeout == 0 {
			err = fn(ctx)
		} else {
			err = within(ctx, timeout, fn)
		}
		if err == nil {
			if r.budget != nil {
				r.success()
			}
			if r.obs.Enabled() {
				r.emit(req, Event{Kind: EventSuccess, Attempt: attempt + 1})
			}
			return nil
		}
	}
}

// emit delivers e, tagged with the Retrier's name and req, to the observer,
// which is not nil.
func (r *Retrier) emit(req request, e Event) {
	e.Name, e.Method, e.Host = r.name, req.method, req.host
	r.obs.Emit(e)
}

// waitTime is what follows a failed attempt that will be retried.
type waitTime struct {
	backoff time.Duration // the Backoff's delay: prev for the next one
	total   time.Duration // the wait: backoff, or a longer server hint
	local   bool          // a local rejection: retried at once, budget untouched
	marked  bool          // the error may carry an After marker (clean it before it leaves)
}

// next decides what follows failed attempt number attempt (failures real
// failures came before it): a wait, or the error to return.
func (r *Retrier) next(ctx context.Context, attempt, failures int, err error, prev time.Duration, firstFailure time.Time, req request) (waitTime, error) {
	var p *permanentError
	if errors.As(err, &p) {
		return waitTime{}, clean(p.err)
	}
	if ctx.Err() != nil {
		return waitTime{}, ctxStop(ctx, clean(err), attempt, "context ended")
	}
	if r.retryable != nil && !r.retryable(err) {
		return waitTime{}, clean(err)
	}
	w := waitTime{local: errors.Is(err, bulwark.ErrNotAttempted)}
	w.marked = w.local // not looked for: hint is asked only of real failures
	if w.local {
		r.notAttempted.Add(1)
	} else if r.budget != nil {
		r.budget.Failure()
	}
	if attempt >= r.maxAttempts {
		why := "MaxAttempts reached"
		if w.local && failures == 0 {
			why = "MaxAttempts reached, every attempt refused locally"
		}
		return waitTime{}, r.exhaust(err, attempt, why)
	}
	if w.local {
		// A guard that names a future moment when it admits again would
		// only repeat its refusal now, and waiting for it would spend the
		// caller's time on a guess (an open breaker's end admits a probe,
		// not a success): the call ends now, failing fast, and the error's
		// RetryAt tells the caller when to come back. (Below a balancing
		// Transport, such a refusal means every node refuses: the balancer
		// has already tried the others.)
		if at, ok := bulwark.RetryAt(err); ok && time.Until(at) > 0 {
			return waitTime{}, r.exhaust(err, attempt, "guard refuses until a later moment")
		}
	} else {
		w.backoff = r.backoff.Delay(failures+1, prev)
		w.total = w.backoff
		if h, ok := hint(err); ok {
			w.total = max(w.total, min(h, r.backoff.Cap()))
			w.marked = true
		}
	}
	// Compared as remaining time, never as a sum: a wait near the largest
	// Duration (a huge Retry-After under a huge Cap) cannot overflow.
	if r.maxElapsed > 0 && w.total > r.maxElapsed-time.Since(firstFailure) {
		return waitTime{}, r.exhaust(err, attempt, "MaxElapsed reached")
	}
	if dl, ok := ctx.Deadline(); ok && w.total >= time.Until(dl) {
		return waitTime{}, r.exhaust(err, attempt, "context deadline before next attempt")
	}
	// Last, so that a budget that counts admitted retries as spent (see
	// Budget) is asked only when the retry will be made.
	if !w.local && r.budget != nil && !r.budget.AllowRetry() {
		r.budgetSkipped.Add(1)
		if r.obs.Enabled() {
			r.emit(req, Event{Kind: EventBudgetRefused, Attempt: attempt, Err: clean(err)})
		}
		return waitTime{}, &stopError{reason: ErrBudget, last: clean(err), attempts: attempt, why: "budget refused the retry"}
	}
	return w, nil
}

// success reports a successful attempt to the budget, which is not nil.
func (r *Retrier) success() {
	if r.tokens != nil {
		r.tokens.Success()
		return
	}
	r.budget.Success()
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
