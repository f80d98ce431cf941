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

// A Done on a copy of a finished Permit would give its slot back twice; the
// bulkhead undoes each such surplus and counts it once in Misuse, so the
// limit stays intact.
func TestDoneOnCopyIsUndone(t *testing.T) {
	cases := []struct {
		name        string
		held        int // Permits taken and finished through one variable
		copies      int // of those, finished once more through a copy
		wantMisuse  int64
		wantInFight int
	}{
		{"no copies", 2, 0, 0, 0},
		{"one copy", 1, 1, 1, 0},
		{"two copies", 2, 2, 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := mustNew(t, Config{MaxConcurrent: 2})
			permits := make([]Permit, tc.held)
			copies := make([]Permit, tc.held)
			for i := range permits {
				permits[i] = mustTry(t, b)
				copies[i] = permits[i]
			}
			for i := range permits {
				permits[i].Done(nil)
			}
			for i := range tc.copies {
				copies[i].Done(nil)
			}
			s := b.Stats()
			assert.Equal(t, int64(2), s.Available)
			assert.Equal(t, int64(tc.wantInFight), s.InFlight)
			assert.Equal(t, tc.wantMisuse, s.Misuse)
			assertExactlyFits(t, b, 2)
		})
	}
}

// A surplus release's add is visible before it is undone. If a legit caller
// takes the surplus slot and returns it in that instant, its own release
// also sees a surplus; both must not be undone, or a slot is lost for good.
// The interleaving is replayed step by step: the surplus release is paused
// between its add and its check.
func TestSurplusUndoRacesTakeAndRelease(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	s := atomic.AddUint64(&b.state, 1) // a copy's Done: its add, then a pause
	p := mustTry(t, b)
	p.Done(nil) // legit, sees the surplus too
	b.returned(s)
	st := b.Stats()
	assert.Equal(t, int64(1), st.Available)
	assert.Equal(t, int64(1), st.Misuse)
	assertExactlyFits(t, b, 1)
}

// The same with a queued waiter: a release hands its slot over while a
// surplus is still visible, and the waiter's own Done then sees that surplus
// too.
func TestSurplusUndoRacesHandOff(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, MaxWaiting: 1})
	mustTry(t, b)
	got := make(chan Permit)
	go func() {
		p, err := b.Acquire(context.Background())
		assert.NoError(t, err)
		got <- p
	}()
	for b.Stats().Waiting != 1 {
		runtime.Gosched()
	}
	sA := atomic.AddUint64(&b.state, 1) // the holder's Done: add, pause
	sM := atomic.AddUint64(&b.state, 1) // a copy's Done: add, pause
	b.returned(sA)                      // hands a slot to the waiter
	p := <-got
	p.Done(nil) // the waiter's, sees the surplus
	b.returned(sM)
	st := b.Stats()
	assert.Equal(t, int64(1), st.Available)
	assert.Equal(t, int64(0), st.Waiting)
	assert.Equal(t, int64(1), st.Misuse)
	assertExactlyFits(t, b, 1)
}

// Random TryAcquire, Acquire (queued, cancelled), Do and Dones on copies of
// finished Permits from many goroutines; at quiescence every slot is back,
// nobody waits and the counters are exact. Without copies, never more than
// MaxConcurrent are in flight.
func TestStressInvariants(t *testing.T) {
	for _, misuse := range []bool{false, true} {
		for _, maxConcurrent := range []int{1, 3} {
			name := fmt.Sprintf("misuse=%v/MaxConcurrent=%d", misuse, maxConcurrent)
			t.Run(name, func(t *testing.T) {
				b := mustNew(t, Config{MaxConcurrent: maxConcurrent, MaxWaiting: 8})
				var inside, admitted, copyDones atomic.Int64
				var wg sync.WaitGroup
				for g := range 12 {
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(g), 99))
						var stale Permit // a copy of a finished Permit
						hold := func(p Permit) {
							if n := inside.Add(1); !misuse && n > int64(maxConcurrent) {
								t.Errorf("%d in flight, want <= %d", n, maxConcurrent)
							}
							runtime.Gosched()
							inside.Add(-1)
							stale = p
							p.Done(nil)
						}
						for range 3000 {
							switch rng.IntN(5) {
							case 0:
								if p, ok := b.TryAcquire(); ok {
									admitted.Add(1)
									hold(p)
								}
							case 1:
								if p, err := b.Acquire(context.Background()); err == nil {
									admitted.Add(1)
									hold(p)
								}
							case 2:
								ctx, cancel := context.WithCancel(context.Background())
								go cancel()
								if p, err := b.Acquire(ctx); err == nil {
									admitted.Add(1)
									hold(p)
								}
								cancel()
							case 3:
								if misuse && stale != (Permit{}) && rng.IntN(4) == 0 {
									copyDones.Add(1)
									stale.Done(nil)
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
				assert.Equal(t, int64(maxConcurrent), s.Available)
				assert.Equal(t, int64(0), s.InFlight)
				assert.Equal(t, int64(0), s.Waiting)
				assert.Equal(t, int64(copyDones.Load()), s.Misuse)
				assert.Equal(t, int64(admitted.Load()), s.Admitted)
				if misuse {
					assert.Positive(t, copyDones.Load(), "the test must finish copies")
				}
				assertExactlyFits(t, b, maxConcurrent)
			})
		}
	}
}

// Dones on copies hammered against TryAcquire/Done at MaxConcurrent 1, where
// a surplus is most often taken and returned before it is undone: at
// quiescence the slot is back and each surplus is counted once.
func TestStressMisuseAtEdge(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	stale := mustTry(t, b)
	copies := make([]Permit, 4*20_000)
	for i := range copies {
		copies[i] = stale
	}
	stale.Done(nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 20_000 {
				if p, ok := b.TryAcquire(); ok {
					p.Done(nil)
				}
			}
		})
		wg.Go(func() {
			for i := range 20_000 {
				copies[g*20_000+i].Done(nil)
			}
		})
	}
	wg.Wait()
	s := b.Stats()
	assert.Equal(t, int64(1), s.Available)
	assert.Equal(t, int64(len(copies)), s.Misuse)
	assertExactlyFits(t, b, 1)
}

// Concurrent Dones on copies are each undone and counted once, even while
// other callers queue for, take and return slots, and leave the limit
// intact.
func TestConcurrentMisuse(t *testing.T) {
	const maxConcurrent = 3
	b := mustNew(t, Config{MaxConcurrent: maxConcurrent, MaxWaiting: 64})
	stale := mustTry(t, b)
	copies := make([]Permit, 4*500)
	for i := range copies {
		copies[i] = stale
	}
	stale.Done(nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 2000 {
				p, err := b.Acquire(context.Background())
				require.NoError(t, err)
				runtime.Gosched()
				p.Done(nil)
			}
		})
	}
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				copies[g*500+i].Done(nil)
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	s := b.Stats()
	assert.Equal(t, int64(maxConcurrent), s.Available)
	assert.Equal(t, int64(0), s.Waiting)
	assert.Equal(t, int64(16001), s.Admitted)
	// A surplus that lands while a slot is held is indistinguishable from
	// that holder's release; the holder's own Done is then the one undone.
	// Either way every surplus is counted exactly once.
	assert.Equal(t, int64(len(copies)), s.Misuse)
	assertExactlyFits(t, b, maxConcurrent)
}
