package bulwarkprom_test

import (
	"context"
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

// everySeries returns the retry, breaker, bulkhead and cache collectors
// with one event of every kind recorded and one object of each kind
// watched, so that every series they can expose is there, and the balance
// collector with one refused Pick (its per-node series are checked by
// TestBalanceMetrics).
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
	return []prometheus.Collector{rm, bm, hm, cm, pm}
}

// TestSeriesNames checks every series' name, type and labels: they are
// those OpenTelemetry's Prometheus exporter gives package bulwarkotel's
// instruments (its TestPrometheusNames checks the same table), so one
// dashboard serves both modules.
func TestSeriesNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for _, c := range everySeries(t) {
		require.NoError(t, reg.Register(c))
	}
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]string{}
	for _, f := range families {
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		got[f.GetName()] = f.GetType().String() + " " + strings.Join(labels, ",")
	}
	assert.Equal(t, map[string]string{
		"bulwark_retry_calls_total":               "COUNTER name,outcome",
		"bulwark_retry_attempts_total":            "COUNTER name,outcome",
		"bulwark_retry_retries_total":             "COUNTER name,reason",
		"bulwark_retry_budget_refusals_total":     "COUNTER name",
		"bulwark_retry_delay_seconds":             "HISTOGRAM name",
		"bulwark_retry_hedges_total":              "COUNTER name",
		"bulwark_retry_hedge_wins_total":          "COUNTER name",
		"bulwark_retry_budget_tokens":             "GAUGE name",
		"bulwark_breaker_calls_total":             "COUNTER name,outcome",
		"bulwark_breaker_slow_calls_total":        "COUNTER name,outcome",
		"bulwark_breaker_rejections_total":        "COUNTER name,reason",
		"bulwark_breaker_shadow_rejections_total": "COUNTER name,reason",
		"bulwark_breaker_probes_total":            "COUNTER name",
		"bulwark_breaker_transitions_total":       "COUNTER from,name,to",
		"bulwark_breaker_state":                   "GAUGE name,state",
		"bulwark_bulkhead_rejections_total":       "COUNTER name,reason",
		"bulwark_bulkhead_cancellations_total":    "COUNTER name",
		"bulwark_bulkhead_limit_changes_total":    "COUNTER name",
		"bulwark_bulkhead_call_duration_seconds":  "HISTOGRAM name,outcome",
		"bulwark_bulkhead_admissions_total":       "COUNTER name",
		"bulwark_bulkhead_in_flight":              "GAUGE name",
		"bulwark_bulkhead_queued":                 "GAUGE name",
		"bulwark_bulkhead_limit":                  "GAUGE name",
		"bulwark_cache_lookups_total":             "COUNTER name,outcome",
		"bulwark_cache_evictions_total":           "COUNTER name,reason",
		"bulwark_cache_loads_total":               "COUNTER name,outcome",
		"bulwark_cache_refreshes_total":           "COUNTER name",
		"bulwark_cache_size":                      "GAUGE name",
		"bulwark_cache_load_duration_seconds":     "HISTOGRAM kind,name,outcome",
		"bulwark_balance_rejections_total":        "COUNTER name,reason",
	}, got)
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
