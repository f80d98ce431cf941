package cache

import (
	"context"
	"errors"
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
)

func newCache[K comparable, V any](t *testing.T, cfg Config[K, V]) *Cache[K, V] {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestStampedeLoadsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[string, int]{Capacity: 10})
		var loads atomic.Int32
		load := func(ctx context.Context, k string) (int, error) {
			loads.Add(1)
			time.Sleep(50 * time.Millisecond)
			return 42, nil
		}
		const n = 1000
		var wg sync.WaitGroup
		results := make([]int, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { results[i], errs[i] = c.GetOrLoad(t.Context(), "cold", load) })
		}
		wg.Wait()
		assert.Equal(t, int32(1), loads.Load())
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, 42, results[i])
		}
		st := c.Stats()
		assert.Equal(t, int64(1), st.Loads)
		assert.Equal(t, int64(n-1), st.SharedWaits)
		v, err := c.GetOrLoad(t.Context(), "cold", load)
		assert.Equal(t, 42, v)
		assert.NoError(t, err)
		assert.Equal(t, int32(1), loads.Load(), "hit after the load")
	})
}

func TestFirstCallerCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[string, string]{Capacity: 10})
		type ctxKey struct{}
		release := make(chan struct{})
		var loadCtx context.Context
		load := func(ctx context.Context, k string) (string, error) {
			loadCtx = ctx
			<-release
			return ctx.Value(ctxKey{}).(string), ctx.Err()
		}
		first, cancelFirst := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "from first"))
		firstErr := make(chan error)
		go func() {
			_, err := c.GetOrLoad(first, "k", load)
			firstErr <- err
		}()
		synctest.Wait()
		second := make(chan string)
		go func() {
			v, err := c.GetOrLoad(t.Context(), "k", load)
			assert.NoError(t, err)
			second <- v
		}()
		synctest.Wait()
		cancelFirst()
		assert.ErrorIs(t, <-firstErr, context.Canceled, "first caller leaves at once")
		assert.NoError(t, loadCtx.Err(), "load goes on while a waiter remains")
		close(release)
		assert.Equal(t, "from first", <-second, "load keeps the first caller's values")
	})
}

func TestLoadCancelledWhenAllWaitersLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[string, int]{Capacity: 10})
		var loads atomic.Int32
		loadEnded := make(chan error, 2)
		load := func(ctx context.Context, k string) (int, error) {
			if loads.Add(1) == 2 {
				return 2, nil
			}
			<-ctx.Done()
			loadEnded <- ctx.Err()
			return 0, ctx.Err()
		}
		ctx1, cancel1 := context.WithCancel(t.Context())
		ctx2, cancel2 := context.WithCancel(t.Context())
		errs := make(chan error, 2)
		go func() { _, err := c.GetOrLoad(ctx1, "k", load); errs <- err }()
		go func() { _, err := c.GetOrLoad(ctx2, "k", load); errs <- err }()
		synctest.Wait()
		cancel1()
		assert.ErrorIs(t, <-errs, context.Canceled)
		synctest.Wait()
		assert.Empty(t, loadEnded, "one waiter remains")
		cancel2()
		assert.ErrorIs(t, <-errs, context.Canceled)
		assert.ErrorIs(t, <-loadEnded, context.Canceled, "last waiter gone cancels the load")
		synctest.Wait()
		v, err := c.GetOrLoad(t.Context(), "k", load)
		assert.NoError(t, err)
		assert.Equal(t, 2, v, "abandoned result discarded, a new load runs")
		assert.Equal(t, int64(0), c.Stats().LoadErrors, "caller cancellation is not a load error")
	})
}

func TestLoaderPanicBecomesErrorForEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[int, int]{Capacity: 10, ErrorTTL: time.Hour})
		boom := errors.New("boom")
		var loads atomic.Int32
		load := func(ctx context.Context, k int) (int, error) {
			if loads.Add(1) == 1 {
				time.Sleep(time.Millisecond)
				panic(boom)
			}
			return 7, nil
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				_, err := c.GetOrLoad(t.Context(), 1, load)
				var pe *PanicError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, boom, pe.Value)
				assert.Contains(t, string(pe.Stack), "load_test.go")
				assert.ErrorIs(t, err, boom)
				assert.Contains(t, err.Error(), "cache: loader panicked: boom")
			})
		}
		wg.Wait()
		v, err := c.GetOrLoad(t.Context(), 1, load)
		assert.NoError(t, err, "panics are not negatively cached")
		assert.Equal(t, 7, v)
		assert.Equal(t, int32(2), loads.Load())
	})
}

func TestLoaderGoexitReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[int, int]{Capacity: 10})
		_, err := c.GetOrLoad(t.Context(), 1, func(ctx context.Context, k int) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		assert.ErrorIs(t, err, errGoexit)
	})
}

func TestErrorTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[string, int]{Capacity: 10, TTL: time.Hour, ErrorTTL: time.Second})
		down := errors.New("origin down")
		var loads atomic.Int32
		fail := true
		load := func(ctx context.Context, k string) (int, error) {
			loads.Add(1)
			if fail {
				return 0, down
			}
			return 1, nil
		}
		for range 3 {
			_, err := c.GetOrLoad(t.Context(), "k", load)
			assert.ErrorIs(t, err, down)
		}
		assert.Equal(t, int32(1), loads.Load(), "error cached")
		_, ok := c.Get("k")
		assert.False(t, ok, "Get does not return a cached error as a value")
		fail = false
		time.Sleep(time.Second - 1)
		_, err := c.GetOrLoad(t.Context(), "k", load)
		assert.ErrorIs(t, err, down)
		time.Sleep(time.Nanosecond)
		v, err := c.GetOrLoad(t.Context(), "k", load)
		assert.NoError(t, err)
		assert.Equal(t, 1, v)
		assert.Equal(t, int32(2), loads.Load())
		assert.Equal(t, int64(1), c.Stats().LoadErrors)
	})
}

func TestErrorsNotCachedWithoutErrorTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[string, int]{Capacity: 10})
		var loads atomic.Int32
		load := func(ctx context.Context, k string) (int, error) { loads.Add(1); return 0, errors.New("x") }
		for range 3 {
			_, err := c.GetOrLoad(t.Context(), "k", load)
			assert.Error(t, err)
		}
		assert.Equal(t, int32(3), loads.Load())
		assert.Equal(t, 0, c.Len())
	})
}

func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[string, int]{Capacity: 10, TTL: 10 * time.Second, StaleFor: 5 * time.Second})
		var loads atomic.Int32
		fail := atomic.Bool{}
		load := func(ctx context.Context, k string) (int, error) {
			n := loads.Add(1)
			time.Sleep(100 * time.Millisecond)
			if fail.Load() {
				return 0, errors.New("refresh failed")
			}
			return int(n), nil
		}
		get := func() int {
			v, err := c.GetOrLoad(t.Context(), "k", load)
			require.NoError(t, err)
			return v
		}
		assert.Equal(t, 1, get())
		time.Sleep(10 * time.Second) // now stale
		_, ok := c.Get("k")
		assert.False(t, ok, "Get never returns stale values")
		start := time.Now()
		for range 5 {
			assert.Equal(t, 1, get(), "stale value served at once")
		}
		assert.Zero(t, time.Since(start), "no caller waited")
		synctest.Wait()
		assert.Equal(t, int32(2), loads.Load(), "one refresh for five stale reads")
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 2, get(), "refreshed value")
		assert.Equal(t, int64(1), c.Stats().Refreshes)

		// A failed refresh keeps the stale value until StaleFor ends.
		fail.Store(true)
		time.Sleep(10 * time.Second)
		assert.Equal(t, 2, get())
		time.Sleep(time.Second)
		assert.Equal(t, int32(3), loads.Load())
		assert.Equal(t, 2, get(), "stale kept after failed refresh")
		time.Sleep(4 * time.Second) // StaleFor over
		fail.Store(false)
		assert.Equal(t, 5, get(), "dead entry loads in the foreground")
	})
}

func TestXFetchProbability(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const trials = 200_000
	for _, tt := range []struct {
		name  string
		ratio float64 // remaining / Δ
		beta  float64
		want  float64 // e^(−ratio) for β = 1: Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015, https://www.vldb.org/pvldb/vol8/p886-vattani.pdf
	}{
		{"at expiry", 0, 1, 1},
		{"half delta", 0.5, 1, 0.6065},
		{"one delta", 1, 1, 0.3679},
		{"two delta", 2, 1, 0.1353},
		{"five delta", 5, 1, 0.0067},
		{"beta 2 one delta", 1, 2, 0.6065},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const delta = int64(time.Second)
			hits := 0
			for range trials {
				if xfetch(int64(tt.ratio*float64(delta)), delta, tt.beta, rng.Float64()) {
					hits++
				}
			}
			// 4 standard deviations of a binomial proportion, plus rounding.
			tol := 4*math.Sqrt(tt.want*(1-tt.want)/trials) + 1e-4
			assert.InDelta(t, tt.want, float64(hits)/trials, tol)
		})
	}
}

func TestXFetchRefreshesEarlyInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delta = 100 * time.Millisecond
		c := newCache(t, Config[int, int]{Capacity: 10, TTL: 10 * time.Second, EarlyRefresh: 1})
		rng := rand.New(rand.NewPCG(8, 9))
		c.rand = rng.Float64 // one goroutine draws: GetOrLoad below is sequential
		var loads atomic.Int32
		load := func(ctx context.Context, k int) (int, error) {
			loads.Add(1)
			time.Sleep(delta)
			return int(loads.Load()), nil
		}
		// Far from expiry the probability is exp(-99) ≈ 0: no refresh.
		_, err := c.GetOrLoad(t.Context(), 1, load)
		require.NoError(t, err)
		for range 1000 {
			_, err = c.GetOrLoad(t.Context(), 1, load)
			require.NoError(t, err)
		}
		assert.Equal(t, int32(1), loads.Load())
		// At one Δ before expiry about 37% of reads refresh: count how many
		// reads it takes over many trials.
		const trials = 400
		refreshed := 0
		for i := range trials {
			c.Delete(i + 10)
			_, err = c.GetOrLoad(t.Context(), i+10, load) // loads, Δ = 100ms
			require.NoError(t, err)
			time.Sleep(10*time.Second - delta) // 1Δ left
			before := loads.Load()
			v, err := c.GetOrLoad(t.Context(), i+10, load)
			require.NoError(t, err)
			require.Equal(t, int(before), v, "the current value is returned at once")
			synctest.Wait()
			if loads.Load() > before {
				refreshed++
			}
			time.Sleep(delta) // let a refresh finish
			synctest.Wait()
			c.Delete(i + 10)
		}
		p := float64(refreshed) / trials
		assert.InDelta(t, 0.3679, p, 0.1, "refresh rate at 1Δ before expiry")
		assert.Equal(t, int64(refreshed), c.Stats().Refreshes)
	})
}

func TestCloseStopsRefreshesAndLoads(t *testing.T) {
	before := runtime.NumGoroutine()
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Config[int, int]{Capacity: 10, TTL: time.Second, StaleFor: time.Hour})
		require.NoError(t, err)
		block := func(ctx context.Context, k int) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		c.Set(1, 1)
		time.Sleep(2 * time.Second)
		v, err := c.GetOrLoad(t.Context(), 1, block) // stale hit, refresh blocks
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		fg := make(chan error)
		go func() { _, err := c.GetOrLoad(t.Context(), 2, block); fg <- err }()
		synctest.Wait()
		c.Close() // returns only after both loaders have returned
		assert.ErrorIs(t, <-fg, context.Canceled)
		_, err = c.GetOrLoad(t.Context(), 3, block)
		assert.ErrorIs(t, err, ErrClosed)
		v, err = c.GetOrLoad(t.Context(), 1, block)
		assert.NoError(t, err, "contents stay readable")
		assert.Equal(t, 1, v)
		c.Close()
	})
	// synctest.Test fails if any bubble goroutine is left; check outside too.
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

func TestConcurrentStress(t *testing.T) {
	c := newCache(t, Config[int, int]{Capacity: 256, Shards: 4, TTL: time.Hour, ErrorTTL: time.Hour,
		OnEvict: func(k, v int, r EvictReason) {
			if k != v {
				panic("value does not match key")
			}
		}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := range 8_000 {
				k := rng.IntN(512)
				switch rng.IntN(20) {
				case 0:
					c.Delete(k)
				case 1:
					if i%500 == 0 {
						c.Clear()
					}
				case 2, 3, 4, 5:
					c.Set(k, k)
				case 6, 7, 8, 9:
					v, err := c.GetOrLoad(ctx, k, func(ctx context.Context, k int) (int, error) {
						if k%97 == 0 {
							panic("x")
						}
						return k, nil
					})
					if err == nil && v != k {
						t.Errorf("GetOrLoad(%d) = %d", k, v)
					}
				default:
					if v, ok := c.Get(k); ok && v != k {
						t.Errorf("Get(%d) = %d", k, v)
					}
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 256)
	st := c.Stats()
	assert.Positive(t, st.Hits)
	assert.Positive(t, st.Loads)
}
