package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark"
)

func mustNew(t *testing.T, cfg Config) *Bulkhead {
	t.Helper()
	b, err := New(cfg)
	require.NoError(t, err)
	return b
}

func TestInvalidConfig(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"zero MaxConcurrent", Config{}, "Config.MaxConcurrent 0"},
		{"negative MaxConcurrent", Config{MaxConcurrent: -1}, "Config.MaxConcurrent -1"},
		{"huge MaxConcurrent", Config{MaxConcurrent: 1 << 22}, "Config.MaxConcurrent 4194304 above 4194303"},
		{"huge MaxWaiting", Config{MaxConcurrent: 1, MaxWaiting: 1 << 24}, "Config.MaxWaiting 16777216"},
		{"negative MaxWaiting", Config{MaxConcurrent: 1, MaxWaiting: -2}, "Config.MaxWaiting -2"},
		{"negative MaxWait", Config{MaxConcurrent: 1, MaxWait: -time.Second}, "Config.MaxWait -1s"},
		{"negative Rate", Config{MaxConcurrent: 1, Rate: -1, Burst: 1}, "Config.Rate -1"},
		{"Rate without Burst", Config{MaxConcurrent: 1, Rate: 10}, "Config.Burst 0"},
		{"Burst without Rate", Config{MaxConcurrent: 1, Burst: 3}, "Config.Burst 3"},
		{"RateLimiter with Rate", Config{MaxConcurrent: 1, Rate: 1, Burst: 1, RateLimiter: rate.NewLimiter(1, 1)}, "Config.RateLimiter set together with Config.Rate 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, b)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), "bulkhead: "+tc.field)
		})
	}
}

func TestInvalidAdaptiveConfig(t *testing.T) {
	cases := []struct {
		name  string
		cfg   AdaptiveConfig
		field string
	}{
		{"unknown Algorithm", AdaptiveConfig{Algorithm: 9}, "AdaptiveConfig.Algorithm 9"},
		{"negative Algorithm", AdaptiveConfig{Algorithm: -1}, "AdaptiveConfig.Algorithm -1"},
		{"MinLimit above MaxLimit", AdaptiveConfig{MinLimit: 10, MaxLimit: 5}, "AdaptiveConfig.MinLimit 10 above MaxLimit 5"},
		{"negative MinLimit", AdaptiveConfig{MinLimit: -1}, "AdaptiveConfig.MinLimit -1"},
		{"negative MaxLimit", AdaptiveConfig{MaxLimit: -1}, "AdaptiveConfig.MaxLimit -1"},
		{"InitialLimit above MaxLimit", AdaptiveConfig{InitialLimit: 50, MaxLimit: 20}, "AdaptiveConfig.InitialLimit 50"},
		{"InitialLimit below MinLimit", AdaptiveConfig{InitialLimit: 2, MinLimit: 5}, "AdaptiveConfig.InitialLimit 2"},
		{"negative WindowSize", AdaptiveConfig{WindowSize: -1}, "AdaptiveConfig.WindowSize -1"},
		{"negative Timeout", AdaptiveConfig{Timeout: -1}, "AdaptiveConfig.Timeout"},
		{"BackoffRatio too low", AdaptiveConfig{BackoffRatio: 0.4}, "AdaptiveConfig.BackoffRatio 0.4"},
		{"BackoffRatio 1", AdaptiveConfig{BackoffRatio: 1}, "AdaptiveConfig.BackoffRatio 1"},
		{"Smoothing above 1", AdaptiveConfig{Smoothing: 1.5}, "AdaptiveConfig.Smoothing 1.5"},
		{"Tolerance 1", AdaptiveConfig{Tolerance: 1}, "AdaptiveConfig.Tolerance 1"},
		{"Tolerance NaN", AdaptiveConfig{Tolerance: math.NaN()}, "AdaptiveConfig.Tolerance NaN"},
		{"Tolerance with Timeout", AdaptiveConfig{Tolerance: 3, Timeout: time.Second}, "AdaptiveConfig.Tolerance 3 set together with Timeout 1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAdaptive(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), "bulkhead: "+tc.field)
		})
	}
}

func TestAdaptiveDefaults(t *testing.T) {
	cases := []struct {
		name string
		cfg  AdaptiveConfig
		want int
	}{
		{"Vegas default 20", AdaptiveConfig{}, 20},
		{"AIMD default 10", AdaptiveConfig{Algorithm: AIMD}, 10},
		{"Gradient2 default 20", AdaptiveConfig{Algorithm: Gradient2}, 20},
		{"default moved under MaxLimit", AdaptiveConfig{MaxLimit: 5}, 5},
		{"explicit", AdaptiveConfig{InitialLimit: 7}, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAdaptive(tc.cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, a.Limit())
		})
	}
}

func TestErrorsMatchErrRejected(t *testing.T) {
	for _, err := range []error{ErrFull, ErrTimeout, ErrRateLimited, &RateLimitedError{At: time.Unix(1, 0)}} {
		assert.ErrorIs(t, err, ErrRejected, err.Error())
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted, err.Error())
	}
	assert.NotErrorIs(t, ErrFull, ErrTimeout)
	assert.NotErrorIs(t, context.Canceled, ErrRejected)
}

// 64 goroutines x 1,000 Do calls never see more than MaxConcurrent inside fn.
func TestNeverMoreThanMaxConcurrent(t *testing.T) {
	const maxConcurrent = 4
	b := mustNew(t, Config{MaxConcurrent: maxConcurrent, MaxWaiting: 64})
	var inside, peak atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 1000 {
				err := b.Do(context.Background(), func(context.Context) error {
					n := inside.Add(1)
					if n > maxConcurrent {
						t.Errorf("%d in flight, want <= %d", n, maxConcurrent)
					}
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					runtime.Gosched()
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Errorf("Do: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	s := b.Stats()
	assert.Equal(t, int64(64000), s.Admitted)
	assert.Equal(t, int64(0), s.InFlight)
	assert.Equal(t, int64(maxConcurrent), s.Available)
	assert.LessOrEqual(t, peak.Load(), int64(maxConcurrent))
}

func TestFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 10})
		holder := mustTry(t, b)
		var order []int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				p, err := b.Acquire(context.Background())
				require.NoError(t, err)
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				p.Done(nil)
			})
			synctest.Wait() // waiter i is queued before i+1 starts
		}
		assert.Equal(t, int64(10), b.Stats().Waiting)
		_, ok := b.TryAcquire()
		assert.False(t, ok, "a newcomer must not overtake the queue")
		holder.Done(nil)
		wg.Wait()
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, order)
		assert.Equal(t, int64(1), b.Stats().Available)
	})
}

// A waiter handed a slot in the same instant as it gives up passes the slot
// to the next waiter: neither leaked nor kept.
func TestGiveUpAfterHandOffPassesSlotOn(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 2})
	holder := mustTry(t, b)
	enqueue := func() *waiter {
		b.mu.Lock()
		defer b.mu.Unlock()
		atomic.AddUint64(&b.state, oneWaiter)
		return b.queue.pushBack()
	}
	first, second := enqueue(), enqueue()
	holder.Done(nil) // hands the slot to first
	require.True(t, first.granted)
	b.leave(first) // first's ctx ended at the same instant
	require.True(t, second.granted, "the slot must pass to the next waiter")
	<-second.ready
	s := b.Stats()
	assert.Equal(t, int64(1), s.InFlight)
	assert.Equal(t, int64(0), s.Waiting)
	b.release() // second's slot, as its Permit's Done would
	assert.Equal(t, int64(1), b.Stats().Available)
	assert.Zero(t, b.Stats().Misuse)
}

func TestCancelRace(t *testing.T) {
	const maxConcurrent = 4
	b := mustNew(t, Config{MaxConcurrent: maxConcurrent, MaxWaiting: 1 << 20})
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	var admitted, cancelled atomic.Int64
	for range 3000 {
		spinCancel, spinHold := rng.IntN(50), rng.IntN(20)
		ctx, cancel := context.WithCancel(context.Background())
		wg.Go(func() {
			for range spinCancel {
				runtime.Gosched()
			}
			cancel()
		})
		wg.Go(func() {
			p, err := b.Acquire(ctx)
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Acquire: %v, want context.Canceled", err)
				}
				cancelled.Add(1)
				return
			}
			admitted.Add(1)
			for range spinHold {
				runtime.Gosched()
			}
			p.Done(nil)
		})
	}
	wg.Wait()
	s := b.Stats()
	assert.Equal(t, int64(0), s.InFlight)
	assert.Equal(t, int64(maxConcurrent), s.Available)
	assert.Equal(t, int64(0), s.Waiting)
	assert.Zero(t, s.Misuse)
	assert.Equal(t, int64(admitted.Load()), s.Admitted)
	assert.Equal(t, int64(3000), admitted.Load()+cancelled.Load())
	assert.Positive(t, cancelled.Load(), "the test must exercise cancellation")
}

func TestMaxWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rejections []error
		b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 2, Observer: onReject(func(err error) { rejections = append(rejections, err) })})
		holder, err := b.Acquire(context.Background())
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				p, err := b.Acquire(context.Background())
				assert.NoError(t, err)
				p.Done(nil)
			})
		}
		synctest.Wait()
		_, err = b.Acquire(context.Background())
		assert.ErrorIs(t, err, ErrFull)
		assert.ErrorIs(t, err, ErrRejected)
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
		assert.Equal(t, []error{ErrFull}, rejections)
		holder.Done(nil)
		wg.Wait()
		s := b.Stats()
		assert.Equal(t, int64(3), s.Admitted)
		assert.Equal(t, int64(1), s.RejectedFull)
	})
}

func TestNoQueueRejectsAtOnce(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	_, err := b.Acquire(context.Background())
	require.NoError(t, err)
	_, err = b.Acquire(context.Background())
	assert.ErrorIs(t, err, ErrFull)
	p, ok := b.TryAcquire()
	assert.False(t, ok)
	assert.Equal(t, Permit{}, p, "a refused TryAcquire returns the zero Permit")
	assert.Equal(t, int64(2), b.Stats().RejectedFull)
}

func TestMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 1, MaxWait: 100 * time.Millisecond})
		mustTry(t, b)
		start := time.Now()
		_, err := b.Acquire(context.Background())
		assert.ErrorIs(t, err, ErrTimeout)
		assert.ErrorIs(t, err, ErrRejected)
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
		_, hasAt := bulwark.RetryAt(err)
		assert.False(t, hasAt, "a queue timeout does not know when a slot frees")
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		s := b.Stats()
		assert.Equal(t, int64(1), s.RejectedTimeout)
		assert.Equal(t, int64(0), s.Waiting)
		assert.Equal(t, int64(1), s.InFlight)
	})
}

func TestCtxEndsWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 1})
		holder := mustTry(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.Acquire(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, ErrRejected, "the caller's deadline is not a rejection")
		assert.NotErrorIs(t, err, bulwark.ErrNotAttempted)
		s := b.Stats()
		assert.Equal(t, int64(1), s.Cancelled)
		assert.Zero(t, s.Rejected())
		assert.Equal(t, int64(0), s.Waiting)
		holder.Done(nil)
		assert.Equal(t, int64(1), b.Stats().Available)
	})
}

func TestAcquireWithEndedCtx(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Acquire(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(1), b.Stats().Available)
	called := false
	assert.ErrorIs(t, b.Do(ctx, func(context.Context) error { called = true; return nil }), context.Canceled)
	assert.False(t, called)
}

func TestRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 1000, Rate: 10, Burst: 5})
		admitted := 0
		// One attempt every 10 ms for 10 s: the burst of 5, then 10 per second.
		for range 1000 {
			if p, ok := b.TryAcquire(); ok {
				admitted++
				p.Done(nil)
			}
			time.Sleep(10 * time.Millisecond)
		}
		assert.InDelta(t, 5+100, admitted, 1)
		s := b.Stats()
		assert.Equal(t, int64(admitted), s.Admitted)
		assert.Equal(t, int64(1000-admitted), s.RejectedRate)
		assert.ErrorIs(t, ErrRateLimited, ErrRejected)
	})
}

func TestRateRejectsAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, Config{MaxConcurrent: 10, Rate: 1, Burst: 1})
		_, err := b.Acquire(context.Background())
		require.NoError(t, err)
		time.Sleep(300 * time.Millisecond)
		_, err = b.Acquire(context.Background())
		assert.ErrorIs(t, err, ErrRateLimited)
		assert.ErrorIs(t, err, ErrRejected)
		assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
		at, ok := bulwark.RetryAt(err)
		require.True(t, ok, "a token bucket knows when its next token comes")
		assert.InDelta(t, float64(700*time.Millisecond), float64(time.Until(at)), float64(time.Microsecond))
		time.Sleep(time.Until(at))
		_, err = b.Acquire(context.Background())
		assert.NoError(t, err)
	})
}

func TestDoReleasesOnPanic(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	assert.Panics(t, func() {
		_ = b.Do(context.Background(), func(context.Context) error { panic("boom") })
	})
	assert.Equal(t, int64(1), b.Stats().Available)
	_, _ = func() (v int, err error) {
		defer func() { _ = recover() }()
		return Call(context.Background(), b, func(context.Context) (int, error) { panic("boom") })
	}()
	assert.Equal(t, int64(1), b.Stats().Available)
	assert.Zero(t, b.Stats().Misuse)
}

func TestCall(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	v, err := Call(context.Background(), b, func(context.Context) (string, error) { return "ok", nil })
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
	mustTry(t, b)
	v, err = Call(context.Background(), b, func(context.Context) (string, error) { return "ran", nil })
	assert.ErrorIs(t, err, ErrRejected)
	assert.Empty(t, v)
}

func TestDoPassesFnError(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	boom := errors.New("boom")
	assert.ErrorIs(t, b.Do(context.Background(), func(context.Context) error { return boom }), boom)
	assert.Equal(t, int64(1), b.Stats().Available)
}

func TestRateLimitAlsoAppliesWithRateInf(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, Rate: rate.Inf, Burst: 1})
	mustTry(t, b)
}

// The fast path counts admissions in 16 bits of the state word; the count
// must survive wrapping, including across concurrent callers and failed
// attempts that undo their count (MaxConcurrent 2 for 4 goroutines).
func TestAdmittedCountWraps(t *testing.T) {
	for _, maxConcurrent := range []int{8, 2} {
		t.Run(fmt.Sprint("MaxConcurrent=", maxConcurrent), func(t *testing.T) {
			b := mustNew(t, Config{MaxConcurrent: maxConcurrent})
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 50_000 {
						if p, ok := b.TryAcquire(); ok {
							admitted.Add(1)
							p.Done(nil)
						} else {
							runtime.Gosched()
						}
					}
				})
			}
			wg.Wait()
			s := b.Stats()
			assert.Equal(t, admitted.Load(), s.Admitted)
			assert.Equal(t, int64(200_000), s.Admitted+s.RejectedFull)
			assert.Greater(t, s.Admitted, int64(1<<16), "the test must wrap the 16-bit count")
			assert.Equal(t, int64(maxConcurrent), s.Available)
			assert.Zero(t, s.Misuse)
		})
	}
}

// TryAcquire's failed attempts lower the free count for an instant before
// giving the slot back (see the state layout). Mixed with queued Acquires,
// cancellations and Dones at the edge of the limit, that must never admit
// more than MaxConcurrent, never strand a waiter while a slot is free, and
// leave the counts exact.
func TestTryAcquireRacesQueue(t *testing.T) {
	const maxConcurrent = 2
	b := mustNew(t, Config{MaxConcurrent: maxConcurrent, MaxWaiting: 1 << 20})
	var inside, admitted, tried, cancelled atomic.Int64
	hold := func(p Permit) {
		if n := inside.Add(1); n > maxConcurrent {
			t.Errorf("%d in flight, want <= %d", n, maxConcurrent)
		}
		runtime.Gosched()
		inside.Add(-1)
		p.Done(nil)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 2000 {
				switch rng.IntN(3) {
				case 0:
					tried.Add(1)
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
					if rng.IntN(2) == 0 {
						cancel()
					} else {
						go cancel()
					}
					if p, err := b.Acquire(ctx); err == nil {
						admitted.Add(1)
						hold(p)
					} else {
						cancelled.Add(1)
					}
					cancel()
				}
			}
		})
	}
	wg.Wait()
	s := b.Stats()
	assert.Equal(t, int64(0), s.InFlight)
	assert.Equal(t, int64(maxConcurrent), s.Available)
	assert.Equal(t, int64(0), s.Waiting)
	assert.Zero(t, s.Misuse)
	assert.Equal(t, int64(admitted.Load()), s.Admitted)
	assert.Positive(t, s.RejectedFull, "the test must make TryAcquire fail")
	assert.LessOrEqual(t, s.RejectedFull, int64(tried.Load()))
	assertExactlyFits(t, b, maxConcurrent)
}

// assertExactlyFits checks that exactly n more callers fit in b right now,
// then gives their slots back.
func assertExactlyFits(t *testing.T, b *Bulkhead, n int) {
	t.Helper()
	held := make([]Permit, n)
	for i := range held {
		held[i] = mustTry(t, b)
	}
	_, ok := b.TryAcquire()
	assert.False(t, ok, "%d fit, want exactly %d", n+1, n)
	for i := range held {
		held[i].Done(nil)
	}
}

func mustTry(t *testing.T, b *Bulkhead) Permit {
	t.Helper()
	p, ok := b.TryAcquire()
	require.True(t, ok, "TryAcquire refused")
	return p
}
