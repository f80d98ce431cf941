package bulwarkotel

import (
	"context"
	"errors"

	"github.com/bulwark-go/bulwark/retry"
	"go.opentelemetry.io/otel/metric"
)

// RetryMetrics records the events of retriers, hedged calls and their
// transports (package retry) as OpenTelemetry instruments:
//
//	bulwark.retry.calls            counter    {call}     name, outcome (success, failure)
//	bulwark.retry.attempts         counter    {attempt}  name, outcome: the attempts of the calls that ended
//	bulwark.retry.retries          counter    {retry}    name, reason (error, not_attempted)
//	bulwark.retry.budget_refusals  counter    {retry}    name: retries or hedges the budget refused
//	bulwark.retry.delay            histogram  s          name: the wait before each retry of an error
//	bulwark.retry.hedges           counter    {attempt}  name: hedged attempts started
//	bulwark.retry.hedge_wins       counter    {attempt}  name: hedged attempts whose result was returned
//	bulwark.retry.budget.tokens    gauge      {token}    name: tokens of each watched TokenBudget
//
// attempts divided by calls is the load amplification the retries cause. A
// retry with reason not_attempted follows a local rejection by a guard
// below (it waits no backoff, so it has no delay sample). One RetryMetrics
// serves any number of retriers, told apart by their names; it is safe for
// concurrent use.
type RetryMetrics struct {
	meter                              metric.Meter
	calls, attempts, retries, refusals metric.Int64Counter
	hedges, hedgeWins                  metric.Int64Counter
	delay                              metric.Float64Histogram
	tokens                             metric.Float64ObservableGauge
	attrs                              byName[retryAttrs]
}

type retryAttrs struct {
	name                     attrs
	success, failure         attrs
	retryError, notAttempted attrs
}

func newRetryAttrs(name string) *retryAttrs {
	n := keyName.String(name)
	return &retryAttrs{
		name:         newAttrs(n),
		success:      newAttrs(n, keyOutcome.String("success")),
		failure:      newAttrs(n, keyOutcome.String("failure")),
		retryError:   newAttrs(n, keyReason.String("error")),
		notAttempted: newAttrs(n, keyReason.String("not_attempted")),
	}
}

// Retry creates the retry instruments on meter and returns them; the error
// is the meter's, if it refused an instrument. Put Observe in the Config of
// each Retrier (or HedgeConfig), and pass a shared TokenBudget to
// WatchBudget for its gauge:
//
//	m, err := bulwarkotel.Retry(meter)
//	r, err := retry.New(retry.Config{Name: "payments", Observer: m.Observe})
func Retry(meter metric.Meter) (*RetryMetrics, error) {
	m := &RetryMetrics{meter: meter, attrs: byName[retryAttrs]{build: newRetryAttrs}}
	var errs [8]error
	m.calls, errs[0] = meter.Int64Counter("bulwark.retry.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls through a retry loop that ended, by outcome."))
	m.attempts, errs[1] = meter.Int64Counter("bulwark.retry.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts made by the calls that ended, by the call's outcome."))
	m.retries, errs[2] = meter.Int64Counter("bulwark.retry.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Retries scheduled, by the reason of the failed attempt."))
	m.refusals, errs[3] = meter.Int64Counter("bulwark.retry.budget_refusals", metric.WithUnit("{retry}"),
		metric.WithDescription("Retries or hedges the retry budget refused."))
	m.delay, errs[4] = meter.Float64Histogram("bulwark.retry.delay", metric.WithUnit("s"),
		metric.WithDescription("Wait before a retry (backoff, or a longer server hint)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	m.hedges, errs[5] = meter.Int64Counter("bulwark.retry.hedges", metric.WithUnit("{attempt}"),
		metric.WithDescription("Hedged attempts started."))
	m.hedgeWins, errs[6] = meter.Int64Counter("bulwark.retry.hedge_wins", metric.WithUnit("{attempt}"),
		metric.WithDescription("Hedged attempts whose result was returned."))
	m.tokens, errs[7] = meter.Float64ObservableGauge("bulwark.retry.budget.tokens", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens in a retry budget; retries stop below half its size."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return m, nil
}

// Observe records e; it is a retry.Config.Observer (and a
// HedgeConfig.Observer). It allocates nothing once e.Name has been seen,
// and ignores kinds it does not know.
func (m *RetryMetrics) Observe(e retry.Event) {
	ctx := context.Background()
	a := m.attrs.get(e.Name)
	switch e.Kind {
	case retry.EventSuccess:
		m.calls.Add(ctx, 1, a.success.add...)
		m.attempts.Add(ctx, int64(e.Attempt), a.success.add...)
	case retry.EventFailure:
		m.calls.Add(ctx, 1, a.failure.add...)
		m.attempts.Add(ctx, int64(e.Attempt), a.failure.add...)
	case retry.EventRetry:
		if e.NotAttempted {
			m.retries.Add(ctx, 1, a.notAttempted.add...)
			return
		}
		m.retries.Add(ctx, 1, a.retryError.add...)
		m.delay.Record(ctx, seconds(e.Delay), a.name.rec...)
	case retry.EventBudgetRefused:
		m.refusals.Add(ctx, 1, a.name.add...)
	case retry.EventHedge:
		m.hedges.Add(ctx, 1, a.name.add...)
	case retry.EventHedgeWon:
		m.hedgeWins.Add(ctx, 1, a.name.add...)
	}
}

// WatchBudget observes the tokens of b, under the given name, for the
// bulwark.retry.budget.tokens gauge at every collection, until the
// registration is unregistered. The error is the meter's.
func (m *RetryMetrics) WatchBudget(name string, b *retry.TokenBudget) (metric.Registration, error) {
	a := m.attrs.get(name)
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveFloat64(m.tokens, b.Tokens(), a.name.obs...)
		return nil
	}, m.tokens)
}
