package bulwarkprom_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/cache"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/bulwark-go/bulwark/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// everySeries returns the collectors with one event of every kind recorded
// and one object of each kind watched — a PeakEWMA picker with a latency
// sample among them — so that every series they can expose is there.
func everySeries(t *testing.T) []prometheus.Collector {
	t.Helper()
	rm := bulwarkprom.Retry()
	for _, k := range []retry.EventKind{retry.EventSuccess, retry.EventRetry, retry.EventBudgetRefused, retry.EventHedge, retry.EventHedgeWon} {
		rm.Observe(retry.Event{Kind: k, Name: "r", Attempt: 1, Delay: time.Millisecond})
	}
	budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
	require.NoError(t, err)
	t.Cleanup(rm.WatchBudget("r", budget))

	bm := bulwarkprom.Breaker()
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
	t.Cleanup(bm.Watch(b))

	hm := bulwarkprom.Bulkhead()
	for _, e := range []bulkhead.Event{
		{Kind: bulkhead.EventRejected, Reason: bulkhead.ReasonFull}, {Kind: bulkhead.EventCancelled},
		{Kind: bulkhead.EventLimitChanged}, {Kind: bulkhead.EventSuccess, RTT: time.Millisecond},
	} {
		e.Name = "h"
		hm.Observe(e)
	}
	h, err := bulkhead.New(bulkhead.Config{Name: "h", MaxConcurrent: 1})
	require.NoError(t, err)
	t.Cleanup(hm.Watch("h", h))

	cm := bulwarkprom.Cache()
	c, err := cache.New(cache.Config[string, int]{Name: "c", Capacity: 1, Observer: bulwarkprom.CacheObserver[string](cm)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	t.Cleanup(cm.Watch("c", c))
	_, err = c.GetOrLoad(context.Background(), "k", func(context.Context, string) (int, error) { return 1, nil })
	require.NoError(t, err)

	pm := bulwarkprom.Balance()
	pm.Observe(balance.Event{Kind: balance.EventNoNodes, Name: "p", Err: balance.ErrNoNodes})
	p, err := balance.NewPeakEWMA([]string{"a"}, balance.Config{Name: "p", Observer: pm.Observe})
	require.NoError(t, err)
	t.Cleanup(bulwarkprom.WatchPicker(pm, "p", p, nil))
	permit, err := p.Pick()
	require.NoError(t, err)
	permit.Done(nil) // a latency sample
	require.Positive(t, p.Stats().Nodes[0].Latency)
	return []prometheus.Collector{rm, bm, hm, cm, pm}
}

// TestSeriesNames checks every series' name, type and labels against
// testdata/names.txt (rewritten with -update), one line per series. They
// are those OpenTelemetry's Prometheus exporter gives package
// bulwarkotel's instruments: its TestPrometheusNames checks them against
// its own copy of the file, and its TestNamesMatchProm that the two copies
// are equal, so one dashboard serves both modules.
func TestSeriesNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for _, c := range everySeries(t) {
		require.NoError(t, reg.Register(c))
	}
	families, err := reg.Gather()
	require.NoError(t, err)
	var got strings.Builder
	for _, f := range families { // sorted by name
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		fmt.Fprintf(&got, "%s %s %s\n", f.GetName(), f.GetType(), strings.Join(labels, ","))
	}
	path := filepath.Join("testdata", "names.txt")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got.String())
}

// TestLint runs promlint, the checks of `promtool check metrics`, over
// every series.
func TestLint(t *testing.T) {
	for _, c := range everySeries(t) {
		problems, err := testutil.CollectAndLint(c)
		require.NoError(t, err)
		assert.Empty(t, problems)
	}
}
