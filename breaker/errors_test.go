package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/breaker"
)

// Every local rejection matches ErrOpen and bulwark.ErrNotAttempted; the
// Open one says when the breaker admits again, through any wrapping.
func TestRejectionsAreNotAttempted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := breaker.New(breaker.Config{Name: "db", OpenFor: time.Minute, HalfOpenCalls: 1})
		require.NoError(t, err)
		b.Trip()
		_, openErr := b.Allow()
		doErr := b.Do(context.Background(), func(context.Context) error { return nil })

		time.Sleep(time.Minute)
		p, err := b.Allow() // the one probe
		require.NoError(t, err)
		_, halfOpenErr := b.Allow()
		p.Done(nil)

		th, err := breaker.NewThrottle(breaker.ThrottleConfig{})
		require.NoError(t, err)
		for range 1000 { // a backend refusing everything: the throttle rejects
			if th.Do(context.Background(), func(context.Context) error { return errBoom }) == breaker.ErrThrottled {
				break
			}
		}
		require.NotZero(t, th.Stats().Rejected)

		until := time.Now() // the open period ended a moment ago, at the Sleep's end
		tests := []struct {
			name    string
			err     error
			retryAt time.Time // zero: no moment known
		}{
			{"Allow while open", openErr, until},
			{"Do while open", doErr, until},
			{"wrapped", fmt.Errorf("fetch user: %w", openErr), until},
			{"half-open, probe slots taken", halfOpenErr, time.Time{}},
			{"throttled", breaker.ErrThrottled, time.Time{}},
			{"wrapped throttled", fmt.Errorf("fetch user: %w", breaker.ErrThrottled), time.Time{}},
			{"the sentinel itself", breaker.ErrOpen, time.Time{}},
		}
		for _, tc := range tests {
			require.ErrorIsf(t, tc.err, breaker.ErrOpen, tc.name)
			require.ErrorIsf(t, tc.err, bulwark.ErrNotAttempted, tc.name)
			at, ok := bulwark.RetryAt(tc.err)
			require.Equalf(t, !tc.retryAt.IsZero(), ok, "%s: RetryAt known", tc.name)
			require.Truef(t, tc.retryAt.Equal(at), "%s: RetryAt %v, want %v", tc.name, at, tc.retryAt)
		}

		var oe *breaker.OpenError
		require.True(t, errors.As(openErr, &oe))
		require.Equal(t, breaker.Open, oe.State)
		require.Equal(t, "db", oe.Name)
		require.True(t, errors.As(halfOpenErr, &oe))
		require.Equal(t, breaker.HalfOpen, oe.State)
		require.Equal(t, `breaker "db": half-open, probe slots taken`, halfOpenErr.Error())
	})
}

// A call's own failure is not a local rejection.
func TestCallErrorsAreAttempted(t *testing.T) {
	b, err := breaker.New(breaker.Config{})
	require.NoError(t, err)
	err = b.Do(context.Background(), func(context.Context) error { return errBoom })
	require.ErrorIs(t, err, errBoom)
	require.NotErrorIs(t, err, bulwark.ErrNotAttempted)
	require.NotErrorIs(t, err, breaker.ErrOpen)
	require.NotErrorIs(t, breaker.ErrInvalidConfig, bulwark.ErrNotAttempted)
}
