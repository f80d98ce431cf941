package bulwarkprom_test

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/cache"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/bulwark-go/bulwark/retry"
)

type namedEvent[E any] struct {
	kind string
	e    E
}

// benchObserve runs observe on each event in turn, after one warm-up call
// (the first event of a name creates its series), serially and from every
// P.
func benchObserve[E any](b *testing.B, observe func(E), events []namedEvent[E]) {
	for _, ev := range events {
		e := ev.e
		observe(e)
		b.Run(ev.kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				observe(e)
			}
		})
		b.Run(ev.kind+"/parallel", func(b *testing.B) {
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
	benchObserve(b, bulwarkprom.Retry().Observe, []namedEvent[retry.Event]{
		{"success", retry.Event{Kind: retry.EventSuccess, Name: "payments", Attempt: 1}},
		{"retry", retry.Event{Kind: retry.EventRetry, Name: "payments", Attempt: 1, Delay: 100 * time.Millisecond, Err: errDown}},
	})
}

func BenchmarkObserveBreaker(b *testing.B) {
	benchObserve(b, bulwarkprom.Breaker().Observe, []namedEvent[breaker.Event]{
		{"success", breaker.Event{Kind: breaker.EventSuccess, Name: "payments"}},
		{"rejected", breaker.Event{Kind: breaker.EventRejected, Name: "payments", Reason: breaker.ReasonOpen, Err: breaker.ErrOpen}},
	})
}

func BenchmarkObserveBulkhead(b *testing.B) {
	benchObserve(b, bulwarkprom.Bulkhead().Observe, []namedEvent[bulkhead.Event]{
		{"rejected", bulkhead.Event{Kind: bulkhead.EventRejected, Name: "db", Reason: bulkhead.ReasonFull, Err: bulkhead.ErrFull}},
		{"success", bulkhead.Event{Kind: bulkhead.EventSuccess, Name: "db", RTT: 20 * time.Millisecond}},
	})
}

func BenchmarkObserveCache(b *testing.B) {
	benchObserve(b, bulwarkprom.CacheObserver[string](bulwarkprom.Cache()), []namedEvent[cache.Event[string]]{
		{"hit", cache.Event[string]{Kind: cache.EventHit, Name: "users", Key: "k"}},
		{"load", cache.Event[string]{Kind: cache.EventLoad, Name: "users", Key: "k", Duration: 20 * time.Millisecond}},
	})
}

func BenchmarkObserveBalance(b *testing.B) {
	benchObserve(b, bulwarkprom.Balance().Observe, []namedEvent[balance.Event]{
		{"no_nodes", balance.Event{Kind: balance.EventNoNodes, Name: "backends", Err: balance.ErrNoNodes}},
	})
}
