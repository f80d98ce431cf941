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
//	bulwark.breaker.calls              counter  {call}        name, outcome (success, failure, ignored)
//	bulwark.breaker.slow_calls         counter  {call}        name, outcome: calls that took at least SlowCall
//	bulwark.breaker.rejections         counter  {call}        name, reason (open, half_open, throttled)
//	bulwark.breaker.shadow_rejections  counter  {call}        name, reason: rejections Shadow mode let through
//	bulwark.breaker.probes             counter  {call}        name: probes a half-open breaker admitted
//	bulwark.breaker.transitions        counter  {transition}  name, from, to
//	bulwark.breaker.state              gauge    {breaker}     name, state: 1 for the current state, 0 for the others
//
// calls counts the admitted calls that ended; a rejected call is counted
// in rejections only, and a call that Shadow mode let through counts in
// shadow_rejections and then, when it ends, in calls. One BreakerMetrics
// serves any number of breakers, told apart by their names; it is safe for
// concurrent use.
type BreakerMetrics struct {
	meter       metric.Meter
	calls, slow metric.Int64Counter
	rejections  metric.Int64Counter
	shadow      metric.Int64Counter
	probes      metric.Int64Counter
	transitions metric.Int64Counter
	state       metric.Int64ObservableGauge
	attrs       byName[breakerAttrs]
}

// Values of the outcome attribute of calls, indexed like breakerAttrs.outcome.
const (
	outSuccess = iota
	outFailure
	outIgnored
	nBreakerOutcomes
)

var breakerOutcomeNames = [nBreakerOutcomes]string{"success", "failure", "ignored"}

// breakerReasons are the reason attribute's values, indexed by
// breaker.Reason; index 0 stands for a reason this package does not know.
var breakerReasons = [...]breaker.Reason{0, breaker.ReasonOpen, breaker.ReasonHalfOpen, breaker.ReasonThrottled}

func breakerReasonName(r breaker.Reason) string {
	if r == 0 {
		return "unknown"
	}
	return r.String()
}

type breakerAttrs struct {
	name        attrs
	outcome     [nBreakerOutcomes]attrs
	reason      [len(breakerReasons)]attrs
	transitions [len(breakerStates)][len(breakerStates)]attrs
	state       [len(breakerStates)]attrs
}

func newBreakerAttrs(name string) *breakerAttrs {
	n := keyName.String(name)
	a := &breakerAttrs{name: newAttrs(n)}
	for i, o := range breakerOutcomeNames {
		a.outcome[i] = newAttrs(n, keyOutcome.String(o))
	}
	for i, r := range breakerReasons {
		a.reason[i] = newAttrs(n, keyReason.String(breakerReasonName(r)))
	}
	for i, from := range stateNames {
		a.state[i] = newAttrs(n, keyState.String(from))
		for j, to := range stateNames {
			if i != j {
				a.transitions[i][j] = newAttrs(n, keyFrom.String(from), keyTo.String(to))
			}
		}
	}
	return a
}

// reasonAttrs returns the attributes of a rejection for reason r.
func (a *breakerAttrs) reasonAttrs(r breaker.Reason) []metric.AddOption {
	if int(r) >= len(a.reason) {
		r = 0
	}
	return a.reason[r].add
}

// Breaker creates the breaker instruments on meter and returns them; the
// error is the meter's, if it refused an instrument. Put Observe in the
// Config of each breaker (or Group, or ThrottleConfig) and pass the
// breakers to Watch (or the Group to WatchGroup) for the state gauge:
//
//	m, err := bulwarkotel.Breaker(meter)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	reg, err := m.Watch(b) // reg.Unregister() stops observing b
func Breaker(meter metric.Meter) (*BreakerMetrics, error) {
	m := &BreakerMetrics{meter: meter, attrs: byName[breakerAttrs]{build: newBreakerAttrs}}
	var errs [7]error
	m.calls, errs[0] = meter.Int64Counter("bulwark.breaker.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls a circuit breaker admitted that ended, by outcome."))
	m.slow, errs[1] = meter.Int64Counter("bulwark.breaker.slow_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls that ended after at least the breaker's SlowCall, by outcome."))
	m.rejections, errs[2] = meter.Int64Counter("bulwark.breaker.rejections", metric.WithUnit("{call}"),
		metric.WithDescription("Calls a circuit breaker or throttle refused, by reason."))
	m.shadow, errs[3] = meter.Int64Counter("bulwark.breaker.shadow_rejections", metric.WithUnit("{call}"),
		metric.WithDescription("Calls a breaker in Shadow mode would have refused and let through, by reason."))
	m.probes, errs[4] = meter.Int64Counter("bulwark.breaker.probes", metric.WithUnit("{call}"),
		metric.WithDescription("Probe calls admitted by half-open breakers."))
	m.transitions, errs[5] = meter.Int64Counter("bulwark.breaker.transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker state changes."))
	m.state, errs[6] = meter.Int64ObservableGauge("bulwark.breaker.state", metric.WithUnit("{breaker}"),
		metric.WithDescription("1 for the breaker's current state, 0 for the others."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// Observe records e; it is a breaker.Config.Observer (and a
// ThrottleConfig.Observer). It allocates nothing once e.Name has been
// seen, and ignores kinds it does not know.
func (m *BreakerMetrics) Observe(e breaker.Event) {
	ctx := context.Background()
	a := m.attrs.get(e.Name)
	var out int
	switch e.Kind {
	case breaker.EventSuccess:
		out = outSuccess
	case breaker.EventFailure:
		out = outFailure
	case breaker.EventIgnored:
		out = outIgnored
	case breaker.EventRejected:
		if e.Shadow {
			m.shadow.Add(ctx, 1, a.reasonAttrs(e.Reason)...)
		} else {
			m.rejections.Add(ctx, 1, a.reasonAttrs(e.Reason)...)
		}
		return
	case breaker.EventProbe:
		m.probes.Add(ctx, 1, a.name.add...)
		return
	case breaker.EventStateChange:
		if int(e.From) < len(breakerStates) && int(e.To) < len(breakerStates) && e.From != e.To {
			m.transitions.Add(ctx, 1, a.transitions[e.From][e.To].add...)
		}
		return
	default:
		return
	}
	m.calls.Add(ctx, 1, a.outcome[out].add...)
	if e.Slow {
		m.slow.Add(ctx, 1, a.outcome[out].add...)
	}
}

// Watch observes the state of the breakers for the bulwark.breaker.state
// gauge at every collection, under their names, until the registration is
// unregistered. The error is the meter's.
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
// reported. The error is the meter's.
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
		o.ObserveInt64(m.state, v, a.state[i].obs...)
	}
}
