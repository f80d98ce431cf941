package bulwarkotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/cache"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/bulwark-go/bulwark/retry"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// benchMeter returns a meter of an SDK provider with a ManualReader, the
// setup whose per-measurement cost the benchmarks show.
func benchMeter(b *testing.B) metric.Meter {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	return provider.Meter("bulwark-bench")
}

type namedEvent[E any] struct {
	kind string
	e    E
}

// benchObserve runs observe on each event in turn, after one warm-up pass
// (the first event of a name builds its attributes), serially and from
// every P.
func benchObserve[E any](b *testing.B, observe func(E), events []namedEvent[E]) {
	for _, ev := range events {
		kind, e := ev.kind, ev.e
		observe(e)
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				observe(e)
			}
		})
		b.Run(kind+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					observe(e)
				}
			})
		})
	}
}

func BenchmarkObserveRetry(b *testing.B) {
	m, err := bulwarkotel.Retry(benchMeter(b))
	if err != nil {
		b.Fatal(err)
	}
	benchObserve(b, m.Observe, []namedEvent[retry.Event]{
		{"success", retry.Event{Kind: retry.EventSuccess, Name: "payments", Attempt: 1}},
		{"retry", retry.Event{Kind: retry.EventRetry, Name: "payments", Attempt: 1, Delay: 100 * time.Millisecond, Err: errDown}},
	})
}

func BenchmarkObserveBreaker(b *testing.B) {
	m, err := bulwarkotel.Breaker(benchMeter(b))
	if err != nil {
		b.Fatal(err)
	}
	benchObserve(b, m.Observe, []namedEvent[breaker.Event]{
		{"success", breaker.Event{Kind: breaker.EventSuccess, Name: "payments"}},
		{"rejected", breaker.Event{Kind: breaker.EventRejected, Name: "payments", Reason: breaker.ReasonOpen, Err: breaker.ErrOpen}},
	})
}

func BenchmarkObserveBulkhead(b *testing.B) {
	m, err := bulwarkotel.Bulkhead(benchMeter(b))
	if err != nil {
		b.Fatal(err)
	}
	benchObserve(b, m.Observe, []namedEvent[bulkhead.Event]{
		{"rejected", bulkhead.Event{Kind: bulkhead.EventRejected, Name: "db", Reason: bulkhead.ReasonFull, Err: bulkhead.ErrFull}},
		{"success", bulkhead.Event{Kind: bulkhead.EventSuccess, Name: "db", RTT: 20 * time.Millisecond}},
	})
}

func BenchmarkObserveCache(b *testing.B) {
	m, err := bulwarkotel.Cache(benchMeter(b))
	if err != nil {
		b.Fatal(err)
	}
	benchObserve(b, bulwarkotel.CacheObserver[string](m), []namedEvent[cache.Event[string]]{
		{"hit", cache.Event[string]{Kind: cache.EventHit, Name: "users", Key: "k"}},
		{"load", cache.Event[string]{Kind: cache.EventLoad, Name: "users", Key: "k", Duration: 20 * time.Millisecond}},
	})
}

func BenchmarkObserveBalance(b *testing.B) {
	m, err := bulwarkotel.Balance(benchMeter(b))
	if err != nil {
		b.Fatal(err)
	}
	benchObserve(b, m.Observe, []namedEvent[balance.Event]{
		{"no_nodes", balance.Event{Kind: balance.EventNoNodes, Name: "backends", Err: balance.ErrNoNodes}},
	})
}
