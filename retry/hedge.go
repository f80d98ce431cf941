package retry

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/internal/observe"
)

// HedgeConfig configures Hedge, HedgeDiscard and NewHedgeTransport.
type HedgeConfig struct {
	// Delay is the wait between the start of one attempt and the next; zero
	// starts every attempt at once. "The Tail at Scale" (Dean & Barroso,
	// CACM 2013, https://research.google/pubs/the-tail-at-scale/) suggests
	// about the 95th-percentile latency of the call. It must be >= 0.
	Delay time.Duration
	// MaxHedges is the number of extra attempts; zero means 1. It must lie
	// in [0, 100].
	MaxHedges int
	// Budget, if not nil, must allow each extra attempt (gRFC A6 throttles
	// hedges like retries) and is told of every attempt's outcome as a
	// Retrier tells it (see Budget). Attempts that Hedge cancelled and
	// local rejections are not reported. A nil *TokenBudget means none.
	Budget Budget
	// Name identifies the hedged call in its events; it may be empty.
	Name string
	// Observer, if not nil, receives the hedged call's events (see Event):
	// each hedge started (EventHedge), a hedge that won (EventHedgeWon), a
	// hedge the Budget refused, and the end of the call (EventSuccess,
	// EventFailure), on the calling goroutine, in order, under no lock. A
	// panic in it is recovered and dropped (Hedge keeps no Stats).
	Observer func(Event)
}

func (c HedgeConfig) validate() error {
	if c.Delay < 0 {
		return configErrorf("HedgeConfig.Delay %v negative", c.Delay)
	}
	if c.MaxHedges < 0 || c.MaxHedges > 100 {
		return configErrorf("HedgeConfig.MaxHedges %d outside [0, 100]", c.MaxHedges)
	}
	return nil
}

// normalize fills the defaults of a valid c.
func (c HedgeConfig) normalize() HedgeConfig {
	if c.MaxHedges == 0 {
		c.MaxHedges = 1
	}
	if isNilTokenBudget(c.Budget) {
		c.Budget = nil
	}
	return c
}

// Hedge runs fn, and while no attempt has succeeded starts another every
// Delay, up to MaxHedges extra attempts (the hedged requests of Dean &
// Barroso, "The Tail at Scale"). The first success wins: Hedge cancels the
// context of the other attempts and returns the winner's value. Hedge
// returns only after every attempt it started has returned, so no goroutine
// outlives the call.
//
// If every attempt fails, Hedge returns the zero T and the error of the
// first-started attempt (it has had the longest time to produce a
// meaningful answer). If ctx ends first, it stops starting attempts and
// returns an error matching ctx.Err(), context.Cause(ctx) and that first
// error. Invalid cfg returns an error matching ErrInvalidConfig without
// calling fn.
//
// The values of the attempts that lost are dropped. When T holds a resource
// (a connection, an *http.Response whose body must be closed) use
// HedgeDiscard, or NewHedgeTransport for HTTP requests.
func Hedge[T any](ctx context.Context, cfg HedgeConfig, fn func(context.Context) (T, error)) (T, error) {
	return HedgeDiscard(ctx, cfg, fn, nil)
}

// HedgeDiscard is Hedge for values that hold a resource: discard, if not
// nil, receives every value an attempt returned that HedgeDiscard does not
// return — a later success that lost, and the value returned with each
// failed attempt's error (often the zero T: check for it). It is called on
// the calling goroutine, one value at a time, and every call has returned
// before HedgeDiscard does.
func HedgeDiscard[T any](ctx context.Context, cfg HedgeConfig, fn func(context.Context) (T, error), discard func(T)) (T, error) {
	var zero T
	if err := cfg.validate(); err != nil {
		return zero, err
	}
	h := hedge[T]{cfg: cfg.normalize(), discard: discard,
		fn: func(ctx context.Context, _ int) (T, error) { return fn(ctx) }}
	v, cancel, err := h.run(ctx)
	cancel()
	if err != nil {
		h.drop(v)
		return zero, err
	}
	return v, nil
}

// hedge is one hedged call: Hedge over fn, and the HTTP transport over
// RoundTrip. Every attempt has its own context, so the winner's stays alive
// after the others are cancelled (the transport ends it when the response
// body is done).
type hedge[T any] struct {
	cfg     HedgeConfig
	fn      func(ctx context.Context, i int) (T, error) // attempt i, 0 first; an error loses
	discard func(T)                                     // receives every value not returned; nil: drop them
	req     request                                     // tags the events of a HedgeTransport
}

// emit delivers e to cfg.Observer, which is not nil, recovering a panic.
func (h *hedge[T]) emit(e Event) {
	e.Name, e.Method, e.Host = h.cfg.Name, h.req.method, h.req.host
	o := observe.New(h.cfg.Observer)
	o.Emit(e)
}

func (h *hedge[T]) drop(v T) {
	if h.discard != nil {
		h.discard(v)
	}
}

type hedgeResult[T any] struct {
	v     T
	err   error
	index int
}

// run returns the winner's value, or when every attempt failed the
// first-started attempt's value and error (the error matches ctx.Err() and
// its cause if ctx ended first), with the cancel of that attempt's context:
// the caller calls it once it is done with the value. Every attempt has
// returned, and every other value has been discarded, when run returns.
func (h *hedge[T]) run(ctx context.Context) (v T, cancel context.CancelFunc, err error) {
	n := h.cfg.MaxHedges + 1
	results := make(chan hedgeResult[T], n)
	cancels := make([]context.CancelFunc, 0, n)
	start := func(i int) {
		actx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		go func() {
			v, err := h.fn(actx, i)
			results <- hedgeResult[T]{v: v, err: err, index: i}
		}()
	}
	budget := h.cfg.Budget

	timer := time.NewTimer(h.cfg.Delay)
	defer timer.Stop()
	start(0)
	started, finished := 1, 0
	winner := -1
	var (
		won      T
		first    hedgeResult[T] // attempt 0, once it lost: the answer if all lose
		gotFirst bool
		stopped  bool // no more attempts: ctx ended or the budget refused
	)
	for finished < started || (winner < 0 && !stopped && started < n) {
		var tick <-chan time.Time
		if winner < 0 && !stopped && started < n {
			tick = timer.C
		}
		done := ctx.Done()
		if stopped || winner >= 0 {
			done = nil
		}
		select {
		case res := <-results:
			finished++
			if winner < 0 && res.err == nil {
				winner, won = res.index, res.v
				for i, c := range cancels {
					if i != winner {
						c()
					}
				}
				if budget != nil {
					budget.Success()
				}
				if winner > 0 && h.cfg.Observer != nil {
					h.emit(Event{Kind: EventHedgeWon, Attempt: winner + 1})
				}
				continue
			}
			// An attempt cancelled by a winner or by the caller says nothing
			// about the dependency, nor does a local rejection.
			if winner < 0 && ctx.Err() == nil && budget != nil && !errors.Is(res.err, bulwark.ErrNotAttempted) {
				budget.Failure()
			}
			if res.index == 0 && winner < 0 {
				first, gotFirst = res, true // its context stays alive: it may be the answer
				continue
			}
			cancels[res.index]()
			h.drop(res.v)
		case <-tick:
			if budget != nil && !budget.AllowRetry() {
				stopped = true
				if h.cfg.Observer != nil {
					h.emit(Event{Kind: EventBudgetRefused, Attempt: started})
				}
				continue
			}
			start(started)
			started++
			if h.cfg.Observer != nil {
				h.emit(Event{Kind: EventHedge, Attempt: started, Delay: h.cfg.Delay})
			}
			timer.Reset(h.cfg.Delay)
		case <-done:
			stopped = true
		}
	}
	if winner >= 0 {
		if gotFirst {
			h.drop(first.v) // attempt 0 lost before the winner won
		}
		if h.cfg.Observer != nil {
			h.emit(Event{Kind: EventSuccess, Attempt: started})
		}
		return won, cancels[winner], nil
	}
	err = first.err
	if ctx.Err() != nil && !ctxMatches(ctx, err) {
		err = ctxStop(ctx, err, started, "context ended while hedging")
	}
	if h.cfg.Observer != nil {
		h.emit(Event{Kind: EventFailure, Attempt: started, Err: err})
	}
	return first.v, cancels[0], err
}
