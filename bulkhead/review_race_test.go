package bulkhead

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An over-Release's add is visible before it is undone. If a legit caller
// takes the surplus slot and returns it in that instant, its own Release also
// sees a surplus; both must not be undone, or a slot is lost for good. The
// interleaving is replayed step by step: the over-Release is paused between
// its add and its check.
func TestSurplusUndoRacesTakeAndRelease(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	s := atomic.AddUint64(&b.state, 1) // over-Release: its add, then a pause
	require.True(t, b.TryAcquire())
	b.Release() // legit, sees the surplus too
	b.returned(s)
	st := b.Stats()
	assert.Equal(t, 1, st.Available)
	assert.Equal(t, uint64(1), st.Misuse)
	assert.True(t, b.TryAcquire(), "a slot was lost")
	assert.False(t, b.TryAcquire())
}

// The same with a queued waiter: a Release hands its slot over while an
// over-Release's surplus is still visible, and the waiter's own Release then
// sees that surplus too.
func TestSurplusUndoRacesHandOff(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 1})
	require.True(t, b.TryAcquire())
	got := make(chan error)
	go func() { got <- b.Acquire(context.Background()) }()
	for b.Stats().Waiting != 1 {
		runtime.Gosched()
	}
	sA := atomic.AddUint64(&b.state, 1) // the holder's Release: add, pause
	sM := atomic.AddUint64(&b.state, 1) // over-Release: add, pause
	b.returned(sA)                      // hands a slot to the waiter
	require.NoError(t, <-got)
	b.Release() // the waiter's, sees the surplus
	b.returned(sM)
	st := b.Stats()
	assert.Equal(t, 1, st.Available)
	assert.Equal(t, 0, st.Waiting)
	assert.Equal(t, uint64(1), st.Misuse)
	assert.True(t, b.TryAcquire(), "a slot was lost")
	assert.False(t, b.TryAcquire())
}

// Random TryAcquire, Acquire (queued, cancelled, timed out by ctx), Release
// and over-Release from many goroutines; at quiescence every slot is back,
// nobody waits and the counters are exact. Without over-Releases, never more
// than MaxConcurrent are in flight.
func TestStressInvariants(t *testing.T) {
	for _, misuse := range []bool{false, true} {
		for _, maxConcurrent := range []int{1, 3} {
			name := fmt.Sprintf("misuse=%v/MaxConcurrent=%d", misuse, maxConcurrent)
			t.Run(name, func(t *testing.T) {
				b := mustNew(t, Config{MaxConcurrent: maxConcurrent, MaxWaiting: 8})
				var inside, admitted, overReleases atomic.Int64
				hold := func() {
					if n := inside.Add(1); !misuse && n > int64(maxConcurrent) {
						t.Errorf("%d in flight, want <= %d", n, maxConcurrent)
					}
					runtime.Gosched()
					inside.Add(-1)
					b.Release()
				}
				var wg sync.WaitGroup
				for g := range 12 {
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(g), 99))
						for range 3000 {
							switch rng.IntN(5) {
							case 0:
								if b.TryAcquire() {
									admitted.Add(1)
									hold()
								}
							case 1:
								if b.Acquire(context.Background()) == nil {
									admitted.Add(1)
									hold()
								}
							case 2:
								ctx, cancel := context.WithCancel(context.Background())
								go cancel()
								if b.Acquire(ctx) == nil {
									admitted.Add(1)
									hold()
								}
								cancel()
							case 3:
								if misuse && rng.IntN(4) == 0 {
									overReleases.Add(1)
									b.Release()
								}
							default:
								_ = b.Do(context.Background(), func(context.Context) error {
									admitted.Add(1)
									return nil
								})
							}
						}
					})
				}
				wg.Wait()
				s := b.Stats()
				assert.Equal(t, maxConcurrent, s.Available)
				assert.Equal(t, 0, s.InFlight)
				assert.Equal(t, 0, s.Waiting)
				assert.Equal(t, uint64(overReleases.Load()), s.Misuse)
				assert.Equal(t, uint64(admitted.Load()), s.Admitted)
				for range maxConcurrent {
					require.True(t, b.TryAcquire())
				}
				assert.False(t, b.TryAcquire())
			})
		}
	}
}

// Over-Releases hammered against TryAcquire/Release at MaxConcurrent 1, where
// a surplus is most often taken and returned before it is undone: at
// quiescence the slot is back and each over-Release is counted once.
func TestStressMisuseAtEdge(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	var wg sync.WaitGroup
	const overReleases = 4 * 20_000
	for range 4 {
		wg.Go(func() {
			for range 20_000 {
				if b.TryAcquire() {
					b.Release()
				}
			}
		})
		wg.Go(func() {
			for range 20_000 {
				b.Release()
			}
		})
	}
	wg.Wait()
	s := b.Stats()
	assert.Equal(t, 1, s.Available)
	assert.Equal(t, uint64(overReleases), s.Misuse)
	assert.True(t, b.TryAcquire())
	assert.False(t, b.TryAcquire())
}
