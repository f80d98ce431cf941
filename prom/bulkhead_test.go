package bulwarkprom_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// TestBulkheadMetrics fills a one-slot bulkhead with a one-place queue and
// scripts each kind of refusal, then raises the limit.
func TestBulkheadMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Bulkhead()
		require.NoError(t, prometheus.NewPedanticRegistry().Register(m))
		b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 1, MaxWaiting: 1,
			MaxWait: 100 * time.Millisecond, Observer: m.Observe})
		require.NoError(t, err)
		stop := m.Watch("db", b)

		held, ok := b.TryAcquire()
		require.True(t, ok)
		_, ok = b.TryAcquire() // full: rejected at once
		require.False(t, ok)
		timedOut := make(chan error)
		go func() { _, err := b.Acquire(context.Background()); timedOut <- err }()
		synctest.Wait() // queued

		compare(t, m, `
# HELP bulwark_bulkhead_admissions_total Calls a concurrency limiter admitted.
# TYPE bulwark_bulkhead_admissions_total counter
bulwark_bulkhead_admissions_total{name="db"} 1
# HELP bulwark_bulkhead_in_flight Slots held right now.
# TYPE bulwark_bulkhead_in_flight gauge
bulwark_bulkhead_in_flight{name="db"} 1
# HELP bulwark_bulkhead_queued Callers waiting for a slot right now.
# TYPE bulwark_bulkhead_queued gauge
bulwark_bulkhead_queued{name="db"} 1
# HELP bulwark_bulkhead_limit The current concurrency limit.
# TYPE bulwark_bulkhead_limit gauge
bulwark_bulkhead_limit{name="db"} 1
`)

		_, err = b.Acquire(context.Background()) // the queue is full too
		require.ErrorIs(t, err, bulkhead.ErrFull)
		require.ErrorIs(t, <-timedOut, bulkhead.ErrTimeout) // after MaxWait
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan error)
		go func() { _, err := b.Acquire(ctx); cancelled <- err }()
		synctest.Wait()
		cancel()
		require.ErrorIs(t, <-cancelled, context.Canceled)
		require.NoError(t, b.SetLimit(2))
		held.Done(nil)

		compare(t, m, `
# HELP bulwark_bulkhead_rejections_total Calls a concurrency limiter refused, by reason.
# TYPE bulwark_bulkhead_rejections_total counter
bulwark_bulkhead_rejections_total{name="db",reason="full"} 2
bulwark_bulkhead_rejections_total{name="db",reason="rate_limited"} 0
bulwark_bulkhead_rejections_total{name="db",reason="timeout"} 1
# HELP bulwark_bulkhead_cancellations_total Queued callers whose context ended before a slot was free.
# TYPE bulwark_bulkhead_cancellations_total counter
bulwark_bulkhead_cancellations_total{name="db"} 1
# HELP bulwark_bulkhead_limit_changes_total Changes of a limiter's concurrency limit.
# TYPE bulwark_bulkhead_limit_changes_total counter
bulwark_bulkhead_limit_changes_total{name="db"} 1
# HELP bulwark_bulkhead_in_flight Slots held right now.
# TYPE bulwark_bulkhead_in_flight gauge
bulwark_bulkhead_in_flight{name="db"} 0
# HELP bulwark_bulkhead_queued Callers waiting for a slot right now.
# TYPE bulwark_bulkhead_queued gauge
bulwark_bulkhead_queued{name="db"} 0
# HELP bulwark_bulkhead_limit The current concurrency limit.
# TYPE bulwark_bulkhead_limit gauge
bulwark_bulkhead_limit{name="db"} 2
`)
		st := b.Stats()
		require.EqualValues(t, 2, st.RejectedFull)
		require.EqualValues(t, 1, st.RejectedTimeout)

		stop()
		require.Zero(t, testutil.CollectAndCount(m, "bulwark_bulkhead_in_flight"), "gauge collected after stop")
	})
}

// TestAdaptiveMetrics scripts an Adaptive limiter's samples and a
// rejection, and compares the exposition with testdata/adaptive.txt.
func TestAdaptiveMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Bulkhead()
		a, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{Name: "api", Algorithm: bulkhead.AIMD,
			InitialLimit: 1, MinLimit: 1, MaxLimit: 1, Observer: m.Observe})
		require.NoError(t, err)
		defer m.WatchAdaptive("api", a)()

		p, err := a.Acquire(context.Background())
		require.NoError(t, err)
		_, ok := a.TryAcquire() // the limit is 1
		require.False(t, ok)
		time.Sleep(50 * time.Millisecond)
		p.Done(nil)
		p, err = a.Acquire(context.Background())
		require.NoError(t, err)
		time.Sleep(250 * time.Millisecond)
		p.Dropped()

		compare(t, m, golden(t, "adaptive.txt"))
		require.Zero(t, testutil.CollectAndCount(m, "bulwark_bulkhead_queued"), "an Adaptive limiter has no queue")
	})
}
