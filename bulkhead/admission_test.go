package bulkhead

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark"
)

// fakeLimiter admits while it has tokens, like a fleet-wide limiter serving
// a leased batch; it counts Allow calls.
type fakeLimiter struct {
	tokens atomic.Int64
	calls  atomic.Int64
}

func (f *fakeLimiter) Allow() bool {
	f.calls.Add(1)
	if f.tokens.Add(-1) < 0 {
		f.tokens.Add(1)
		return false
	}
	return true
}

// fakeLimiterAt also knows when it will admit again.
type fakeLimiterAt struct {
	fakeLimiter
	next time.Time
}

func (f *fakeLimiterAt) RetryAt() time.Time { return f.next }

func TestRateLimiterInterface(t *testing.T) {
	// Each case builds its limiter, holding two tokens, at the bubble's start
	// and says when it will admit again after those (zero: unknown).
	cases := []struct {
		name string
		mk   func(now time.Time) (RateLimiter, time.Time)
	}{
		{"fake", func(time.Time) (RateLimiter, time.Time) {
			f := &fakeLimiter{}
			f.tokens.Store(2)
			return f, time.Time{}
		}},
		{"fake with RetryAt", func(now time.Time) (RateLimiter, time.Time) {
			f := &fakeLimiterAt{next: now.Add(3 * time.Second)}
			f.tokens.Store(2)
			return f, f.next
		}},
		{"fake with unknown RetryAt", func(time.Time) (RateLimiter, time.Time) {
			f := &fakeLimiterAt{}
			f.tokens.Store(2)
			return f, time.Time{}
		}},
		{"*rate.Limiter", func(now time.Time) (RateLimiter, time.Time) {
			return rate.NewLimiter(rate.Every(2*time.Second), 2), now.Add(2 * time.Second)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim, wantAt := tc.mk(time.Now())
				var rejections []error
				b := mustNew(t, Config{MaxConcurrent: 8, RateLimiter: lim, Observer: onReject(func(err error) { rejections = append(rejections, err) })})
				for range 2 {
					p, err := b.Acquire(context.Background())
					require.NoError(t, err)
					p.Done(nil)
				}
				_, err := b.Acquire(context.Background())
				assert.ErrorIs(t, err, ErrRateLimited)
				assert.ErrorIs(t, err, ErrRejected)
				assert.ErrorIs(t, err, bulwark.ErrNotAttempted)
				at, ok := bulwark.RetryAt(err)
				assert.Equal(t, !wantAt.IsZero(), ok)
				assert.True(t, at.Equal(wantAt), "RetryAt %v, want %v", at, wantAt)

				_, ok = b.TryAcquire()
				assert.False(t, ok)
				require.Len(t, rejections, 2)
				assert.Equal(t, err.Error(), rejections[1].Error(), "the observer sees the TryAcquire rejection in full")
				s := b.Stats()
				assert.Equal(t, int64(2), s.RejectedRate)
				assert.Equal(t, int64(2), s.Admitted)
			})
		})
	}
}

// The rate check comes before the slot check: a call refused as full has
// spent a token, and a call refused by the rate never touches the slots.
func TestRateCheckBeforeSlots(t *testing.T) {
	f := &fakeLimiter{}
	f.tokens.Store(10)
	b := mustNew(t, Config{MaxConcurrent: 1, RateLimiter: f})
	p := mustTry(t, b)
	_, ok := b.TryAcquire()
	assert.False(t, ok)
	assert.Equal(t, int64(8), f.tokens.Load(), "the full call spent its token")
	s := b.Stats()
	assert.Equal(t, int64(1), s.RejectedFull)
	assert.Zero(t, s.RejectedRate)

	f.tokens.Store(0)
	p.Done(nil)
	_, err := b.Acquire(context.Background())
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, int64(1), b.Stats().Available, "a rate rejection leaves the slots alone")
}

// A limiter that never refills has no next admission to report.
func TestTokenBucketNext(t *testing.T) {
	now := time.Unix(100, 0)
	cases := []struct {
		name   string
		lim    *rate.Limiter
		want   time.Duration
		wantOK bool
	}{
		{"10 per second, empty", emptied(rate.NewLimiter(10, 1), now), 100 * time.Millisecond, true},
		{"zero rate", emptied(rate.NewLimiter(0, 1), now), 0, false},
		{"zero burst", rate.NewLimiter(10, 0), 0, false},
		{"infinite", rate.NewLimiter(rate.Inf, 0), 0, true},
		{"token available", rate.NewLimiter(1, 1), 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, ok := tokenBucketNext(tc.lim, now)
			require.Equal(t, tc.wantOK, ok)
			if ok {
				assert.Equal(t, tc.want, at.Sub(now))
			}
		})
	}
}

func emptied(l *rate.Limiter, now time.Time) *rate.Limiter {
	if !l.AllowN(now, l.Burst()) {
		panic(errors.New("limiter did not start full"))
	}
	return l
}
