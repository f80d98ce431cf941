// Package bulwarkotel records the events and state of bulwark's building
// blocks as OpenTelemetry metrics, through any go.opentelemetry.io/otel/metric
// Meter (the SDK's, or a no-op one).
//
// Each building block has one constructor that creates its instruments on a
// meter and returns a value with an Observe method, the observer to put in
// the block's Config, and Watch methods that register the gauges read from
// the block's Stats at each collection:
//
//	m, err := bulwarkotel.Breaker(meter)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	reg, err := m.Watch(b) // state gauge; reg.Unregister() to stop
//
// Breaker, Retry and Bulkhead work that way. Balance has only gauges and
// per-node counters read from the pickers' Stats (WatchPicker), so that a
// Pick costs nothing more with metrics than without; Cache has the size
// gauge (Watch) and reads nothing on a hit. The instruments are
// named bulwark.<package>.<what> after OpenTelemetry's general naming rules
// (https://opentelemetry.io/docs/specs/semconv/general/naming/): counters
// are plural and carry no "total", UpDownCounters are not pluralized, units
// are UCUM ("s", "{call}"), durations are float64 histograms in seconds, and
// the object's name is the "name" attribute. The module's README lists
// every instrument with the event it counts, beside the names Polly and
// resilience4j use.
//
// Cardinality: one series per object name (and per node of a picker, per
// outcome or reason). A breaker.Group names its members "<group>/<key>", so
// a group keyed by outside input (a tenant ID) makes one series per key it
// ever held; bound it with GroupConfig.MaxKeys or key by host.
//
// Observe allocates nothing once a name has been seen; instruments are
// created once per constructor call (the SDK returns the same instrument
// for the same name, so calling a constructor twice on one meter is
// harmless). Every type is safe for concurrent use.
package bulwarkotel
