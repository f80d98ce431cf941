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
//	bulwark_breaker_calls_total{name,outcome}              counter: admitted calls that ended (success, failure, ignored)
//	bulwark_breaker_slow_calls_total{name,outcome}         counter: calls that took at least SlowCall
//	bulwark_breaker_rejections_total{name,reason}          counter: calls refused (open, half_open, throttled)
//	bulwark_breaker_shadow_rejections_total{name,reason}   counter: rejections Shadow mode let through
//	bulwark_breaker_probes_total{name}                     counter: probes a half-open breaker admitted
//	bulwark_breaker_transitions_total{name,from,to}        counter
//	bulwark_breaker_state{name,state}                      gauge: 1 for the current state, 0 for the others
//
// calls counts the admitted calls that ended; a rejected call is counted
// in rejections only, and a call that Shadow mode let through counts in
// shadow_rejections and then, when it ends, in calls. One BreakerMetrics
// serves any number of breakers, told apart by their names; register it
// once per registry. It is safe for concurrent use.
type BreakerMetrics struct {
	calls, slow, rejections, shadow, probes, transitions *prometheus.CounterVec
	state                                                *prometheus.Desc
	children                                             byName[breakerChildren]
	breakers                                             watchList[*breaker.Breaker]
	groups                                               watchList[*breaker.Group]
}

// Values of the outcome label of calls, indexed like breakerChildren.calls.
const (
	outSuccess = iota
	outFailure
	outIgnored
	nBreakerOutcomes
)

var breakerOutcomeNames = [nBreakerOutcomes]string{"success", "failure", "ignored"}

// breakerReasons are the reason label's values, indexed by breaker.Reason
// (index 0 is unused: a reason this package does not know is counted as
// "unknown", created on first use).
var breakerReasons = [...]breaker.Reason{0, breaker.ReasonOpen, breaker.ReasonHalfOpen, breaker.ReasonThrottled}

// breakerChildren are one name's series: calls by outcome, rejections by
// reason, probes and transitions are created at zero with the first event
// of the name; slow calls and shadow rejections, which need a Config
// option, appear with their first event.
type breakerChildren struct {
	name        string
	calls       [nBreakerOutcomes]prometheus.Counter
	slow        [nBreakerOutcomes]*lazyCounter
	rejections  [len(breakerReasons)]prometheus.Counter
	shadow      [len(breakerReasons)]*lazyCounter
	probes      prometheus.Counter
	transitions [len(breakerStates)][len(breakerStates)]prometheus.Counter
}

// Breaker returns a BreakerMetrics with no breaker watched yet. Register
// it, put its Observe in the Config of each breaker (or Group, or
// ThrottleConfig), and pass the breakers to Watch (the Group to
// WatchGroup) for the state gauge:
//
//	m := bulwarkprom.Breaker()
//	prometheus.MustRegister(m)
//	b, err := breaker.New(breaker.Config{Name: "payments", Observer: m.Observe})
//	stop := m.Watch(b)
func Breaker() *BreakerMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &BreakerMetrics{
		calls: counter("bulwark_breaker_calls_total",
			"Calls a circuit breaker admitted that ended, by outcome.", "name", "outcome"),
		slow: counter("bulwark_breaker_slow_calls_total",
			"Calls that ended after at least the breaker's SlowCall, by outcome.", "name", "outcome"),
		rejections: counter("bulwark_breaker_rejections_total",
			"Calls a circuit breaker or throttle refused, by reason.", "name", "reason"),
		shadow: counter("bulwark_breaker_shadow_rejections_total",
			"Calls a breaker in Shadow mode would have refused and let through, by reason.", "name", "reason"),
		probes: counter("bulwark_breaker_probes_total",
			"Probe calls admitted by half-open breakers.", "name"),
		transitions: counter("bulwark_breaker_transitions_total",
			"Circuit breaker state changes.", "name", "from", "to"),
		state: prometheus.NewDesc("bulwark_breaker_state",
			"1 for the breaker's current state, 0 for the others.", []string{"name", "state"}, nil),
	}
	m.children.build = func(name string) *breakerChildren {
		c := &breakerChildren{name: name, probes: m.probes.WithLabelValues(name)}
		for i, o := range breakerOutcomeNames {
			c.calls[i] = m.calls.WithLabelValues(name, o)
			c.slow[i] = newLazyCounter(m.slow, name, o)
		}
		for r := 1; r < len(breakerReasons); r++ {
			reason := breakerReasons[r].String()
			c.rejections[r] = m.rejections.WithLabelValues(name, reason)
			c.shadow[r] = newLazyCounter(m.shadow, name, reason)
		}
		for i, from := range stateNames {
			for j, to := range stateNames {
				if i != j { // a state change is between two states
					c.transitions[i][j] = m.transitions.WithLabelValues(name, from, to)
				}
			}
		}
		return c
	}
	return m
}

// Observe counts e; it is a breaker.Config.Observer (and a
// ThrottleConfig.Observer). It allocates nothing once a name has been
// seen, and ignores kinds it does not know.
func (m *BreakerMetrics) Observe(e breaker.Event) {
	c := m.children.get(e.Name)
	var out int
	switch e.Kind {
	case breaker.EventSuccess:
		out = outSuccess
	case breaker.EventFailure:
		out = outFailure
	case breaker.EventIgnored:
		out = outIgnored
	case breaker.EventRejected:
		m.rejected(c, e)
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
	c.calls[out].Inc()
	if e.Slow {
		c.slow[out].Inc()
	}
}

func (m *BreakerMetrics) rejected(c *breakerChildren, e breaker.Event) {
	r := int(e.Reason)
	if r == 0 || r >= len(breakerReasons) {
		vec := m.rejections
		if e.Shadow {
			vec = m.shadow
		}
		vec.WithLabelValues(c.name, "unknown").Inc() // rare: allocates
		return
	}
	if e.Shadow {
		c.shadow[r].Inc()
	} else {
		c.rejections[r].Inc()
	}
}

// Watch reads the breakers' state at each scrape, under their names, until
// stop is called. A breaker watched twice (or also through WatchGroup) is
// reported once.
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
	for _, v := range []*prometheus.CounterVec{m.calls, m.slow, m.rejections, m.shadow, m.probes, m.transitions} {
		v.Describe(ch)
	}
	ch <- m.state
}

// Collect implements prometheus.Collector.
func (m *BreakerMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, v := range []*prometheus.CounterVec{m.calls, m.slow, m.rejections, m.shadow, m.probes, m.transitions} {
		v.Collect(ch)
	}
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
	for i, st := range breakerStates {
		v := 0.0
		if st == s {
			v = 1
		}
		gauge(ch, m.state, v, b.Name(), stateNames[i])
	}
}
