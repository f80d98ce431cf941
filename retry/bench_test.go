package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
	b.Run("full-direct", func(b *testing.B) {
		// The concrete type, as a retry loop holding an Exponential calls it:
		// no interface dispatch, no attempt arithmetic in the loop.
		e := retry.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}
		b.ReportAllocs()
		var d time.Duration
		for b.Loop() {
			d += e.Delay(3, 0)
		}
		sink = d
	})
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
	b.Run("success-budget", func(b *testing.B) {
		budget, _ := retry.NewBudget(retry.BudgetConfig{})
		r, _ := retry.New(retry.Config{Budget: budget})
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
	b.Run("success-parallel", func(b *testing.B) {
		budget, _ := retry.NewBudget(retry.BudgetConfig{})
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
		budget, _ := retry.NewBudget(retry.BudgetConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				budget.Success()
			}
		})
	})
	b.Run("mixed", func(b *testing.B) {
		// 1 failure in 10: the bucket moves, so CAS contention is real.
		budget, _ := retry.NewBudget(retry.BudgetConfig{})
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
