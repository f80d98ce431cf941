package cache

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewConfigErrorsNameField(t *testing.T) {
	w := func(int, int) uint32 { return 1 }
	tests := []struct {
		name string
		cfg  Config[int, int]
		want string
	}{
		{"unknown policy", Config[int, int]{Capacity: 1, Policy: 7}, "cache: Config.Policy 7 unknown (LRU or TinyLFU)"},
		{"negative MaxCost", Config[int, int]{Capacity: 1, MaxCost: -1, Weigher: w}, "cache: Config.MaxCost -1 is negative"},
		{"MaxCost without Weigher", Config[int, int]{Capacity: 1, MaxCost: 10}, "cache: Config.Weigher nil with Config.MaxCost 10"},
		{"Weigher without MaxCost", Config[int, int]{Capacity: 1, Weigher: w}, "cache: Config.Weigher set with Config.MaxCost 0"},
		{"MaxCost below shards", Config[int, int]{Capacity: 8, Shards: 4, MaxCost: 3, Weigher: w}, "cache: Config.MaxCost 3 below Config.Shards 4"},
		{"zero capacity", Config[int, int]{}, "cache: Config.Capacity 0 must be > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			assert.Nil(t, c)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

// Peek and Contains do not promote: in an exact LRU the peeked key is
// still the next victim.
func TestPeekDoesNotPromote(t *testing.T) {
	c := newCache(t, Config[string, int]{Capacity: 2, Shards: 1})
	c.Set("a", 1)
	c.Set("b", 2)
	v, ok := c.Peek("a")
	require.True(t, ok)
	assert.Equal(t, 1, v)
	assert.True(t, c.Contains("a"))
	assert.False(t, c.Contains("zz"))
	c.Set("c", 3)
	assert.False(t, c.Contains("a"), "a was least recently used despite Peek")
	assert.True(t, c.Contains("b"))
	assert.Equal(t, Stats{}.Hits, c.Stats().Hits, "Peek and Contains are not hits")
}

func TestPeekSkipsStaleAndErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[int, int]{Capacity: 4, TTL: time.Second, StaleFor: time.Hour, ErrorTTL: time.Hour})
		c.Set(1, 1)
		_, _ = c.GetOrLoad(t.Context(), 2, func(context.Context, int) (int, error) { return 0, assert.AnError })
		assert.False(t, c.Contains(2), "cached error")
		time.Sleep(time.Second)
		assert.False(t, c.Contains(1), "stale")
	})
}

func TestAllAndKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, p := range []Policy{LRU, TinyLFU} {
			c := newCache(t, Config[int, int]{Capacity: 400, Shards: 4, Policy: p, TTL: time.Minute})
			want := map[int]int{}
			for k := range 40 {
				c.Set(k, 10*k)
				want[k] = 10 * k
			}
			c.SetTTL(99, 990, time.Second)
			time.Sleep(time.Second) // 99 expires: not visited
			assert.Equal(t, want, maps.Collect(c.All()), p.String())
			keys := slices.Sorted(c.Keys())
			assert.Equal(t, slices.Sorted(maps.Keys(want)), keys)

			// The body may call the cache: no lock is held.
			n := 0
			for k := range c.All() {
				c.Delete(k)
				c.Set(k+1000, k)
				n++
				if n == 10 {
					break
				}
			}
			assert.Equal(t, 10, n)
			assert.Equal(t, int64(0), c.Stats().Hits, "visits are not hits")
		}
	})
}

func TestResize(t *testing.T) {
	for _, p := range []Policy{LRU, TinyLFU} {
		t.Run(p.String(), func(t *testing.T) {
			var evicted []EvictReason
			c := newCache(t, Config[int, int]{Capacity: 100, Shards: 2, Policy: p,
				OnEvict: func(k, v int, r EvictReason) { evicted = append(evicted, r) }})
			for k := range 1000 {
				c.Set(k, k)
			}
			require.Equal(t, 100, c.Len())
			evicted = nil
			require.NoError(t, c.Resize(30))
			assert.Equal(t, 30, c.Len())
			assert.Len(t, evicted, 70)
			for _, r := range evicted {
				assert.Equal(t, EvictCapacity, r)
			}
			require.NoError(t, c.Resize(500))
			for k := range 1000 {
				c.Set(k, k)
			}
			assert.Equal(t, 500, c.Len())
			for _, bad := range []int{0, -1, 1} {
				err := c.Resize(bad)
				require.ErrorIs(t, err, ErrInvalidConfig, "Resize(%d)", bad)
				assert.Contains(t, err.Error(), "cache: Resize(")
			}
			assert.Equal(t, 500, c.Len(), "a failed Resize changes nothing")
		})
	}
}

func TestRefreshSharesFlightWithGetOrLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[string, int]{Capacity: 10})
		var loads atomic.Int32
		release := make(chan struct{})
		load := func(ctx context.Context, k string) (int, error) {
			n := loads.Add(1)
			<-release
			return int(n), nil
		}
		require.NoError(t, c.Refresh(t.Context(), "k", load))
		require.NoError(t, c.Refresh(t.Context(), "k", load), "a second Refresh joins")
		got := make(chan int)
		go func() {
			v, err := c.GetOrLoad(t.Context(), "k", load)
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		close(release)
		assert.Equal(t, 1, <-got, "GetOrLoad joined the refresh")
		assert.Equal(t, int32(1), loads.Load())
		v, ok := c.Get("k")
		assert.True(t, ok)
		assert.Equal(t, 1, v)
		st := c.Stats()
		assert.Equal(t, int64(1), st.Refreshes)
		assert.Equal(t, int64(1), st.SharedWaits)

		// A failed refresh keeps the old value and is not cached.
		require.NoError(t, c.Refresh(t.Context(), "k", func(context.Context, string) (int, error) { return 0, assert.AnError }))
		synctest.Wait()
		v, _ = c.Get("k")
		assert.Equal(t, 1, v)
		c.Close()
		assert.ErrorIs(t, c.Refresh(t.Context(), "k", load), ErrClosed)
	})
}

func TestGetOrLoadManyOneBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[int, string]{Capacity: 100, Shards: 4})
		c.Set(1, "cached")
		var batches [][]int
		release := make(chan struct{})
		load := func(ctx context.Context, keys []int) (map[int]string, error) {
			batches = append(batches, slices.Sorted(slices.Values(keys)))
			<-release
			m := map[int]string{}
			for _, k := range keys {
				if k != 4 { // 4 does not exist at the origin
					m[k] = "loaded"
				}
			}
			return m, nil
		}
		type result struct {
			m   map[int]string
			err error
		}
		many := make(chan result)
		go func() {
			m, err := c.GetOrLoadMany(t.Context(), []int{1, 2, 3, 4, 2}, load)
			many <- result{m, err}
		}()
		synctest.Wait()
		// A GetOrLoad of a batched key joins the batch.
		single := make(chan error, 2)
		go func() {
			v, err := c.GetOrLoad(t.Context(), 3, func(context.Context, int) (string, error) { return "single", nil })
			assert.Equal(t, "loaded", v)
			single <- err
		}()
		go func() {
			_, err := c.GetOrLoad(t.Context(), 4, func(context.Context, int) (string, error) { return "single", nil })
			single <- err
		}()
		synctest.Wait()
		close(release)
		r := <-many
		require.NoError(t, r.err)
		assert.Equal(t, map[int]string{1: "cached", 2: "loaded", 3: "loaded"}, r.m)
		assert.Equal(t, [][]int{{2, 3, 4}}, batches, "one batch for the missing keys")
		errs := []error{<-single, <-single}
		assert.Contains(t, errs, nil)
		assert.Condition(t, func() bool { return errors.Is(errs[0], ErrNotFound) || errors.Is(errs[1], ErrNotFound) })
		v, ok := c.Get(2)
		assert.True(t, ok)
		assert.Equal(t, "loaded", v)
	})
}

// Each waiter of a batch leaves on its own ctx; the batch's context ends
// only when no key of it is wanted.
func TestGetOrLoadManyWaitersLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[int, int]{Capacity: 100})
		var loadCtx context.Context
		load := func(ctx context.Context, keys []int) (map[int]int, error) {
			loadCtx = ctx
			<-ctx.Done()
			return nil, ctx.Err()
		}
		ctx1, cancel1 := context.WithCancel(t.Context())
		done1 := make(chan error)
		go func() { _, err := c.GetOrLoadMany(ctx1, []int{1, 2}, load); done1 <- err }()
		synctest.Wait()
		ctx2, cancel2 := context.WithCancel(t.Context())
		done2 := make(chan error)
		go func() {
			_, err := c.GetOrLoad(ctx2, 2, func(context.Context, int) (int, error) { return 0, nil })
			done2 <- err
		}()
		synctest.Wait()
		cancel1()
		assert.ErrorIs(t, <-done1, context.Canceled)
		synctest.Wait()
		assert.NoError(t, loadCtx.Err(), "key 2 still has a waiter")
		cancel2()
		assert.ErrorIs(t, <-done2, context.Canceled)
		synctest.Wait()
		assert.ErrorIs(t, loadCtx.Err(), context.Canceled, "no waiter left")
	})
}

func TestGetOrLoadManyErrorsAndPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Config[int, int]{Capacity: 100, ErrorTTL: time.Minute})
		_, err := c.GetOrLoadMany(t.Context(), []int{1, 2}, func(context.Context, []int) (map[int]int, error) {
			return nil, assert.AnError
		})
		require.ErrorIs(t, err, assert.AnError)
		calls := 0
		_, err = c.GetOrLoadMany(t.Context(), []int{1, 2}, func(context.Context, []int) (map[int]int, error) {
			calls++
			return nil, nil
		})
		require.ErrorIs(t, err, assert.AnError, "error cached for ErrorTTL")
		assert.Zero(t, calls)
		m, err := c.GetOrLoadMany(t.Context(), []int{3}, func(context.Context, []int) (map[int]int, error) { panic("boom") })
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		assert.Empty(t, m)
		c.Close()
		_, err = c.GetOrLoadMany(t.Context(), []int{5}, func(context.Context, []int) (map[int]int, error) { return nil, nil })
		assert.ErrorIs(t, err, ErrClosed)
	})
}

func TestMaxCost(t *testing.T) {
	for _, p := range []Policy{LRU, TinyLFU} {
		t.Run(p.String(), func(t *testing.T) {
			var mu sync.Mutex
			var heavy []EvictReason
			c := newCache(t, Config[string, string]{Capacity: 1000, Shards: 1, Policy: p, MaxCost: 100,
				Weigher: func(k, v string) uint32 { return uint32(len(v)) },
				OnEvict: func(k, v string, r EvictReason) {
					mu.Lock()
					defer mu.Unlock()
					if k == "huge" {
						heavy = append(heavy, r)
					}
				}})
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 2000 {
				v := string(make([]byte, rng.IntN(20)))
				c.Set(string(rune('a'+i%200)), v)
				s := &c.shards[0]
				s.mu.Lock()
				cost := s.cost
				sum := int64(0)
				for _, n := range s.nodes(nil) {
					sum += int64(n.weight)
				}
				s.mu.Unlock()
				require.LessOrEqual(t, cost, int64(100))
				require.Equal(t, sum, cost)
			}
			c.Set("huge", string(make([]byte, 101)))
			assert.False(t, c.Contains("huge"))
			assert.Equal(t, []EvictReason{EvictCapacity}, heavy)
			assert.Positive(t, c.Len())
		})
	}
}

// Concurrent Get, Set, Delete, GetOrLoad, GetOrLoadMany, Refresh, Resize
// and All on both policies, under -race: values always match their keys,
// and no shard exceeds its capacity once the writers are done.
func TestConcurrentStressPolicies(t *testing.T) {
	for _, p := range []Policy{LRU, TinyLFU} {
		t.Run(p.String(), func(t *testing.T) {
			c := newCache(t, Config[int, int]{Capacity: 512, Shards: 4, Policy: p, TTL: time.Hour,
				OnEvict: func(k, v int, r EvictReason) {
					if k != v {
						panic("value does not match key")
					}
				}})
			load := func(ctx context.Context, k int) (int, error) { return k, nil }
			many := func(ctx context.Context, ks []int) (map[int]int, error) {
				m := map[int]int{}
				for _, k := range ks {
					m[k] = k
				}
				return m, nil
			}
			var wg sync.WaitGroup
			for g := range 6 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 7))
					for range 4000 {
						k := rng.IntN(2048)
						switch rng.IntN(40) {
						case 0:
							assert.NoError(t, c.Resize(64+rng.IntN(1024)))
						case 1:
							for k, v := range c.All() {
								if k != v {
									t.Errorf("All: %d => %d", k, v)
								}
							}
						case 2:
							_ = c.Refresh(context.Background(), k, load)
						case 3:
							m, err := c.GetOrLoadMany(context.Background(), []int{k, k + 1, k + 2}, many)
							assert.NoError(t, err)
							for k, v := range m {
								assert.Equal(t, k, v)
							}
						case 4, 5, 6:
							c.Delete(k)
						case 7, 8, 9, 10, 11, 12:
							c.Set(k, k)
						case 13, 14, 15, 16, 17, 18:
							v, err := c.GetOrLoad(context.Background(), k, load)
							if assert.NoError(t, err) {
								assert.Equal(t, k, v)
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
			c.Close()
			for i := range c.shards {
				s := &c.shards[i]
				assert.LessOrEqual(t, s.n, s.capacity, "shard %d", i)
				assert.Equal(t, s.n, len(s.nodes(nil)), "shard %d", i)
				if p == TinyLFU {
					assert.LessOrEqual(t, s.windowCap, max(1, s.capacity-1), "shard %d window", i)
				}
			}
			if p == TinyLFU {
				assert.Positive(t, c.climb.gen.Load(), "the window climber never moved")
			}
		})
	}
}

// Values of every storage kind survive updates read without a lock.
func TestCellModes(t *testing.T) {
	assert.Equal(t, cellBits, cellMode[int8]())
	assert.Equal(t, cellBits, cellMode[float64]())
	assert.Equal(t, cellPointer, cellMode[*int]())
	assert.Equal(t, cellPointer, cellMode[map[int]int]())
	assert.Equal(t, cellBox, cellMode[string]())
	assert.Equal(t, cellBox, cellMode[[2]int]())

	b := newCache(t, Config[int, bool]{Capacity: 4})
	b.Set(1, true)
	v, _ := b.Get(1)
	assert.True(t, v)
	x := 5
	p := newCache(t, Config[int, *int]{Capacity: 4})
	p.Set(1, &x)
	got, _ := p.Get(1)
	assert.Same(t, &x, got)
	s := newCache(t, Config[int, string]{Capacity: 4})
	s.Set(1, "a")
	s.Set(1, "b")
	sv, _ := s.Get(1)
	assert.Equal(t, "b", sv)
	f := newCache(t, Config[int, float32]{Capacity: 4})
	f.Set(1, -1.5)
	fv, _ := f.Get(1)
	assert.Equal(t, float32(-1.5), fv)
}
