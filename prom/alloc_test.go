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

// TestObserveAllocs checks that Observe (and CacheObserver's function)
// allocates nothing once a name (and, for a series created on first use,
// that series) has been seen: it runs on every call.
func TestObserveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rm, bm, hm := bulwarkprom.Retry(), bulwarkprom.Breaker(), bulwarkprom.Bulkhead()
	cm, pm := bulwarkprom.Cache(), bulwarkprom.Balance()
	cacheObserve := bulwarkprom.CacheObserver[string](cm)
	cases := map[string]func(){
		"retry success":    func() { rm.Observe(retry.Event{Kind: retry.EventSuccess, Name: "r", Attempt: 1}) },
		"retry retry":      func() { rm.Observe(retry.Event{Kind: retry.EventRetry, Name: "r", Attempt: 1, Delay: time.Second}) },
		"retry hedge":      func() { rm.Observe(retry.Event{Kind: retry.EventHedge, Name: "r", Attempt: 2}) },
		"breaker success":  func() { bm.Observe(breaker.Event{Kind: breaker.EventSuccess, Name: "b", Slow: true}) },
		"breaker rejected": func() { bm.Observe(breaker.Event{Kind: breaker.EventRejected, Name: "b", Reason: breaker.ReasonOpen}) },
		"breaker change":   func() { bm.Observe(breaker.Event{Kind: breaker.EventStateChange, Name: "b", To: breaker.Open}) },
		"bulkhead rejected": func() {
			hm.Observe(bulkhead.Event{Kind: bulkhead.EventRejected, Name: "h", Reason: bulkhead.ReasonFull})
		},
		"bulkhead success": func() { hm.Observe(bulkhead.Event{Kind: bulkhead.EventSuccess, Name: "h", RTT: time.Millisecond}) },
		"cache hit":        func() { cacheObserve(cache.Event[string]{Kind: cache.EventHit, Name: "c", Key: "k"}) },
		"cache load": func() {
			cacheObserve(cache.Event[string]{Kind: cache.EventLoad, Name: "c", Key: "k", Duration: time.Millisecond})
		},
		"cache refresh failure": func() {
			cacheObserve(cache.Event[string]{Kind: cache.EventRefresh, Name: "c", Key: "k", Duration: time.Second, Err: errDown})
		},
		"balance no_nodes": func() { pm.Observe(balance.Event{Kind: balance.EventNoNodes, Name: "p", Err: balance.ErrNoNodes}) },
		"balance ejected":  func() { pm.Observe(balance.Event{Kind: balance.EventEjected, Name: "p", Node: "a", Failures: 5}) },
	}
	for name, observe := range cases {
		observe() // the first event of a name creates its series
		if n := testing.AllocsPerRun(100, observe); n != 0 {
			t.Errorf("%s: %v allocations per event, want 0", name, n)
		}
	}
}
