package bulwarkotel

import (
	"context"
	"errors"

	"github.com/bulwark-go/bulwark/breaker"
	"go.opentelemetry.io/otel/metric"
)

// BreakerMetrics records the events of circuit breakers and adaptive
// throttles (package breaker) as OpenTelemetry instruments, and observes
// the state of the breakers it watches:
//
//	bulwark.breaker.calls        counter  {call}        name, outcome
//	bulwark.breaker.slow_calls   counter  {call}        name
//	bulwark.breaker.probes       counter  {call}        name
//	bulwark.breaker.transitions  counter  {transition}  name, from, to
//	bulwark.breaker.state        gauge    {breaker}     name, state (1 for the current state, 0 for the others)
//
// outcome is success, failure, ignored, rejected, or shadow_rejected (a
// call that Config.Shadow let through, which also counts with its own
// outcome when it ends). One BreakerMetrics serves any number of breakers,
// told apart by their names; it is safe for concurrent use.
type BreakerMetrics struct {
	meter       metric.Meter
	calls       metric.Int64Counter
	slow        metric.Int64Counter
	probes      metric.Int64Counter
	transitions metric.Int64Counter
	state       metric.Int64ObservableGauge
	attrs       byName[breakerAttrs]
}

// Breaker outcome values of the outcome attribute, indexed by breakerOutcome.
const (
	outSuccess = iota
	outFailure
	outIgnored
	outRejected
	outShadowRejected
	nBreakerOutcomes
)

var breakerOutcomeNames = [nBreakerOutcomes]string{"success", "failure", "ignored", "rejected", "shadow_rejected"}

// breakerStates are the states in the order of their values.
var breakerStates = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen}

type breakerAttrs struct {
	name        metric.MeasurementOption
	outcome     [nBreakerOutcomes]metric.MeasurementOption
	transitions [3][3]metric.MeasurementOption
	state       [3]metric.MeasurementOption
}

func newBreakerAttrs(name string) *breakerAttrs {
	a := &breakerAttrs{name: with(keyName.String(name))}
	for i, o := range breakerOutcomeNames {
		a.outcome[i] = with(keyName.String(name), keyOutcome.String(o))
	}
	for i, from := range breakerStates {
		a.state[i] = with(keyName.String(name), keyState.String(from.String()))
		for j, to := range breakerStates {
			a.transitions[i][j] = with(keyName.String(name), keyFrom.String(from.String()), keyTo.String(to.String()))
		}
	}
	return a
}

// Breaker creates the breaker instruments on meter. Put Observe in the
// Config of each breaker (or Group, or ThrottleConfig) and pass the
// breakers to Watch for the state gauge:
//
//	m, err := bulwarkotel.Breaker(meter)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	reg, err := m.Watch(b) // reg.Unregister() stops observing b
func Breaker(meter metric.Meter) (*BreakerMetrics, error) {
	m := &BreakerMetrics{meter: meter, attrs: byName[breakerAttrs]{build: newBreakerAttrs}}
	var errs [5]error
	m.calls, errs[0] = meter.Int64Counter("bulwark.breaker.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls that a circuit breaker finished or rejected, by outcome."))
	m.slow, errs[1] = meter.Int64Counter("bulwark.breaker.slow_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Finished calls that took at least the breaker's SlowCall."))
	m.probes, errs[2] = meter.Int64Counter("bulwark.breaker.probes", metric.WithUnit("{call}"),
		metric.WithDescription("Probe calls admitted by half-open breakers."))
	m.transitions, errs[3] = meter.Int64Counter("bulwark.breaker.transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker state changes."))
	m.state, errs[4] = meter.Int64ObservableGauge("bulwark.breaker.state", metric.WithUnit("{breaker}"),
		metric.WithDescription("1 for the breaker's current state, 0 for the others."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// Observe records e; it is a breaker.Config.Observer (and a
// ThrottleConfig.Observer). It allocates nothing once a name has been seen.
func (m *BreakerMetrics) Observe(e breaker.Event) {
	ctx := context.Background()
	a := m.attrs.get(e.Name)
	switch e.Kind {
	case breaker.EventSuccess:
		m.calls.Add(ctx, 1, a.outcome[outSuccess])
	case breaker.EventFailure:
		m.calls.Add(ctx, 1, a.outcome[outFailure])
	case breaker.EventIgnored:
		m.calls.Add(ctx, 1, a.outcome[outIgnored])
	case breaker.EventRejected:
		if e.Shadow {
			m.calls.Add(ctx, 1, a.outcome[outShadowRejected])
		} else {
			m.calls.Add(ctx, 1, a.outcome[outRejected])
		}
		return
	case breaker.EventProbe:
		m.probes.Add(ctx, 1, a.name)
		return
	case breaker.EventStateChange:
		if int(e.From) < len(breakerStates) && int(e.To) < len(breakerStates) && e.From != e.To {
			m.transitions.Add(ctx, 1, a.transitions[e.From][e.To])
		}
		return
	default:
		return
	}
	if e.Slow {
		m.slow.Add(ctx, 1, a.name)
	}
}

// Watch observes the state of the breakers for the bulwark.breaker.state
// gauge at every collection, until the registration is unregistered.
func (m *BreakerMetrics) Watch(breakers ...*breaker.Breaker) (metric.Registration, error) {
	bs := append([]*breaker.Breaker(nil), breakers...)
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, b := range bs {
			m.observeState(o, b)
		}
		return nil
	}, m.state)
}

// WatchGroup observes the state of every breaker of g (enumerated with
// g.All at each collection) for the bulwark.breaker.state gauge, until the
// registration is unregistered. A key evicted from the group is no longer
// reported.
func (m *BreakerMetrics) WatchGroup(g *breaker.Group) (metric.Registration, error) {
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, b := range g.All() {
			m.observeState(o, b)
		}
		return nil
	}, m.state)
}

func (m *BreakerMetrics) observeState(o metric.Observer, b *breaker.Breaker) {
	a := m.attrs.get(b.Name())
	s := b.State()
	for i, st := range breakerStates {
		var v int64
		if st == s {
			v = 1
		}
		o.ObserveInt64(m.state, v, a.state[i])
	}
}
