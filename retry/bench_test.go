package retry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/retry"
)

var sink time.Duration

func BenchmarkDelay(b *testing.B) {
	strategies := []struct {
		name string
		b    retry.Backoff
	}{
		{"constant", retry.Constant(time.Second)},
		{"none", retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: retry.NoJitter}},
		{"full", retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: retry.FullJitter}},
		{"equal", retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: retry.EqualJitter}},
		{"decorrelated", retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: retry.DecorrelatedJitter}},
		{"full-multiplier1.5", retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second, Multiplier: 1.5}},
	}
	for _, s := range strategies {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			var prev time.Duration
			for i := 0; b.Loop(); i++ {
				prev = s.b.Delay(i%10+1, prev)
			}
			sink = prev
		})
	}
	b.Run("full-parallel", func(b *testing.B) {
		// Every P draws from the one package-wide generator at once.
		e := retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var prev time.Duration
			for i := 0; pb.Next(); i++ {
				prev = e.Delay(i%10+1, prev)
			}
			_ = prev
		})
	})
}

// BenchmarkExponentialDelay calls Delay on the concrete type, as a caller
// holding an Exponential does: no interface dispatch. The full-jitter rows
// exist to catch an inlining regression: the doubling rule is meant to
// inline into Delay, and if a change makes it too costly for the inliner the
// "full/doubling" row slows by a call while "full/capped" (the slow path,
// always a call) does not.
func BenchmarkExponentialDelay(b *testing.B) {
	base := retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}
	tests := []struct {
		name    string
		jitter  retry.Jitter
		mult    float64
		attempt int
	}{
		{"full/doubling", retry.FullJitter, 0, 3},
		{"full/capped", retry.FullJitter, 0, 40},
		{"full/multiplier=1.5", retry.FullJitter, 1.5, 3},
		{"none/doubling", retry.NoJitter, 0, 3},
		{"equal/doubling", retry.EqualJitter, 0, 3},
		{"decorrelated", retry.DecorrelatedJitter, 0, 3},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			e := base
			e.Jitter, e.Multiplier = tt.jitter, tt.mult
			b.ReportAllocs()
			var d time.Duration
			for b.Loop() {
				d += e.Delay(tt.attempt, d&0xffff)
			}
			sink = d
		})
	}
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	b.Run("success", func(b *testing.B) {
		r, _ := retry.New(retry.Config{})
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Do(ctx, ok)
		}
	})
	b.Run("success/observed", func(b *testing.B) {
		// The cost of Config.Observer: one EventSuccess per call, to an
		// observer that only counts.
		var events int
		r, _ := retry.New(retry.Config{Observer: func(retry.Event) { events++ }})
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Do(ctx, ok)
		}
	})
	b.Run("success-budget", func(b *testing.B) {
		budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		r, _ := retry.New(retry.Config{Budget: budget})
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Do(ctx, ok)
		}
	})
	b.Run("success-attempt-timeout", func(b *testing.B) {
		// A context and a timer per attempt: the cost of Config.AttemptTimeout.
		r, _ := retry.New(retry.Config{AttemptTimeout: time.Second})
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Do(ctx, ok)
		}
	})
	b.Run("fail-twice", func(b *testing.B) {
		// The slow path without waiting: two failures and Constant(0).
		r, _ := retry.New(retry.Config{Backoff: retry.Constant(0)})
		errFail := errors.New("fail")
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			_ = r.Do(ctx, func(context.Context) error {
				if n++; n < 3 {
					return errFail
				}
				return nil
			})
		}
	})
	b.Run("fail-twice/observed", func(b *testing.B) {
		// Two EventRetry and one EventSuccess per call.
		var events int
		r, _ := retry.New(retry.Config{Backoff: retry.Constant(0), Observer: func(retry.Event) { events++ }})
		errFail := errors.New("fail")
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			_ = r.Do(ctx, func(context.Context) error {
				if n++; n < 3 {
					return errFail
				}
				return nil
			})
		}
	})
	b.Run("local-rejection", func(b *testing.B) {
		// One local rejection, retried at once whatever the backoff says.
		budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		r, _ := retry.New(retry.Config{Budget: budget, Backoff: retry.Constant(time.Hour)})
		errLocal := fmt.Errorf("open: %w", bulwark.ErrNotAttempted)
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			_ = r.Do(ctx, func(context.Context) error {
				if n++; n < 2 {
					return errLocal
				}
				return nil
			})
		}
	})
	b.Run("success-parallel", func(b *testing.B) {
		budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		r, _ := retry.New(retry.Config{Budget: budget})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = r.Do(ctx, ok)
			}
		})
	})
}

func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	r, _ := retry.New(retry.Config{})
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = retry.Call(ctx, r, fn)
	}
}

func BenchmarkBudget(b *testing.B) {
	b.Run("success-full", func(b *testing.B) {
		budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				budget.Success()
			}
		})
	})
	b.Run("mixed", func(b *testing.B) {
		// 1 failure in 10: the bucket moves, so CAS contention is real.
		budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if i++; i%10 == 0 {
					budget.Failure()
				} else {
					budget.Success()
				}
				_ = budget.AllowRetry()
			}
		})
	})
}
