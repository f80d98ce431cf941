package bulwarkprom

import (
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/prometheus/client_golang/prometheus"
)

// BreakerMetrics is a prometheus.Collector for circuit breakers and
// adaptive throttles (package breaker). Its Observe method, set as the
// breakers' Config.Observer, counts their events; the breakers given to
// Watch and WatchGroup are read at each scrape for the state gauge:
//
//	bulwark_breaker_calls_total{name,outcome}      counter
//	bulwark_breaker_slow_calls_total{name}         counter
//	bulwark_breaker_probes_total{name}             counter
//	bulwark_breaker_transitions_total{name,from,to} counter
//	bulwark_breaker_state{name,state}              gauge: 1 for the current state, 0 for the others
//
// outcome is success, failure, ignored, rejected, or shadow_rejected (a
// call that Config.Shadow let through, which also counts with its own
// outcome when it ends). One BreakerMetrics serves any number of breakers,
// told apart by their names; register it once per registry. It is safe for
// concurrent use.
type BreakerMetrics struct {
	calls, slow, probes, transitions *prometheus.CounterVec
	state                            *prometheus.Desc
	children                         byName[breakerChildren]
	breakers                         watchList[*breaker.Breaker]
	groups                           watchList[*breaker.Group]
}

var breakerStates = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen}

// breakerChildren are one name's counters.
type breakerChildren struct {
	success, failure, ignored, rejected, shadowRejected prometheus.Counter
	slow, probes                                        prometheus.Counter
	transitions                                         [3][3]prometheus.Counter
}

// Breaker returns a BreakerMetrics with no breaker watched yet:
//
//	m := bulwarkprom.Breaker()
//	prometheus.MustRegister(m)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	m.Watch(b)
func Breaker() *BreakerMetrics {
	m := &BreakerMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_breaker_calls_total",
			Help: "Calls that a circuit breaker finished or rejected, by outcome."}, []string{"name", "outcome"}),
		slow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_breaker_slow_calls_total",
			Help: "Finished calls that took at least the breaker's SlowCall."}, []string{"name"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_breaker_probes_total",
			Help: "Probe calls admitted by half-open breakers."}, []string{"name"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_breaker_transitions_total",
			Help: "Circuit breaker state changes."}, []string{"name", "from", "to"}),
		state: prometheus.NewDesc("bulwark_breaker_state",
			"1 for the breaker's current state, 0 for the others.", []string{"name", "state"}, nil),
	}
	m.children.build = func(name string) *breakerChildren {
		c := &breakerChildren{
			success:        m.calls.WithLabelValues(name, "success"),
			failure:        m.calls.WithLabelValues(name, "failure"),
			ignored:        m.calls.WithLabelValues(name, "ignored"),
			rejected:       m.calls.WithLabelValues(name, "rejected"),
			shadowRejected: m.calls.WithLabelValues(name, "shadow_rejected"),
			slow:           m.slow.WithLabelValues(name),
			probes:         m.probes.WithLabelValues(name),
		}
		for i, from := range breakerStates {
			for j, to := range breakerStates {
				if i != j { // a state change is between two states
					c.transitions[i][j] = m.transitions.WithLabelValues(name, from.String(), to.String())
				}
			}
		}
		return c
	}
	return m
}

// Observe counts e; it is a breaker.Config.Observer (and a
// ThrottleConfig.Observer). It allocates nothing once a name has been seen.
func (m *BreakerMetrics) Observe(e breaker.Event) {
	c := m.children.get(e.Name)
	switch e.Kind {
	case breaker.EventSuccess:
		c.success.Inc()
	case breaker.EventFailure:
		c.failure.Inc()
	case breaker.EventIgnored:
		c.ignored.Inc()
	case breaker.EventRejected:
		if e.Shadow {
			c.shadowRejected.Inc()
		} else {
			c.rejected.Inc()
		}
		return
	case breaker.EventProbe:
		c.probes.Inc()
		return
	case breaker.EventStateChange:
		if int(e.From) < len(breakerStates) && int(e.To) < len(breakerStates) && e.From != e.To {
			c.transitions[e.From][e.To].Inc()
		}
		return
	default:
		return
	}
	if e.Slow {
		c.slow.Inc()
	}
}

// Watch reads the breakers' state at each scrape, until stop is called.
func (m *BreakerMetrics) Watch(breakers ...*breaker.Breaker) (stop func()) {
	return m.breakers.add(breakers...)
}

// WatchGroup reads the state of every breaker of g (enumerated with g.All)
// at each scrape, until stop is called. A key evicted from the group is no
// longer reported.
func (m *BreakerMetrics) WatchGroup(g *breaker.Group) (stop func()) {
	return m.groups.add(g)
}

// Describe implements prometheus.Collector.
func (m *BreakerMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.calls.Describe(ch)
	m.slow.Describe(ch)
	m.probes.Describe(ch)
	m.transitions.Describe(ch)
	ch <- m.state
}

// Collect implements prometheus.Collector.
func (m *BreakerMetrics) Collect(ch chan<- prometheus.Metric) {
	m.calls.Collect(ch)
	m.slow.Collect(ch)
	m.probes.Collect(ch)
	m.transitions.Collect(ch)
	seen := map[*breaker.Breaker]bool{}
	for _, b := range m.breakers.snapshot() {
		m.collectState(ch, b, seen)
	}
	for _, g := range m.groups.snapshot() {
		for _, b := range g.All() {
			m.collectState(ch, b, seen)
		}
	}
}

// collectState sends b's state gauge, once per breaker however often it is
// watched (a registry rejects duplicate series).
func (m *BreakerMetrics) collectState(ch chan<- prometheus.Metric, b *breaker.Breaker, seen map[*breaker.Breaker]bool) {
	if seen[b] {
		return
	}
	seen[b] = true
	s := b.State()
	for _, st := range breakerStates {
		v := 0.0
		if st == s {
			v = 1
		}
		gauge(ch, m.state, v, b.Name(), st.String())
	}
}
