package bulwarkprom

import (
	"github.com/bulwark-go/bulwark/retry"
	"github.com/prometheus/client_golang/prometheus"
)

// RetryMetrics is a prometheus.Collector for retriers, hedged calls and
// their transports (package retry). Its Observe method, set as
// Config.Observer (or HedgeConfig.Observer), counts their events; the token
// budgets given to WatchBudget are read at each scrape:
//
//	bulwark_retry_calls_total{name,outcome}      counter: calls that ended (success, failure)
//	bulwark_retry_attempts_total{name,outcome}   counter: the attempts of those calls
//	bulwark_retry_retries_total{name,reason}     counter: retries scheduled (error, not_attempted)
//	bulwark_retry_budget_refusals_total{name}    counter: retries or hedges the budget refused
//	bulwark_retry_delay_seconds{name}            histogram: the wait before each retry of an error
//	bulwark_retry_hedges_total{name}             counter: hedged attempts started
//	bulwark_retry_hedge_wins_total{name}         counter: hedged attempts whose result was returned
//	bulwark_retry_budget_tokens{name}            gauge: tokens of each watched TokenBudget
//
// attempts divided by calls is the load amplification the retries cause. A
// retry with reason not_attempted follows a local rejection by a guard
// below (it waits no backoff, so it has no delay sample). One RetryMetrics
// serves any number of retriers, told apart by their names; register it
// once per registry. It is safe for concurrent use.
type RetryMetrics struct {
	calls, attempts, retries, refusals, hedges, wins *prometheus.CounterVec
	delay                                            *prometheus.HistogramVec
	tokens                                           *prometheus.Desc
	children                                         byName[retryChildren]
	budgets                                          watchList[namedBudget]
}

// retryChildren are one name's series: those every retrier reports are
// created at zero with the first event of the name; budget refusals,
// hedges and the delay histogram appear with their first event.
type retryChildren struct {
	success, failure                 prometheus.Counter
	attemptsSuccess, attemptsFailure prometheus.Counter
	retryError, retryNotAttempted    prometheus.Counter
	refusals, hedges, wins           *lazyCounter
	delay                            *lazyObserver
}

type namedBudget struct {
	name   string
	budget *retry.TokenBudget
}

// Retry returns a RetryMetrics with no budget watched yet. Register it,
// and put its Observe in the Config of each Retrier (or HedgeConfig):
//
//	m := bulwarkprom.Retry()
//	prometheus.MustRegister(m)
//	r, err := retry.New(retry.Config{Name: "payments", Observer: m.Observe})
func Retry() *RetryMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &RetryMetrics{
		calls:    counter("bulwark_retry_calls_total", "Calls through a retry loop that ended, by outcome.", "name", "outcome"),
		attempts: counter("bulwark_retry_attempts_total", "Attempts made by the calls that ended, by the call's outcome.", "name", "outcome"),
		retries:  counter("bulwark_retry_retries_total", "Retries scheduled, by the reason of the failed attempt.", "name", "reason"),
		refusals: counter("bulwark_retry_budget_refusals_total", "Retries or hedges the retry budget refused.", "name"),
		hedges:   counter("bulwark_retry_hedges_total", "Hedged attempts started.", "name"),
		wins:     counter("bulwark_retry_hedge_wins_total", "Hedged attempts whose result was returned.", "name"),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bulwark_retry_delay_seconds",
			Help: "Wait before a retry (backoff, or a longer server hint).", Buckets: durationBuckets}, []string{"name"}),
		tokens: prometheus.NewDesc("bulwark_retry_budget_tokens",
			"Tokens in a retry budget; retries stop below half its size.", []string{"name"}, nil),
	}
	m.children.build = func(name string) *retryChildren {
		return &retryChildren{
			success:           m.calls.WithLabelValues(name, "success"),
			failure:           m.calls.WithLabelValues(name, "failure"),
			attemptsSuccess:   m.attempts.WithLabelValues(name, "success"),
			attemptsFailure:   m.attempts.WithLabelValues(name, "failure"),
			retryError:        m.retries.WithLabelValues(name, "error"),
			retryNotAttempted: m.retries.WithLabelValues(name, "not_attempted"),
			refusals:          newLazyCounter(m.refusals, name),
			hedges:            newLazyCounter(m.hedges, name),
			wins:              newLazyCounter(m.wins, name),
			delay:             newLazyObserver(m.delay, name),
		}
	}
	return m
}

// Observe counts e; it is a retry.Config.Observer (and a
// HedgeConfig.Observer). It allocates nothing once a name has been seen,
// and ignores kinds it does not know.
func (m *RetryMetrics) Observe(e retry.Event) {
	c := m.children.get(e.Name)
	switch e.Kind {
	case retry.EventSuccess:
		c.success.Inc()
		c.attemptsSuccess.Add(float64(e.Attempt))
	case retry.EventFailure:
		c.failure.Inc()
		c.attemptsFailure.Add(float64(e.Attempt))
	case retry.EventRetry:
		if e.NotAttempted {
			c.retryNotAttempted.Inc()
			return
		}
		c.retryError.Inc()
		c.delay.Observe(e.Delay.Seconds())
	case retry.EventBudgetRefused:
		c.refusals.Inc()
	case retry.EventHedge:
		c.hedges.Inc()
	case retry.EventHedgeWon:
		c.wins.Inc()
	}
}

// WatchBudget reads the tokens of b, under the given name, at each scrape,
// until stop is called.
func (m *RetryMetrics) WatchBudget(name string, b *retry.TokenBudget) (stop func()) {
	return m.budgets.add(namedBudget{name, b})
}

// Describe implements prometheus.Collector.
func (m *RetryMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range []*prometheus.CounterVec{m.calls, m.attempts, m.retries, m.refusals, m.hedges, m.wins} {
		v.Describe(ch)
	}
	m.delay.Describe(ch)
	ch <- m.tokens
}

// Collect implements prometheus.Collector.
func (m *RetryMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, v := range []*prometheus.CounterVec{m.calls, m.attempts, m.retries, m.refusals, m.hedges, m.wins} {
		v.Collect(ch)
	}
	m.delay.Collect(ch)
	for _, b := range m.budgets.snapshot() {
		gauge(ch, m.tokens, b.budget.Tokens(), b.name)
	}
}
