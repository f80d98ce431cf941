package shard

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// concurrency tracks calls in flight and the most seen at once.
type concurrency struct{ now, peak, calls atomic.Int64 }

func (c *concurrency) enter() {
	c.calls.Add(1)
	n := c.now.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
}

func (c *concurrency) leave() { c.now.Add(-1) }

// Gather runs inside synctest bubbles: synctest.Test fails if any goroutine
// started in the bubble is still blocked when the test ends, so every test
// here is also a leak check.
func TestGatherOrderAndLimit(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		wantPeak int64
	}{
		{"limit 1", 1, 1},
		{"limit 3", 3, 3},
		{"no limit", 0, 12},
		{"negative is no limit", -1, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				members := names("shard-", 12)
				var c concurrency
				results := Gather(t.Context(), members, tt.limit, func(ctx context.Context, m string) (string, error) {
					c.enter()
					defer c.leave()
					// Later members answer sooner, so completion order is reversed.
					time.Sleep(time.Duration(100-len(m)*5-int(m[len(m)-1])) * time.Millisecond)
					if m == "shard-4" {
						return "", errors.New("down")
					}
					return "hello from " + m, nil
				})
				require.Len(t, results, 12)
				for i, r := range results {
					assert.Equal(t, members[i], r.Member)
					if r.Member == "shard-4" {
						assert.EqualError(t, r.Err, "down")
						continue
					}
					assert.NoError(t, r.Err)
					assert.Equal(t, "hello from "+members[i], r.Value)
				}
				assert.Equal(t, tt.wantPeak, c.peak.Load(), "peak concurrency")
				assert.Equal(t, int64(12), c.calls.Load(), "a failure does not stop the others")
			})
		})
	}
}

func TestGatherCancelStopsPendingCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var c concurrency
		results := Gather(ctx, names("m", 10), 2, func(ctx context.Context, m string) (int, error) {
			c.enter()
			defer c.leave()
			if m == "m1" {
				cancel()
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Second):
				return 1, nil
			}
		})
		assert.LessOrEqual(t, c.calls.Load(), int64(3), "calls made after cancel: at most one racing the check")
		for _, r := range results {
			assert.ErrorIs(t, r.Err, context.Canceled, "member %s", r.Member)
		}
	})
}

func TestGatherAll(t *testing.T) {
	t.Run("values in order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			members := names("s", 8)
			got, err := GatherAll(t.Context(), members, 3, func(ctx context.Context, m string) (string, error) {
				time.Sleep(time.Duration(10-len(m)) * time.Millisecond)
				return m + "!", nil
			})
			require.NoError(t, err)
			for i, m := range members {
				assert.Equal(t, m+"!", got[i])
			}
		})
	})
	t.Run("first error cancels the rest", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			boom := errors.New("boom")
			var c concurrency
			var cancelled atomic.Int64
			_, err := GatherAll(t.Context(), names("s", 20), 4, func(ctx context.Context, m string) (int, error) {
				c.enter()
				defer c.leave()
				if m == "s2" {
					time.Sleep(time.Millisecond)
					return 0, boom
				}
				select {
				case <-ctx.Done():
					cancelled.Add(1)
					return 0, ctx.Err()
				case <-time.After(time.Hour):
					return 1, nil
				}
			})
			require.ErrorIs(t, err, boom)
			assert.Contains(t, err.Error(), `"s2"`, "the error names the member")
			assert.Equal(t, int64(3), cancelled.Load(), "the three calls in flight were cancelled")
			assert.Less(t, c.calls.Load(), int64(20), "no new calls after the error")
			assert.LessOrEqual(t, c.peak.Load(), int64(4))
		})
	})
	t.Run("caller cancellation", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
			defer cancel()
			_, err := GatherAll(ctx, names("s", 5), 1, func(ctx context.Context, m string) (int, error) {
				select {
				case <-ctx.Done():
					return 0, fmt.Errorf("wrapped: %w", ctx.Err())
				case <-time.After(2 * time.Millisecond):
					return 1, nil
				}
			})
			assert.Equal(t, context.DeadlineExceeded, err, "reported as ctx.Err(), not a member failure")
		})
	})
}
