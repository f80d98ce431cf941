package breaker

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRejectProbabilityVectors(t *testing.T) {
	// Eq. 21-1 of the SRE book (ch. 21, "Handling Overload") worked by hand.
	tests := []struct {
		requests, accepts, k, want float64
	}{
		{100, 50, 2, 0},
		{100, 40, 2, 0.1980},
		{100, 0, 2, 0.9901},
		{100, 50, 1.1, 0.4455},
		{100, 90, 1.1, 0.0099},
	}
	for _, tc := range tests {
		require.InDelta(t, tc.want, rejectProbability(tc.requests, tc.accepts, tc.k), 5e-5, "%+v", tc)
	}
}

// TestThrottleLongRun sends one request a second for 10 simulated hours.
// Against a backend that refuses everything, the requests in the window
// settle near R (the window holds 19-20 buckets of 6 s), accepts stay 0, and
// Eq. 21-1 lets through a fraction 1/(R+1) on average. Against a healthy
// backend nothing is rejected.
func TestThrottleLongRun(t *testing.T) {
	const calls = 36_000
	for _, tc := range []struct {
		name    string
		backend error
		lo, hi  float64 // bounds on the fraction let through
	}{
		// R is between 114 and 120: 1/(R+1) in [0.00826, 0.00870]; ±20%
		// covers the sampling noise of ~300 expected passes (sd ≈ 17).
		{"backend refuses everything", errors.New("overloaded"), 0.0066, 0.0105},
		{"healthy backend", nil, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				th, err := NewThrottle(ThrottleConfig{})
				require.NoError(t, err)
				th.rand = rand.New(rand.NewPCG(1, 2)).Float64
				passed := 0
				for range calls {
					time.Sleep(time.Second)
					err := th.Do(context.Background(), func(context.Context) error { passed++; return tc.backend })
					if err != nil && !errors.Is(err, tc.backend) {
						require.ErrorIs(t, err, ErrOpen)
						require.ErrorIs(t, err, ErrThrottled)
					}
				}
				frac := float64(passed) / calls
				t.Logf("let through %d of %d (%.5f)", passed, calls, frac)
				require.GreaterOrEqual(t, frac, tc.lo, "fraction let through")
				require.LessOrEqual(t, frac, tc.hi, "fraction let through")
				s := th.Stats()
				require.Equal(t, int64(calls-passed), s.Rejected)
				require.InDelta(t, 117, s.Requests, 4, "requests in a 2 min window at 1/s")
			})
		})
	}
}

func TestThrottleIgnoreWithdrawsRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th, err := NewThrottle(ThrottleConfig{K: 1.1, Window: time.Minute})
		require.NoError(t, err)
		p, err := th.Allow()
		require.NoError(t, err)
		p.Done(context.Canceled)
		p, err = th.Allow()
		require.NoError(t, err)
		p.Done(nil)
		s := th.Stats()
		require.Equal(t, int64(1), s.Requests)
		require.Equal(t, int64(1), s.Accepts)
		time.Sleep(time.Minute) // everything expires
		s = th.Stats()
		require.Equal(t, int64(0), s.Requests)
		require.Equal(t, 0.0, s.RejectProbability)
	})
}
