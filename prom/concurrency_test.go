package bulwarkprom_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/cache"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/bulwark-go/bulwark/retry"
)

// TestObserveConcurrent has goroutines race on the first events of new
// names, and on series created on first use (hedges, slow calls, load
// histograms), and checks that no event is lost.
func TestObserveConcurrent(t *testing.T) {
	const goroutines, events, names = 8, 200, 4
	rm, bm, cm, pm := bulwarkprom.Retry(), bulwarkprom.Breaker(), bulwarkprom.Cache(), bulwarkprom.Balance()
	cacheObserve := bulwarkprom.CacheObserver[int](cm)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				name := fmt.Sprint("n", (g+i)%names)
				rm.Observe(retry.Event{Kind: retry.EventHedge, Name: name, Attempt: 2})
				bm.Observe(breaker.Event{Kind: breaker.EventSuccess, Name: name, Slow: true})
				cacheObserve(cache.Event[int]{Kind: cache.EventRefresh, Name: name, Key: i, Duration: time.Millisecond})
				pm.Observe(balance.Event{Kind: balance.EventNoNodes, Name: name, Err: balance.ErrNoNodes})
			}
		})
	}
	wg.Wait()
	per := goroutines * events / names
	var hedges, slow, rejections strings.Builder
	for n := range names {
		fmt.Fprintf(&hedges, "bulwark_retry_hedges_total{name=\"n%d\"} %d\n", n, per)
		fmt.Fprintf(&slow, "bulwark_breaker_slow_calls_total{name=\"n%d\",outcome=\"success\"} %d\n", n, per)
		fmt.Fprintf(&rejections, "bulwark_balance_rejections_total{name=\"n%d\",reason=\"no_nodes\"} %d\n", n, per)
		got := histogramCount(t, cm, "bulwark_cache_load_duration_seconds", "kind", "refresh", "name", fmt.Sprint("n", n), "outcome", "success")
		if got != uint64(per) {
			t.Errorf("n%d: %d refreshes recorded, want %d", n, got, per)
		}
	}
	compare(t, rm, `
# HELP bulwark_retry_hedges_total Hedged attempts started.
# TYPE bulwark_retry_hedges_total counter
`+hedges.String())
	compare(t, bm, `
# HELP bulwark_breaker_slow_calls_total Calls that ended after at least the breaker's SlowCall, by outcome.
# TYPE bulwark_breaker_slow_calls_total counter
`+slow.String())
	compare(t, pm, `
# HELP bulwark_balance_rejections_total Picks that found no usable node, by reason.
# TYPE bulwark_balance_rejections_total counter
`+rejections.String())
}
