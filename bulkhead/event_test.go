package bulkhead

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark"
)

var _ bulwark.Event = Event{}

// onReject is an observer that passes the error of every EventRejected to f.
func onReject(f func(error)) func(Event) {
	return func(e Event) {
		if e.Kind == EventRejected {
			f(e.Err)
		}
	}
}

func describe(e Event) string {
	s := e.Kind.String()
	switch e.Kind {
	case EventRejected:
		s += " " + e.Reason.String()
	case EventLimitChanged:
		s += fmt.Sprintf(" %d→%d", e.OldLimit, e.NewLimit)
	}
	if e.Waited != 0 {
		s += " waited " + e.Waited.String()
	}
	if e.RTT != 0 {
		s += " rtt " + e.RTT.String()
	}
	return s
}

// eventLog collects described events; safe for concurrent use.
type eventLog struct {
	mu   sync.Mutex
	name string
	got  []string
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Name != l.name {
		l.got = append(l.got, "wrong name "+e.Name)
	}
	l.got = append(l.got, describe(e))
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

func TestBulkheadEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &eventLog{name: "db"}
		b := mustNew(t, Config{Name: "db", MaxConcurrent: 1, MaxWaiting: 1, MaxWait: time.Second, Observer: log.observe})
		held, err := b.Acquire(t.Context())
		require.NoError(t, err)
		assert.Empty(t, log.take(), "admissions report nothing")

		_, ok := b.TryAcquire()
		require.False(t, ok)
		assert.Equal(t, []string{"rejected full"}, log.take())

		_, err = b.Acquire(t.Context()) // queued, then out of time
		require.ErrorIs(t, err, ErrTimeout)
		assert.Equal(t, []string{"rejected timeout waited 1s"}, log.take())

		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		_, err = b.Acquire(ctx)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, []string{"cancelled waited 300ms"}, log.take())

		var wg sync.WaitGroup
		wg.Go(func() { // fills the queue
			p, err := b.Acquire(t.Context())
			assert.NoError(t, err)
			p.Done(nil)
		})
		synctest.Wait()
		_, err = b.Acquire(t.Context())
		require.ErrorIs(t, err, ErrFull, "queue full")
		assert.Equal(t, []string{"rejected full"}, log.take())

		require.NoError(t, b.SetLimit(2)) // the waiter gets the new slot
		wg.Wait()
		require.NoError(t, b.SetLimit(2))
		require.NoError(t, b.SetLimit(1))
		held.Done(nil)
		assert.Equal(t, []string{"limit_changed 1→2", "limit_changed 2→1"}, log.take(), "SetLimit to the same limit reports nothing")

		s := b.Stats()
		assert.Equal(t, int64(2), s.RejectedFull)
		assert.Equal(t, int64(1), s.RejectedTimeout)
		assert.Equal(t, int64(1), s.Cancelled)
	})
}

func TestBulkheadRateLimitedEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var errs []error
		b := mustNew(t, Config{MaxConcurrent: 4, Rate: 1, Burst: 1, Observer: func(e Event) {
			assert.Equal(t, ReasonRateLimited, e.Reason)
			errs = append(errs, e.Err)
		}})
		p, ok := b.TryAcquire()
		require.True(t, ok)
		p.Done(nil)
		_, ok = b.TryAcquire()
		require.False(t, ok)
		require.Len(t, errs, 1)
		at, ok := bulwark.RetryAt(errs[0])
		require.True(t, ok, "the event carries the full rejection, with its next admission")
		assert.Equal(t, time.Now().Add(time.Second), at)
	})
}

func TestAdaptiveEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &eventLog{name: "api"}
		a, err := NewAdaptive(AdaptiveConfig{Name: "api", Algorithm: AIMD, InitialLimit: 4, MaxLimit: 10, WindowSize: 1, Observer: log.observe})
		require.NoError(t, err)
		var ps [4]Permit
		for i := range ps {
			var ok bool
			ps[i], ok = a.TryAcquire()
			require.True(t, ok)
		}
		_, ok := a.TryAcquire()
		require.False(t, ok)
		assert.Equal(t, []string{"rejected full"}, log.take())

		time.Sleep(10 * time.Millisecond)
		ps[0].Done(nil)
		ps[1].Done(nil)
		ps[2].Done(context.Canceled)
		ps[3].Dropped()
		// The window (the limit, 4 calls; the ignored one does not count)
		// is not full yet.
		assert.Equal(t, []string{"success rtt 10ms", "success rtt 10ms", "ignored", "dropped rtt 10ms"}, log.take())

		p, _ := a.TryAcquire()
		time.Sleep(20 * time.Millisecond)
		p.Done(nil) // the fourth sample: the window ends with a drop
		assert.Equal(t, []string{"success rtt 20ms", "limit_changed 4→3"}, log.take())
		assert.Equal(t, 3, a.Limit())

		require.NoError(t, a.SetLimit(5))
		assert.Equal(t, []string{"limit_changed 3→5"}, log.take())
	})
}

// TestObserverCallsSetLimit: an observer may change the limit of the
// limiter it observes; the change it makes is delivered after it returns.
func TestObserverCallsSetLimit(t *testing.T) {
	var got []string
	var b *Bulkhead
	b = mustNew(t, Config{MaxConcurrent: 1, Observer: func(e Event) {
		got = append(got, describe(e))
		_ = b.Stats()
		if e.Kind == EventRejected {
			require.NoError(t, b.SetLimit(3))
		}
		if e.Kind == EventLimitChanged && e.NewLimit == 3 {
			require.NoError(t, b.SetLimit(2))
			got = append(got, "returning")
		}
	}})
	mustTry(t, b)
	_, ok := b.TryAcquire()
	require.False(t, ok)
	assert.Equal(t, []string{"rejected full", "limit_changed 1→3", "returning", "limit_changed 3→2"}, got)

	var a *Adaptive
	got = nil
	a, err := NewAdaptive(AdaptiveConfig{InitialLimit: 1, Observer: func(e Event) {
		got = append(got, describe(e))
		if e.Kind == EventRejected {
			require.NoError(t, a.SetLimit(2))
		}
	}})
	require.NoError(t, err)
	_, ok = a.TryAcquire()
	require.True(t, ok)
	_, ok = a.TryAcquire()
	require.False(t, ok)
	assert.Equal(t, []string{"rejected full", "limit_changed 1→2"}, got)
}

// TestPanickingObserver: limiters whose observer always panics decide
// exactly as those without one; only ObserverPanics differs.
func TestPanickingObserver(t *testing.T) {
	script := func(t *testing.T, observer func(Event)) ([]string, Stats, AdaptiveStats) {
		b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 1, MaxWait: time.Second, Observer: observer})
		a, err := NewAdaptive(AdaptiveConfig{Algorithm: AIMD, InitialLimit: 2, WindowSize: 1, Observer: observer})
		require.NoError(t, err)
		var out []string
		held, _ := b.Acquire(t.Context())
		_, ok := b.TryAcquire()
		out = append(out, fmt.Sprint(ok))
		_, err = b.Acquire(t.Context())
		out = append(out, fmt.Sprint(err))
		out = append(out, fmt.Sprint(b.SetLimit(2)))
		held.Done(nil)
		for i := range 6 {
			p, ok := a.TryAcquire()
			q, ok2 := a.TryAcquire()
			_, ok3 := a.TryAcquire()
			time.Sleep(time.Millisecond)
			if i%3 == 0 {
				p.Dropped()
			} else {
				p.Done(nil)
			}
			q.Done(nil)
			out = append(out, fmt.Sprint(ok, ok2, ok3, a.Limit()))
		}
		return out, b.Stats(), a.Stats()
	}
	var want, got []string
	var wantB, gotB Stats
	var wantA, gotA AdaptiveStats
	var events int64
	synctest.Test(t, func(t *testing.T) { want, wantB, wantA = script(t, nil) })
	synctest.Test(t, func(t *testing.T) {
		got, gotB, gotA = script(t, func(Event) { events++; panic("observer") })
	})
	assert.Equal(t, want, got)
	assert.NotZero(t, events)
	assert.Equal(t, events, gotB.ObserverPanics+gotA.ObserverPanics)
	gotB.ObserverPanics, gotA.ObserverPanics = 0, 0
	assert.Equal(t, wantB, gotB)
	assert.Equal(t, wantA, gotA)
}
