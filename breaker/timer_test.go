package breaker

import (
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// A goroutine reads the clock in the last moment of a bucket, the bucket
// ends and its timer sets bucketEndedBit, then the goroutine gets the lock
// and records with its stale reading (recordSlow reads the clock before
// locking). That must not clear the bit: no timer is left for the bucket,
// and lock-free successes would then never rotate the window again, so they
// would all sit in one bucket and vanish together when it expires.
func TestBucketTimerSurvivesStaleClockReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := New(Config{WindowTime: 10 * time.Second}) // 1 s buckets
		require.NoError(t, err)
		time.Sleep(999 * time.Millisecond)
		stale := b.now()
		time.Sleep(time.Millisecond) // bucket 0 ends; its timer fires
		synctest.Wait()
		require.NotZero(t, b.flags.Load()&bucketEndedBit, "the timer marks the end of bucket 0")

		b.mu.Lock()
		b.recordLocked(Permit{b: b, word: b.state.Load()}, Success, stale, false)
		b.obs.UnlockAndDeliver(&b.mu, nil, nil)

		for range 9 { // t = 1.5 s … 9.5 s, one success per bucket 1…9
			time.Sleep(500 * time.Millisecond)
			p, err := b.Allow()
			require.NoError(t, err)
			p.Done(nil)
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // t = 10.5 s: the window is buckets 1…10
		require.Equal(t, int64(9), b.Stats().WindowCalls, "successes of buckets 1…9 are in the window")
	})
}

// An abandoned time-window breaker must not keep itself alive: its bucket
// timer is armed by calls, never by itself, so once idle it is collectable
// after at most one bucket width.
func TestIdleTimeWindowBreakerIsCollected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var collected atomic.Bool // a cleanup runs outside the bubble: no channel
		func() {
			b, err := New(Config{WindowTime: 10 * time.Second})
			require.NoError(t, err)
			for range 5 {
				p, _ := b.Allow()
				p.Done(nil)
				p, _ = b.Allow()
				p.Done(errBoomInternal)
				time.Sleep(time.Second)
			}
			runtime.AddCleanup(b, func(c *atomic.Bool) { c.Store(true) }, &collected)
		}()
		time.Sleep(2 * time.Second) // past every timer the breaker armed
		for range 10 {
			runtime.GC()
			if collected.Load() {
				return
			}
			time.Sleep(time.Second)
		}
		t.Fatal("an idle time-window breaker was never collected")
	})
}
