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
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TestPrometheusNames exports every retry, breaker, bulkhead and cache
// instrument, and the balance rejections, through OpenTelemetry's
// Prometheus exporter and checks the series names, types and labels it
// gives them: they are those of package bulwarkprom, so one dashboard
// serves both modules.
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

	families, err := reg.Gather()
	require.NoError(t, err)
	problems, err := testutil.GatherAndLint(reg) // the checks of `promtool check metrics`
	require.NoError(t, err)
	assert.Empty(t, problems)
	got := map[string]string{}
	for _, f := range families {
		labels := ""
		for i, l := range f.GetMetric()[0].GetLabel() {
			if i > 0 {
				labels += ","
			}
			labels += l.GetName()
		}
		got[f.GetName()] = f.GetType().String() + " " + labels
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
