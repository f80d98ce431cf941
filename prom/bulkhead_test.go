package bulwarkprom_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// TestBulkheadMetrics fills a one-slot bulkhead with a one-place queue and
// scripts each kind of refusal, then raises the limit, comparing the
// complete exposition with testdata/bulkhead_queued.txt (one caller
// queued) and testdata/bulkhead.txt (the end). A plain Bulkhead reports no
// duration sample, so neither shows a histogram.
func TestBulkheadMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Bulkhead()
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
		compareGolden(t, m, "bulkhead_queued.txt")

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
		compareGolden(t, m, "bulkhead.txt")

		// The golden text agrees with the bulkhead's own counters.
		st := b.Stats()
		require.Equal(t, bulkhead.Stats{Limit: 2, Available: 2, Admitted: 1, RejectedFull: 2, RejectedTimeout: 1, Cancelled: 1},
			bulkhead.Stats{Limit: st.Limit, Available: st.Available, Admitted: st.Admitted, RejectedFull: st.RejectedFull,
				RejectedTimeout: st.RejectedTimeout, Cancelled: st.Cancelled})

		stop()
		require.Zero(t, testutil.CollectAndCount(m, "bulwark_bulkhead_in_flight"), "gauge collected after stop")
	})
}

// TestAdaptiveMetrics scripts an Adaptive limiter's samples and a
// rejection, and compares the complete exposition with
// testdata/adaptive.txt: no queue gauge, and a histogram per outcome.
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

		compareGolden(t, m, "adaptive.txt")
	})
}

// TestBulkheadObserveKinds feeds Observe a rate-limited rejection, an
// ignored call (not counted), and a reason and a kind it does not know.
func TestBulkheadObserveKinds(t *testing.T) {
	m := bulwarkprom.Bulkhead()
	for _, e := range []bulkhead.Event{
		{Kind: bulkhead.EventRejected, Reason: bulkhead.ReasonRateLimited},
		{Kind: bulkhead.EventRejected, Reason: 99},
		{Kind: bulkhead.EventIgnored, Err: errDown},
		{Kind: 99},
	} {
		e.Name = "x"
		m.Observe(e)
	}
	compare(t, m, `
# HELP bulwark_bulkhead_rejections_total Calls a concurrency limiter refused, by reason.
# TYPE bulwark_bulkhead_rejections_total counter
bulwark_bulkhead_rejections_total{name="x",reason="full"} 0
bulwark_bulkhead_rejections_total{name="x",reason="rate_limited"} 1
bulwark_bulkhead_rejections_total{name="x",reason="timeout"} 0
bulwark_bulkhead_rejections_total{name="x",reason="unknown"} 1
`)
	require.Zero(t, testutil.CollectAndCount(m, "bulwark_bulkhead_call_duration_seconds"), "an ignored call has no sample")
}
