package shard

import (
	"context"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Result is one member's answer in a scatter-gather.
type Result[R any] struct {
	Member string
	Value  R
	Err    error
}

// Gather calls fn once for every member with at most limit calls running at a
// time (limit ≤ 0 means no limit) and returns one Result per member, in the
// order of members. A failing member does not stop the others. If ctx ends,
// calls that have not started are not made: their Result.Err is ctx.Err(). Gather
// returns only after every call it started has returned, so no goroutine
// outlives it; a call that ignores ctx delays it.
func Gather[R any](ctx context.Context, members []string, limit int,
	fn func(ctx context.Context, member string) (R, error)) []Result[R] {
	results := make([]Result[R], len(members))
	var g errgroup.Group
	g.SetLimit(groupLimit(limit))
	for i, m := range members {
		results[i].Member = m
		if err := ctx.Err(); err != nil {
			results[i].Err = err
			continue
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				results[i].Err = err
				return nil
			}
			results[i].Value, results[i].Err = fn(ctx, m)
			return nil
		})
	}
	_ = g.Wait() // every function returns nil; errors live in results
	return results
}

// GatherAll is Gather that stops at the first error: it cancels the context of
// the calls still running, makes no new calls, and returns that error wrapped
// with the member's name (or ctx.Err() if the caller's ctx ended first). On
// success it returns the values in the order of members.
func GatherAll[R any](ctx context.Context, members []string, limit int,
	fn func(ctx context.Context, member string) (R, error)) ([]R, error) {
	values := make([]R, len(members))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(groupLimit(limit))
	var skipped atomic.Bool // some member was never called
	for i, m := range members {
		if gctx.Err() != nil {
			skipped.Store(true)
			break
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				skipped.Store(true)
				return nil // the error that cancelled gctx is already recorded
			}
			v, err := fn(gctx, m)
			if err != nil {
				return fmt.Errorf("shard: gather from %q: %w", m, err)
			}
			values[i] = v
			return nil
		})
	}
	err := g.Wait()
	switch {
	case ctx.Err() != nil && (err != nil || skipped.Load()):
		return nil, ctx.Err() // the caller gave up; not a member's failure
	case err != nil:
		return nil, err
	}
	return values, nil
}

// groupLimit maps "no limit" (≤ 0) to errgroup's negative limit; errgroup
// would read 0 as "no goroutine may run".
func groupLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}
