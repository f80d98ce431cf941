package bulwarkprom_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/bulwark-go/bulwark/retry"
)

// TestObserveConcurrent has goroutines race on the first events of new
// names, and on series created on first use (hedges, slow calls), and
// checks that no event is lost.
func TestObserveConcurrent(t *testing.T) {
	const goroutines, events, names = 8, 200, 4
	rm, bm := bulwarkprom.Retry(), bulwarkprom.Breaker()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				name := fmt.Sprint("n", (g+i)%names)
				rm.Observe(retry.Event{Kind: retry.EventHedge, Name: name, Attempt: 2})
				bm.Observe(breaker.Event{Kind: breaker.EventSuccess, Name: name, Slow: true})
			}
		})
	}
	wg.Wait()
	per := goroutines * events / names
	var hedges, slow strings.Builder
	for n := range names {
		fmt.Fprintf(&hedges, "bulwark_retry_hedges_total{name=\"n%d\"} %d\n", n, per)
		fmt.Fprintf(&slow, "bulwark_breaker_slow_calls_total{name=\"n%d\",outcome=\"success\"} %d\n", n, per)
	}
	compare(t, rm, `
# HELP bulwark_retry_hedges_total Hedged attempts started.
# TYPE bulwark_retry_hedges_total counter
`+hedges.String())
	compare(t, bm, `
# HELP bulwark_breaker_slow_calls_total Calls that ended after at least the breaker's SlowCall, by outcome.
# TYPE bulwark_breaker_slow_calls_total counter
`+slow.String())
}
