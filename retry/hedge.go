package retry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// HedgeConfig configures Hedge.
type HedgeConfig struct {
	// Delay is the wait between the start of one attempt and the next; zero
	// starts every attempt at once. "The Tail at Scale" (Dean & Barroso,
	// CACM 2013) suggests about the 95th-percentile latency of the call. It
	// must be >= 0.
	Delay time.Duration
	// MaxHedges is the number of extra attempts; zero means 1. It must be
	// >= 0 and at most 100.
	MaxHedges int
	// Budget, if not nil, must allow each extra attempt (gRFC A6 throttles
	// hedges like retries) and is charged with failures and credited with
	// successes. Outcomes of attempts cancelled by Hedge are not recorded.
	Budget *Budget
}

type hedgeResult[T any] struct {
	v     T
	err   error
	index int
}

// Hedge runs fn, and while no attempt has succeeded starts another every
// Delay, up to MaxHedges extra attempts. The first success wins: Hedge
// cancels the context of the other attempts and returns the winner's value.
// Hedge returns only after every attempt it started has returned, so no
// goroutine outlives the call.
//
// If every attempt fails, Hedge returns the error of the first-started
// attempt (it has had the longest time to produce a meaningful answer). If
// ctx ends first, it stops starting attempts and returns an error matching
// ctx.Err() and that first error. Invalid cfg returns an error naming the
// field without calling fn.
func Hedge[T any](ctx context.Context, cfg HedgeConfig, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := cfg.validate(); err != nil {
		return zero, err
	}
	if cfg.MaxHedges == 0 {
		cfg.MaxHedges = 1
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan hedgeResult[T], cfg.MaxHedges+1)
	start := func(i int) {
		go func() {
			v, err := fn(hctx)
			results <- hedgeResult[T]{v: v, err: err, index: i}
		}()
	}

	timer := time.NewTimer(cfg.Delay)
	defer timer.Stop()
	start(0)
	started, finished := 1, 0
	var (
		won      bool
		winner   T
		firstErr error
		stopped  bool // no more attempts: ctx ended or budget refused
	)
	for finished < started || (!won && !stopped && started <= cfg.MaxHedges) {
		var tick <-chan time.Time
		if !won && !stopped && started <= cfg.MaxHedges {
			tick = timer.C
		}
		done := ctx.Done()
		if stopped || won {
			done = nil
		}
		select {
		case res := <-results:
			finished++
			switch {
			case res.err == nil && !won:
				won, winner = true, res.v
				cancel()
				if cfg.Budget != nil {
					cfg.Budget.Success()
				}
			case res.err != nil && !won && ctx.Err() == nil:
				if cfg.Budget != nil {
					cfg.Budget.Failure()
				}
			}
			if res.index == 0 {
				firstErr = res.err
			}
		case <-tick:
			if cfg.Budget != nil && !cfg.Budget.AllowRetry() {
				stopped = true
				continue
			}
			start(started)
			started++
			timer.Reset(cfg.Delay)
		case <-done:
			stopped = true
		}
	}
	if won {
		return winner, nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(firstErr, cerr) {
		return zero, &stopError{reason: cerr, last: firstErr, attempts: started, why: "context ended while hedging"}
	}
	return zero, firstErr
}

func (c HedgeConfig) validate() error {
	if c.Delay < 0 {
		return fmt.Errorf("retry: HedgeConfig.Delay %v must be >= 0", c.Delay)
	}
	if c.MaxHedges < 0 || c.MaxHedges > 100 {
		return fmt.Errorf("retry: HedgeConfig.MaxHedges %d outside [0, 100]", c.MaxHedges)
	}
	return nil
}
