package bulwarkotel

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// byName keeps, for each object name seen in events, the measurement options
// an observer records with (attribute sets built once), so that recording an
// event allocates nothing after the first event of a name. It grows with the
// number of distinct names, as the SDK's own series do.
type byName[T any] struct {
	m     sync.Map // string → *T
	build func(name string) *T
}

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

// Attribute keys shared by every building block.
const (
	keyName    = attribute.Key("name")
	keyOutcome = attribute.Key("outcome")
	keyReason  = attribute.Key("reason")
	keyState   = attribute.Key("state")
	keyFrom    = attribute.Key("from")
	keyTo      = attribute.Key("to")
	keyNode    = attribute.Key("node")
)

// seconds converts a duration to the float seconds OTel durations are
// recorded in.
func seconds[D ~int64](d D) float64 { return float64(d) / 1e9 }
