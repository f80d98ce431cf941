package bulkhead

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Raising the limit admits queued callers oldest first, as many as the new
// slots, and leaves the rest queued in their order.
func TestSetLimitGrowAdmitsQueuedInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 10})
		holder := mustTry(t, b)
		var mu sync.Mutex
		var order []int
		release := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				p, err := b.Acquire(context.Background())
				require.NoError(t, err)
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				<-release
				p.Done(nil)
			})
			synctest.Wait() // caller i is queued before i+1 comes
		}
		admitted := func() []int { // who holds a slot, whatever order they woke in
			mu.Lock()
			defer mu.Unlock()
			return slices.Sorted(slices.Values(order))
		}
		require.NoError(t, b.SetLimit(3))
		synctest.Wait()
		assert.Equal(t, []int{0, 1}, admitted(), "two new slots: the two oldest waiters")
		s := b.Stats()
		assert.Equal(t, int64(3), s.Limit)
		assert.Equal(t, int64(3), s.InFlight)
		assert.Equal(t, int64(4), s.Waiting)
		_, ok := b.TryAcquire()
		assert.False(t, ok, "a newcomer must not overtake the queue")

		require.NoError(t, b.SetLimit(4))
		synctest.Wait()
		assert.Equal(t, []int{0, 1, 2}, admitted(), "one new slot: the oldest waiter left")

		require.NoError(t, b.SetLimit(7))
		synctest.Wait()
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, admitted())
		assert.Equal(t, int64(0), b.Stats().Waiting)
		assert.Equal(t, int64(7), b.Stats().InFlight)

		close(release)
		wg.Wait()
		holder.Done(nil)
		s = b.Stats()
		assert.Equal(t, int64(7), s.Available)
		assert.Zero(t, s.Misuse)
		assertExactlyFits(t, b, 7)
	})
}

// Lowering the limit lets the calls in flight finish; new calls are refused
// (or queue) until fewer than the new limit are in flight.
func TestSetLimitShrinkWaitsForInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 4, MaxWaiting: 1})
		held := make([]Permit, 4)
		for i := range held {
			held[i] = mustTry(t, b)
		}
		require.NoError(t, b.SetLimit(2))
		s := b.Stats()
		assert.Equal(t, Stats{Limit: 2, InFlight: 4, Admitted: 4}, s)

		queued := make(chan Permit)
		go func() {
			p, err := b.Acquire(context.Background())
			assert.NoError(t, err)
			queued <- p
		}()
		synctest.Wait()
		assert.Equal(t, int64(1), b.Stats().Waiting)

		held[0].Done(nil)
		held[1].Done(nil)
		synctest.Wait()
		_, ok := b.TryAcquire()
		assert.False(t, ok, "2 in flight: at the new limit")
		assert.Equal(t, int64(1), b.Stats().Waiting, "the queued caller still waits")

		held[2].Done(nil) // 1 in flight: the queued caller gets the slot
		p := <-queued
		assert.Equal(t, int64(2), b.Stats().InFlight)
		_, ok = b.TryAcquire()
		assert.False(t, ok)

		held[3].Done(nil)
		p.Done(nil)
		s = b.Stats()
		assert.Equal(t, int64(2), s.Available)
		assert.Zero(t, s.Misuse)
		assertExactlyFits(t, b, 2)
	})
}

func TestSetLimitInvalid(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 3})
	for _, n := range []int{0, -1, maxSlots + 1} {
		err := b.SetLimit(n)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.Contains(t, err.Error(), fmt.Sprintf("bulkhead: SetLimit(%d) outside [1, %d]", n, maxSlots))
	}
	assert.Equal(t, 3, b.Limit())
	assertExactlyFits(t, b, 3)
}

// A Done on a copy that lands while SetLimit moves the two limit words is
// still undone once.
func TestSetLimitSettlesSurplus(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 4})
	atomic.AddUint64(&b.state, 1) // a copy's Done, paused before its check
	require.NoError(t, b.SetLimit(2))
	s := b.Stats()
	assert.Equal(t, int64(1), s.Misuse)
	assert.Equal(t, int64(2), s.Available)
	assertExactlyFits(t, b, 2)
}

// Callers take, queue for, give up on and return slots while the limit
// moves at random; no caller is admitted over the largest limit, and at
// rest the last limit holds exactly with nothing leaked or counted twice.
func TestSetLimitStress(t *testing.T) {
	const maxLimit = 6
	b := mustNew(t, Config{MaxConcurrent: 3, MaxWaiting: 1 << 10})
	var inside, admitted atomic.Int64
	hold := func(p Permit) {
		if n := inside.Add(1); n > maxLimit {
			t.Errorf("%d in flight, want <= %d", n, maxLimit)
		}
		runtime.Gosched()
		inside.Add(-1)
		p.Done(nil)
	}
	stop := make(chan struct{})
	var changer sync.WaitGroup
	changer.Go(func() {
		rng := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			assert.NoError(t, b.SetLimit(1+rng.IntN(maxLimit)))
			runtime.Gosched()
		}
	})
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			for range 2000 {
				switch rng.IntN(3) {
				case 0:
					if p, ok := b.TryAcquire(); ok {
						admitted.Add(1)
						hold(p)
					}
				case 1:
					p, err := b.Acquire(context.Background())
					require.NoError(t, err)
					admitted.Add(1)
					hold(p)
				default:
					ctx, cancel := context.WithCancel(context.Background())
					go cancel()
					if p, err := b.Acquire(ctx); err == nil {
						admitted.Add(1)
						hold(p)
					}
					cancel()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	changer.Wait()
	require.NoError(t, b.SetLimit(4))
	s := b.Stats()
	assert.Equal(t, int64(0), s.InFlight)
	assert.Equal(t, int64(4), s.Available)
	assert.Equal(t, int64(0), s.Waiting)
	assert.Zero(t, s.Misuse)
	assert.Equal(t, int64(admitted.Load()), s.Admitted)
	assertExactlyFits(t, b, 4)
}

func TestAdaptiveSetLimit(t *testing.T) {
	a, err := NewAdaptive(AdaptiveConfig{InitialLimit: 4, MinLimit: 2, MaxLimit: 8})
	require.NoError(t, err)
	held := make([]Permit, 4)
	for i := range held {
		var ok bool
		held[i], ok = a.TryAcquire()
		require.True(t, ok)
	}
	require.NoError(t, a.SetLimit(2))
	assert.Equal(t, 2, a.Limit())
	_, ok := a.TryAcquire()
	assert.False(t, ok, "4 in flight over a limit of 2")
	held[0].Done(nil)
	held[1].Done(nil)
	_, ok = a.TryAcquire()
	assert.False(t, ok, "2 in flight: at the limit")
	held[2].Done(nil)
	p, ok := a.TryAcquire()
	assert.True(t, ok, "1 in flight: under the limit")
	p.Done(nil)
	held[3].Done(nil)

	require.NoError(t, a.SetLimit(8))
	assert.Equal(t, 8, a.Limit())
	for _, n := range []int{1, 9, -3} {
		err := a.SetLimit(n)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.Contains(t, err.Error(), fmt.Sprintf("bulkhead: SetLimit(%d) outside [MinLimit 2, MaxLimit 8]", n))
	}
	assert.Equal(t, 8, a.Limit())
}
