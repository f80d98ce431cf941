package bulwarkotel

import (
	"sync"

	"github.com/bulwark-go/bulwark/breaker"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// byName keeps, for each object name seen in events, the attribute sets an
// observer records with (built once), so that recording an event allocates
// nothing after the first event of a name. It grows with the number of
// distinct names, as the SDK's own series do.
type byName[T any] struct {
	m     sync.Map // string → *T
	build func(name string) *T
}

// get returns name's attributes, building them on first use. A sync.Map
// load of a string key allocates nothing; two goroutines racing on a new
// name both build, and LoadOrStore keeps one.
func (c *byName[T]) get(name string) *T {
	if v, ok := c.m.Load(name); ok {
		return v.(*T)
	}
	v, _ := c.m.LoadOrStore(name, c.build(name))
	return v.(*T)
}

// with returns the measurement option for the attributes kv.
func with(kv ...attribute.KeyValue) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(kv...))
}

// attrs is one attribute set as the option slices the instruments' methods
// take. Passing a stored slice (Add(ctx, 1, a.add...)) rather than a lone
// option (Add(ctx, 1, opt)) is what makes a measurement allocation-free:
// the compiler cannot keep a variadic slice built at the call on the stack,
// since the instrument is an interface.
type attrs struct {
	add []metric.AddOption
	rec []metric.RecordOption
	obs []metric.ObserveOption
}

// newAttrs returns the option slices for the attributes kv.
func newAttrs(kv ...attribute.KeyValue) attrs {
	o := with(kv...)
	return attrs{
		add: []metric.AddOption{o},
		rec: []metric.RecordOption{o},
		obs: []metric.ObserveOption{o},
	}
}

// Attribute keys shared by every building block (see the package doc's
// Conventions).
const (
	keyName    = attribute.Key("name")
	keyOutcome = attribute.Key("outcome")
	keyReason  = attribute.Key("reason")
	keyState   = attribute.Key("state")
	keyFrom    = attribute.Key("from")
	keyTo      = attribute.Key("to")
	keyNode    = attribute.Key("node")
	keyKind    = attribute.Key("kind")
)

// seconds converts a duration to the float seconds OTel durations are
// recorded in.
func seconds[D ~int64](d D) float64 { return float64(d) / 1e9 }

// durationBuckets are the explicit bucket boundaries, in seconds, of every
// duration histogram: those OpenTelemetry's HTTP semantic conventions
// advise for request durations, 5 ms to 10 s
// (https://opentelemetry.io/docs/specs/semconv/http/http-metrics/). A View
// can replace them.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// breakerStates are the breaker states in the order of their values, and
// stateNames their attribute values: lower snake_case like every other
// attribute value ("half_open", as breaker.ReasonHalfOpen says it), where
// breaker.State.String says "half-open".
var (
	breakerStates = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen}
	stateNames    = [len(breakerStates)]string{"closed", "open", "half_open"}
)
