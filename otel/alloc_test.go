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
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestObserveAllocs checks that Observe (and CacheObserver's function)
// allocates nothing, with the SDK recording, once a name has been seen: it
// runs on every call. The kinds an observer ignores are in the table too.
func TestObserveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	meter := provider.Meter("bulwark-test")
	rm, err := bulwarkotel.Retry(meter)
	require.NoError(t, err)
	bm, err := bulwarkotel.Breaker(meter)
	require.NoError(t, err)
	hm, err := bulwarkotel.Bulkhead(meter)
	require.NoError(t, err)
	cm, err := bulwarkotel.Cache(meter)
	require.NoError(t, err)
	cacheObserve := bulwarkotel.CacheObserver[string](cm)
	pm, err := bulwarkotel.Balance(meter)
	require.NoError(t, err)

	cases := map[string]func(){
		"retry success":    func() { rm.Observe(retry.Event{Kind: retry.EventSuccess, Name: "r", Attempt: 1}) },
		"retry retry":      func() { rm.Observe(retry.Event{Kind: retry.EventRetry, Name: "r", Attempt: 1, Delay: time.Second}) },
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
		observe() // the first event of a name builds its attributes
		if n := testing.AllocsPerRun(100, observe); n != 0 {
			t.Errorf("%s: %v allocations per event, want 0", name, n)
		}
	}
}
