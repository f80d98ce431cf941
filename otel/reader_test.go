package bulwarkotel_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// newMeter returns a meter of a fresh SDK MeterProvider and a ManualReader
// that reads what it recorded.
func newMeter(t *testing.T) (metric.Meter, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	return provider.Meter("bulwark-test"), reader
}

// collected is one collection: instrument name → its data.
type collected map[string]metricdata.Metrics

func collect(t *testing.T, reader *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	c := collected{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			c[m.Name] = m
		}
	}
	return c
}

// attrKey renders an attribute set as "k=v,k=v" in key order.
func attrKey(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// present reports whether an instrument was collected with data points.
func (c collected) present(t *testing.T, name string) bool {
	t.Helper()
	if _, ok := c[name]; !ok {
		return false
	}
	return len(c.values(t, name)) > 0
}

// values returns the points of an int64 sum or gauge as attrKey → value,
// failing the test for any other kind of data.
func (c collected) values(t *testing.T, name string) map[string]int64 {
	t.Helper()
	m, ok := c[name]
	if !ok {
		t.Fatalf("instrument %s: not collected", name)
	}
	got := map[string]int64{}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			got[attrKey(p.Attributes)] = p.Value
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			got[attrKey(p.Attributes)] = p.Value
		}
	default:
		t.Fatalf("instrument %s: data %T, want an int64 sum or gauge", name, m.Data)
	}
	return got
}

// histogram returns the points of a float64 histogram as attrKey → point.
func (c collected) histogram(t *testing.T, name string) map[string]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := c[name]
	if !ok {
		t.Fatalf("instrument %s: not collected", name)
	}
	d, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("instrument %s: data %T, want a float64 histogram", name, m.Data)
	}
	got := map[string]metricdata.HistogramDataPoint[float64]{}
	for _, p := range d.DataPoints {
		got[attrKey(p.Attributes)] = p
	}
	return got
}

// unit returns the unit of an instrument.
func (c collected) unit(name string) string { return c[name].Unit }

// floatGauge returns the points of a float64 gauge as attrKey → value.
func floatGauge(t *testing.T, c collected, name string) map[string]float64 {
	t.Helper()
	d, ok := c[name].Data.(metricdata.Gauge[float64])
	if !ok {
		t.Fatalf("instrument %s: data %T, want a float64 gauge", name, c[name].Data)
	}
	got := map[string]float64{}
	for _, p := range d.DataPoints {
		got[attrKey(p.Attributes)] = p.Value
	}
	return got
}
