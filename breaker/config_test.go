package breaker_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  breaker.Config
		want string // the message after "breaker: "
	}{
		{"FailureRate above 1", breaker.Config{FailureRate: 1.5}, "Config.FailureRate 1.5 outside (0,1]"},
		{"FailureRate negative", breaker.Config{FailureRate: -0.1}, "Config.FailureRate -0.1 outside (0,1]"},
		{"FailureRate NaN", breaker.Config{FailureRate: math.NaN()}, "Config.FailureRate NaN outside (0,1]"},
		{"SlowRate above 1", breaker.Config{SlowRate: 2}, "Config.SlowRate 2 outside (0,1]"},
		{"WindowSize negative", breaker.Config{WindowSize: -1}, "Config.WindowSize -1 negative"},
		{"MinCalls above WindowSize", breaker.Config{WindowSize: 5, MinCalls: 6}, "Config.MinCalls 6 exceeds Config.WindowSize 5"},
		{"MinCalls negative", breaker.Config{MinCalls: -1}, "Config.MinCalls -1 negative"},
		{"ConsecutiveFailures negative", breaker.Config{ConsecutiveFailures: -3}, "Config.ConsecutiveFailures -3 negative"},
		{"OpenFor negative", breaker.Config{OpenFor: -time.Second}, "Config.OpenFor -1s negative"},
		{"WindowTime negative", breaker.Config{WindowTime: -time.Second}, "Config.WindowTime -1s negative"},
		{"SlowCall negative", breaker.Config{SlowCall: -1}, "Config.SlowCall -1ns negative"},
		{"MaxOpenFor negative", breaker.Config{MaxOpenFor: -1}, "Config.MaxOpenFor -1ns negative"},
		{"HalfOpenCalls negative", breaker.Config{HalfOpenCalls: -1}, "Config.HalfOpenCalls -1 negative"},
		{"MaxOpenFor below OpenFor", breaker.Config{OpenFor: time.Minute, MaxOpenFor: time.Second}, "Config.MaxOpenFor 1s below Config.OpenFor 1m0s"},
		{"MaxOpenFor below default OpenFor", breaker.Config{MaxOpenFor: time.Second}, "Config.MaxOpenFor 1s below Config.OpenFor 5s"},
		{"both windows", breaker.Config{WindowSize: 10, WindowTime: time.Second}, "Config.WindowSize 10 and Config.WindowTime 1s both set; choose one window"},
		{"Buckets without WindowTime", breaker.Config{Buckets: 4}, "Config.Buckets 4 set without Config.WindowTime"},
		{"buckets too narrow", breaker.Config{WindowTime: time.Millisecond, Buckets: 10}, "Config.WindowTime 1ms split in 10 buckets gives buckets under 1ms"},
		{"ShouldTrip with MinCalls", breaker.Config{ShouldTrip: tripNever, MinCalls: 5}, "Config.MinCalls 5 set with Config.ShouldTrip, which replaces it"},
		{"ShouldTrip with FailureRate", breaker.Config{ShouldTrip: tripNever, FailureRate: 0.2}, "Config.FailureRate 0.2 set with Config.ShouldTrip, which replaces it"},
		{"ShouldTrip with SlowRate", breaker.Config{ShouldTrip: tripNever, SlowRate: 0.2}, "Config.SlowRate 0.2 set with Config.ShouldTrip, which replaces it"},
		{"ShouldTrip with ConsecutiveFailures", breaker.Config{ShouldTrip: tripNever, ConsecutiveFailures: 3}, "Config.ConsecutiveFailures 3 set with Config.ShouldTrip, which replaces it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := breaker.New(tc.cfg)
			require.ErrorIs(t, err, breaker.ErrInvalidConfig)
			require.Nil(t, b)
			require.Equal(t, "breaker: "+tc.want, err.Error())
			_, err = breaker.NewGroup(tc.cfg, breaker.GroupConfig{})
			require.ErrorIs(t, err, breaker.ErrInvalidConfig, "NewGroup")
		})
	}
	_, err := breaker.New(breaker.Config{})
	require.NoError(t, err, "zero Config is valid")
	_, err = breaker.New(breaker.Config{WindowSize: 3})
	require.NoError(t, err, "MinCalls default shrinks to a small WindowSize")
	_, err = breaker.New(breaker.Config{ShouldTrip: tripNever, SlowCall: time.Second, WindowTime: time.Minute})
	require.NoError(t, err, "ShouldTrip with the window and SlowCall it counts over")

	others := []struct {
		name string
		err  func() error
		want string
	}{
		{"GroupConfig.MaxKeys", func() error {
			_, err := breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{MaxKeys: -1})
			return err
		},
			"GroupConfig.MaxKeys -1 negative"},
		{"GroupConfig.IdleTTL", func() error {
			_, err := breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{IdleTTL: -1})
			return err
		},
			"GroupConfig.IdleTTL -1ns negative"},
		{"ThrottleConfig.K", func() error { _, err := breaker.NewThrottle(breaker.ThrottleConfig{K: 0.5}); return err },
			"ThrottleConfig.K 0.5 below 1"},
		{"ThrottleConfig.Window negative", func() error { _, err := breaker.NewThrottle(breaker.ThrottleConfig{Window: -time.Second}); return err },
			"ThrottleConfig.Window -1s negative"},
		{"ThrottleConfig.Window short", func() error {
			_, err := breaker.NewThrottle(breaker.ThrottleConfig{Window: time.Millisecond})
			return err
		},
			"ThrottleConfig.Window 1ms under 20ms"},
	}
	for _, tc := range others {
		err := tc.err()
		require.ErrorIs(t, err, breaker.ErrInvalidConfig, tc.name)
		require.Equal(t, "breaker: "+tc.want, err.Error(), tc.name)
	}
}

func tripNever(breaker.Counts) bool { return false }
