// Package breakerbench compares bulwark's breaker with peer circuit breakers
// on the closed-state hot path: one successful call through the breaker.
package breakerbench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	eapache "github.com/eapache/go-resiliency/breaker"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"

	"github.com/bulwark-go/bulwark/breaker"
)

// call is one protected call through a breaker; every variant does the same
// work: ask, run a no-op, record a success.
type call func()

func libs() []struct {
	name string
	new  func() call
} {
	ctx := context.Background()
	noop := func(context.Context) error { return nil }
	return []struct {
		name string
		new  func() call
	}{
		{"bulwark-count", func() call {
			b, _ := breaker.New(breaker.Config{WindowSize: 100})
			return func() { _ = b.Do(ctx, noop) }
		}},
		{"bulwark-count-observed", func() call {
			// The cost of an observer: every success is an event.
			var events atomic.Int64
			b, _ := breaker.New(breaker.Config{WindowSize: 100,
				Observer: func(breaker.Event) { events.Add(1) }})
			return func() { _ = b.Do(ctx, noop) }
		}},
		{"bulwark-count-twostep", func() call {
			b, _ := breaker.New(breaker.Config{WindowSize: 100})
			return func() {
				p, _ := b.Allow()
				p.Done(nil)
			}
		}},
		{"bulwark-consecutive", func() call {
			// gobreaker's default rule: trip after more than 5 failures in a row.
			b, _ := breaker.New(breaker.Config{ConsecutiveFailures: 6})
			return func() { _ = b.Do(ctx, noop) }
		}},
		{"bulwark-time", func() call {
			b, _ := breaker.New(breaker.Config{WindowTime: 10 * time.Second})
			return func() { _ = b.Do(ctx, noop) }
		}},
		{"gobreaker", func() call {
			cb := gobreaker.NewCircuitBreaker[any](gobreaker.Settings{Name: "bench"})
			fn := func() (any, error) { return nil, nil }
			return func() { _, _ = cb.Execute(fn) }
		}},
		{"failsafe-twostep", func() call {
			cb := circuitbreaker.NewBuilder[any]().WithFailureThresholdRatio(50, 100).Build()
			return func() {
				if cb.TryAcquirePermit() {
					cb.RecordSuccess()
				}
			}
		}},
		{"failsafe-get", func() call {
			cb := circuitbreaker.NewBuilder[any]().WithFailureThresholdRatio(50, 100).Build()
			ex := failsafe.With[any](cb)
			fn := func() (any, error) { return nil, nil }
			return func() { _, _ = ex.Get(fn) }
		}},
		{"eapache", func() call {
			b := eapache.New(50, 1, 5*time.Second)
			fn := func() error { return nil }
			return func() { _ = b.Run(fn) }
		}},
	}
}

// BenchmarkBreaker is one goroutine calling through a closed breaker.
func BenchmarkBreaker(b *testing.B) {
	for _, lib := range libs() {
		b.Run(lib.name, func(b *testing.B) {
			c := lib.new()
			b.ReportAllocs()
			for b.Loop() {
				c()
			}
		})
	}
}

// BenchmarkBreakerParallel is GOMAXPROCS goroutines sharing one closed
// breaker (-cpu=2: two).
func BenchmarkBreakerParallel(b *testing.B) {
	for _, lib := range libs() {
		b.Run(lib.name, func(b *testing.B) {
			c := lib.new()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c()
				}
			})
		})
	}
}
