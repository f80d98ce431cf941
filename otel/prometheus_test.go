package bulwarkotel_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/cache"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/bulwark-go/bulwark/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestPrometheusNames exports every instrument — with one event of every
// kind recorded and one object of each kind watched, a PeakEWMA picker
// among them — through OpenTelemetry's Prometheus exporter and checks the
// series names, types and labels it gives them against
// testdata/names.txt, which TestNamesMatchProm keeps equal to package
// bulwarkprom's list: one dashboard serves both modules.
func TestPrometheusNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	require.NoError(t, err)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	meter := provider.Meter("bulwark-test")

	rm, err := bulwarkotel.Retry(meter)
	require.NoError(t, err)
	bm, err := bulwarkotel.Breaker(meter)
	require.NoError(t, err)
	hm, err := bulwarkotel.Bulkhead(meter)
	require.NoError(t, err)

	for _, k := range []retry.EventKind{retry.EventSuccess, retry.EventRetry, retry.EventBudgetRefused, retry.EventHedge, retry.EventHedgeWon} {
		rm.Observe(retry.Event{Kind: k, Name: "r", Attempt: 1, Delay: time.Millisecond})
	}
	budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
	require.NoError(t, err)
	_, err = rm.WatchBudget("r", budget)
	require.NoError(t, err)

	for _, e := range []breaker.Event{
		{Kind: breaker.EventSuccess, Slow: true}, {Kind: breaker.EventRejected, Reason: breaker.ReasonOpen},
		{Kind: breaker.EventRejected, Reason: breaker.ReasonOpen, Shadow: true}, {Kind: breaker.EventProbe},
		{Kind: breaker.EventStateChange, From: breaker.Closed, To: breaker.Open},
	} {
		e.Name = "b"
		bm.Observe(e)
	}
	b, err := breaker.New(breaker.Config{Name: "b"})
	require.NoError(t, err)
	_, err = bm.Watch(b)
	require.NoError(t, err)

	for _, e := range []bulkhead.Event{
		{Kind: bulkhead.EventRejected, Reason: bulkhead.ReasonFull}, {Kind: bulkhead.EventCancelled},
		{Kind: bulkhead.EventLimitChanged}, {Kind: bulkhead.EventSuccess, RTT: time.Millisecond},
	} {
		e.Name = "h"
		hm.Observe(e)
	}
	h, err := bulkhead.New(bulkhead.Config{Name: "h", MaxConcurrent: 1})
	require.NoError(t, err)
	_, err = hm.Watch("h", h)
	require.NoError(t, err)

	cm, err := bulwarkotel.Cache(meter)
	require.NoError(t, err)
	c, err := cache.New(cache.Config[string, int]{Name: "c", Capacity: 1, Observer: bulwarkotel.CacheObserver[string](cm)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	_, err = cm.Watch("c", c)
	require.NoError(t, err)
	_, err = c.GetOrLoad(context.Background(), "k", func(context.Context, string) (int, error) { return 1, nil })
	require.NoError(t, err)

	pm, err := bulwarkotel.Balance(meter)
	require.NoError(t, err)
	pm.Observe(balance.Event{Kind: balance.EventNoNodes, Name: "p", Err: balance.ErrNoNodes})
	p, err := balance.NewPeakEWMA([]string{"a"}, balance.Config{Name: "p", Observer: pm.Observe})
	require.NoError(t, err)
	_, err = bulwarkotel.WatchPicker(pm, "p", p, nil)
	require.NoError(t, err)
	permit, err := p.Pick()
	require.NoError(t, err)
	permit.Done(nil) // a latency sample
	require.Positive(t, p.Stats().Nodes[0].Latency)

	families, err := reg.Gather()
	require.NoError(t, err)
	problems, err := testutil.GatherAndLint(reg) // the checks of `promtool check metrics`
	require.NoError(t, err)
	assert.Empty(t, problems)
	var got strings.Builder
	for _, f := range families { // sorted by name
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		fmt.Fprintf(&got, "%s %s %s\n", f.GetName(), f.GetType(), strings.Join(labels, ","))
	}
	want, err := os.ReadFile(filepath.Join("testdata", "names.txt"))
	require.NoError(t, err)
	assert.Equal(t, string(want), got.String())
}

// TestNamesMatchProm checks that this module's list of series names is
// package bulwarkprom's, when that module is beside this one (as in the
// repository; a downloaded module has no sibling).
func TestNamesMatchProm(t *testing.T) {
	prom, err := os.ReadFile(filepath.Join("..", "prom", "testdata", "names.txt"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no ../prom/testdata/names.txt beside this module")
	}
	require.NoError(t, err)
	otel, err := os.ReadFile(filepath.Join("testdata", "names.txt"))
	require.NoError(t, err)
	assert.Equal(t, string(prom), string(otel), "testdata/names.txt of otel and prom")
}
