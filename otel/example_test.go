package bulwarkotel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/bulwark-go/bulwark/retry"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// A breaker that trips on its first failure reports the failure, the
// transition, the rejection that follows and, through Watch, its state. A
// real program takes its meter from the MeterProvider its exporter (OTLP,
// Prometheus) feeds; the ManualReader here lets the example print what an
// exporter would receive.
func ExampleBreaker() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	meter := provider.Meter("example")

	m, err := bulwarkotel.Breaker(meter)
	if err != nil {
		panic(err)
	}
	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 1, Observer: m.Observe})
	if err != nil {
		panic(err)
	}
	reg, err := m.Watch(b) // the state gauge
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	ctx := context.Background()
	_ = b.Do(ctx, func(context.Context) error { return errors.New("down") }) // trips the breaker
	_ = b.Do(ctx, func(context.Context) error { return nil })                // rejected: the breaker is open

	printMetrics(reader)
	// Output:
	// bulwark.breaker.calls{name=payments,outcome=failure} 1
	// bulwark.breaker.rejections{name=payments,reason=open} 1
	// bulwark.breaker.state{name=payments,state=closed} 0
	// bulwark.breaker.state{name=payments,state=half_open} 0
	// bulwark.breaker.state{name=payments,state=open} 1
	// bulwark.breaker.transitions{from=closed,name=payments,to=open} 1
}

// A retrier whose call succeeds at its second attempt reports one call,
// two attempts (the load it caused), one retry and its delay in seconds.
func ExampleRetry() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	m, err := bulwarkotel.Retry(provider.Meter("example"))
	if err != nil {
		panic(err)
	}
	r, err := retry.New(retry.Config{Name: "fetch", MaxAttempts: 3,
		Backoff: retry.Constant(10 * time.Millisecond), Observer: m.Observe})
	if err != nil {
		panic(err)
	}
	failures := 1
	_ = r.Do(context.Background(), func(context.Context) error {
		if failures > 0 {
			failures--
			return errors.New("connection reset")
		}
		return nil
	})

	printMetrics(reader)
	// Output:
	// bulwark.retry.attempts{name=fetch,outcome=success} 2
	// bulwark.retry.calls{name=fetch,outcome=success} 1
	// bulwark.retry.delay{name=fetch} count=1 sum=0.01
	// bulwark.retry.retries{name=fetch,reason=error} 1
}

// A full bulkhead reports each refusal by reason; Watch adds what Stats
// knows (admissions, slots held, queue, limit) at every collection.
func ExampleBulkhead() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	m, err := bulwarkotel.Bulkhead(provider.Meter("example"))
	if err != nil {
		panic(err)
	}
	b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 1, Observer: m.Observe})
	if err != nil {
		panic(err)
	}
	reg, err := m.Watch("db", b)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	held, _ := b.TryAcquire()
	_, ok := b.TryAcquire() // refused: the one slot is held
	fmt.Println("second call admitted:", ok)
	printMetrics(reader)
	held.Done(nil)
	// Output:
	// second call admitted: false
	// bulwark.bulkhead.admissions{name=db} 1
	// bulwark.bulkhead.in_flight{name=db} 1
	// bulwark.bulkhead.limit{name=db} 1
	// bulwark.bulkhead.queued{name=db} 0
	// bulwark.bulkhead.rejections{name=db,reason=full} 1
}

// printMetrics collects reader once and prints every data point as
// "instrument{attributes} value", sorted.
func printMetrics(reader *sdkmetric.ManualReader) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			point := func(attrs attribute.Set, value string) {
				var kv []string
				for _, a := range attrs.ToSlice() {
					kv = append(kv, string(a.Key)+"="+a.Value.String())
				}
				lines = append(lines, fmt.Sprintf("%s{%s} %s", m.Name, strings.Join(kv, ","), value))
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					point(p.Attributes, fmt.Sprint(p.Value))
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					point(p.Attributes, fmt.Sprint(p.Value))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					point(p.Attributes, fmt.Sprintf("count=%d sum=%g", p.Count, p.Sum))
				}
			}
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}
