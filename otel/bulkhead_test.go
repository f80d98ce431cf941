package bulwarkotel_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBulkheadMetrics fills a one-slot bulkhead with a one-place queue and
// scripts each kind of refusal, then raises the limit.
func TestBulkheadMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Bulkhead(meter)
		require.NoError(t, err)
		b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 1, MaxWaiting: 1,
			MaxWait: 100 * time.Millisecond, Observer: m.Observe})
		require.NoError(t, err)
		reg, err := m.Watch("db", b)
		require.NoError(t, err)
		defer func() { require.NoError(t, reg.Unregister()) }()

		held, ok := b.TryAcquire()
		require.True(t, ok)
		_, ok = b.TryAcquire() // full: rejected at once
		require.False(t, ok)

		timedOut := make(chan error)
		go func() { _, err := b.Acquire(context.Background()); timedOut <- err }()
		synctest.Wait() // queued
		c := collect(t, reader)
		assert.Equal(t, map[string]int64{"name=db": 1}, c.values(t, "bulwark.bulkhead.in_flight"))
		assert.Equal(t, map[string]int64{"name=db": 1}, c.values(t, "bulwark.bulkhead.queued"))
		assert.Equal(t, map[string]int64{"name=db": 1}, c.values(t, "bulwark.bulkhead.limit"))
		assert.Equal(t, map[string]int64{"name=db": 1}, c.values(t, "bulwark.bulkhead.admissions"))

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

		c = collect(t, reader)
		assert.Equal(t, map[string]int64{
			"name=db,reason=full":    2,
			"name=db,reason=timeout": 1,
		}, c.values(t, "bulwark.bulkhead.rejections"))
		assert.Equal(t, map[string]int64{"name=db": 1}, c.values(t, "bulwark.bulkhead.cancellations"))
		assert.Equal(t, map[string]int64{"name=db": 1}, c.values(t, "bulwark.bulkhead.limit_changes"))
		assert.Equal(t, map[string]int64{"name=db": 0}, c.values(t, "bulwark.bulkhead.in_flight"))
		assert.Equal(t, map[string]int64{"name=db": 0}, c.values(t, "bulwark.bulkhead.queued"))
		assert.Equal(t, map[string]int64{"name=db": 2}, c.values(t, "bulwark.bulkhead.limit"))

		st := b.Stats()
		assert.Equal(t, int64(st.RejectedFull), c.values(t, "bulwark.bulkhead.rejections")["name=db,reason=full"])
		assert.Equal(t, int64(st.Cancelled), c.values(t, "bulwark.bulkhead.cancellations")["name=db"])
	})
}

// TestAdaptiveMetrics scripts an Adaptive limiter's samples and a
// rejection.
func TestAdaptiveMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Bulkhead(meter)
		require.NoError(t, err)
		a, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{Name: "api", Algorithm: bulkhead.AIMD,
			InitialLimit: 1, MinLimit: 1, MaxLimit: 1, Observer: m.Observe})
		require.NoError(t, err)
		reg, err := m.WatchAdaptive("api", a)
		require.NoError(t, err)
		defer func() { require.NoError(t, reg.Unregister()) }()

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

		c := collect(t, reader)
		assert.Equal(t, map[string]int64{"name=api,reason=full": 1}, c.values(t, "bulwark.bulkhead.rejections"))
		d := c.histogram(t, "bulwark.bulkhead.call.duration")
		require.Len(t, d, 2)
		assert.Equal(t, uint64(1), d["name=api,outcome=success"].Count)
		assert.InDelta(t, 0.05, d["name=api,outcome=success"].Sum, 1e-9)
		assert.Equal(t, uint64(1), d["name=api,outcome=dropped"].Count)
		assert.InDelta(t, 0.25, d["name=api,outcome=dropped"].Sum, 1e-9)
		assert.Equal(t, map[string]int64{"name=api": 2}, c.values(t, "bulwark.bulkhead.admissions"))
		assert.Equal(t, map[string]int64{"name=api": 0}, c.values(t, "bulwark.bulkhead.in_flight"))
		assert.Equal(t, map[string]int64{"name=api": 1}, c.values(t, "bulwark.bulkhead.limit"))
		_, hasQueue := c["bulwark.bulkhead.queued"]
		assert.False(t, hasQueue, "an Adaptive limiter has no queue")
	})
}

// TestBulkheadObserveKinds feeds Observe the events a script does not
// produce above: a rate-limited rejection, an Adaptive limiter's ignored
// call, and a reason and kind it does not know.
func TestBulkheadObserveKinds(t *testing.T) {
	meter, reader := newMeter(t)
	m, err := bulwarkotel.Bulkhead(meter)
	require.NoError(t, err)
	m.Observe(bulkhead.Event{Kind: bulkhead.EventRejected, Name: "x", Reason: bulkhead.ReasonRateLimited})
	m.Observe(bulkhead.Event{Kind: bulkhead.EventRejected, Name: "x", Reason: 99})
	m.Observe(bulkhead.Event{Kind: bulkhead.EventIgnored, Name: "x", Err: errDown})
	m.Observe(bulkhead.Event{Kind: 99, Name: "x"})

	c := collect(t, reader)
	assert.Equal(t, map[string]int64{"name=x,reason=rate_limited": 1, "name=x,reason=unknown": 1},
		c.values(t, "bulwark.bulkhead.rejections"))
	assert.Len(t, c, 1, "instruments recorded")
}
