package bulwarkotel_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestObserveConcurrent has goroutines race on the first events of new
// names and checks that no event is lost.
func TestObserveConcurrent(t *testing.T) {
	const goroutines, events, names = 8, 200, 4
	meter, reader := newMeter(t)
	m, err := bulwarkotel.Breaker(meter)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				m.Observe(breaker.Event{Kind: breaker.EventSuccess, Name: fmt.Sprint("n", (g+i)%names)})
			}
		})
	}
	wg.Wait()
	want := map[string]int64{}
	for n := range names {
		want[fmt.Sprintf("name=n%d,outcome=success", n)] = goroutines * events / names
	}
	assert.Equal(t, want, collect(t, reader).values(t, "bulwark.breaker.calls"))
}

// TestWatchPickerUpdate collects from two readers at once while Update
// swaps a picker's node set back and forth, and checks that every
// collection reports the nodes of one set or the other, named right; then,
// with the set at rest, exactly its nodes.
func TestWatchPickerUpdate(t *testing.T) {
	sets := [2][]int{{1, 2, 3}, {3, 4}}
	readers := [2]*sdkmetric.ManualReader{sdkmetric.NewManualReader(), sdkmetric.NewManualReader()}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(readers[0]), sdkmetric.WithReader(readers[1]))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	m, err := bulwarkotel.Balance(provider.Meter("bulwark-test"))
	require.NoError(t, err)
	p, err := balance.NewRoundRobin(sets[0], balance.Config{})
	require.NoError(t, err)
	reg, err := bulwarkotel.WatchPicker(m, "p", p, func(n int) string { return fmt.Sprint("node-", n) })
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()

	var want [2]string // each set's points, as attrKeys
	for i, set := range sets {
		for _, n := range set {
			want[i] += fmt.Sprintf("name=p,node=node-%d;", n)
		}
	}
	const rounds = 200
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range rounds {
			if err := p.Update(sets[(i+1)%2]); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for _, r := range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				var rm metricdata.ResourceMetrics
				if err := r.Collect(context.Background(), &rm); err != nil {
					t.Error(err)
					return
				}
				for _, sm := range rm.ScopeMetrics {
					for _, mt := range sm.Metrics {
						if mt.Name != "bulwark.balance.picks" {
							continue
						}
						var keys []string
						for _, dp := range mt.Data.(metricdata.Sum[int64]).DataPoints {
							keys = append(keys, attrKey(dp.Attributes)+";")
						}
						sort.Strings(keys)
						if got := strings.Join(keys, ""); got != want[0] && got != want[1] {
							t.Errorf("a collection reported %s, want %s or %s", got, want[0], want[1])
						}
					}
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, sets[0], p.Nodes(), "an even number of updates")
	for _, r := range readers {
		assert.Equal(t, map[string]int64{"name=p,node=node-1": 0, "name=p,node=node-2": 0, "name=p,node=node-3": 0},
			collect(t, r).values(t, "bulwark.balance.picks"))
	}
}
