package breaker_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

func record(b *breaker.Breaker, n int, err error) {
	for range n {
		p, _ := b.Allow()
		p.Done(err)
	}
}

func TestTimeWindowExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := breaker.New(breaker.Config{WindowTime: 10 * time.Second, MinCalls: 1})
		require.NoError(t, err)
		type counts struct{ calls, fails int64 }
		window := func() counts {
			s := b.Stats()
			return counts{s.WindowCalls, s.WindowFailures}
		}

		record(b, 100, nil)
		record(b, 40, errBoom)
		require.Equal(t, counts{140, 40}, window(), "t=0")

		time.Sleep(5 * time.Second)
		record(b, 10, nil)
		require.Equal(t, counts{150, 40}, window(), "t=5s")

		time.Sleep(5 * time.Second) // t=10s: bucket 0 expires, bucket 5 stays
		require.Equal(t, counts{10, 0}, window(), "t=10s")
		record(b, 1, errBoom)
		require.Equal(t, counts{11, 1}, window(), "t=10s after one failure")

		time.Sleep(time.Hour) // a long idle gap wipes every bucket
		require.Equal(t, counts{0, 0}, window(), "after an idle hour")
		record(b, 3, nil)
		require.Equal(t, counts{3, 0}, window(), "after the gap")
		require.Equal(t, breaker.Closed, b.State())

		s := b.Stats()
		require.Equal(t, int64(113), s.Successes, "lifetime successes")
		require.Equal(t, int64(41), s.Failures, "lifetime failures")
	})
}

func TestCountWindowSlides(t *testing.T) {
	b, err := breaker.New(breaker.Config{WindowSize: 10, MinCalls: 10, FailureRate: 1})
	require.NoError(t, err)
	record(b, 3, errBoom)
	record(b, 20, nil)
	s := b.Stats()
	require.Equal(t, int64(10), s.WindowCalls)
	require.Equal(t, int64(0), s.WindowFailures, "failures older than the last 10 outcomes")
	record(b, 4, errBoom)
	s = b.Stats()
	require.Equal(t, int64(10), s.WindowCalls)
	require.Equal(t, int64(4), s.WindowFailures)
}

// Successes alone must notice that a bucket has ended (the hot path reads
// no clock; a timer marks the bucket's end), through Done, through Do, and
// with a custom Classify (the path that classifies first).
func TestTimeWindowSuccessesRotateBuckets(t *testing.T) {
	for _, via := range []string{"Done", "Do", "Classify"} {
		t.Run(via, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := breaker.Config{WindowTime: 10 * time.Second}
				if via == "Classify" {
					cfg.Classify = breaker.DefaultClassify
				}
				b, err := breaker.New(cfg)
				require.NoError(t, err)
				succeed := func(n int) {
					for range n {
						if via == "Do" {
							require.NoError(t, b.Do(context.Background(), func(context.Context) error { return nil }))
						} else {
							record(b, 1, nil)
						}
					}
				}
				succeed(3)
				time.Sleep(5 * time.Second)
				succeed(4) // bucket 5
				time.Sleep(5 * time.Second)
				succeed(5)                                                 // t=10s: bucket 0 has expired
				require.Equal(t, int64(9), b.Stats().WindowCalls, "t=10s") // 4 + 5
				time.Sleep(5 * time.Second)
				require.Equal(t, int64(5), b.Stats().WindowCalls, "t=15s")
			})
		})
	}
}
