package breaker_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

// TestPermitDoneTwice: admit, Done(err), Done(err) again; the state after
// the second Done equals the state after the first (counters, window,
// probe slots, state).
func TestPermitDoneTwice(t *testing.T) {
	t.Run("Breaker", testBreakerPermitDoneTwice)
	t.Run("Throttle", testThrottlePermitDoneTwice)
}

func testBreakerPermitDoneTwice(t *testing.T) {
	probing := breaker.Config{WindowSize: 4, MinCalls: 4, OpenFor: time.Second, HalfOpenCalls: 2}
	tests := []struct {
		name  string
		cfg   breaker.Config
		setup func(*breaker.Breaker) // brings the breaker to the state under test
		err   error
	}{
		{"closed success", breaker.Config{}, nil, nil},
		{"closed failure", breaker.Config{}, nil, errBoom},
		{"closed ignored", breaker.Config{}, nil, context.Canceled},
		{"closed success with SlowCall", breaker.Config{SlowCall: time.Second}, nil, nil},
		{"closed success with Classify", breaker.Config{Classify: breaker.DefaultClassify}, nil, nil},
		{"closed success in a time window", breaker.Config{WindowTime: 10 * time.Second}, nil, nil},
		{"closed failure that trips", breaker.Config{ConsecutiveFailures: 1}, nil, errBoom},
		{"half-open probe success", probing, halfOpen, nil},
		{"half-open probe failure", probing, halfOpen, errBoom},
		{"half-open probe ignored", probing, halfOpen, context.Canceled},
		{"shadow bystander", breaker.Config{Shadow: true}, func(b *breaker.Breaker) { b.Trip() }, errBoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Two identical breakers: one sees Done once, the other twice.
				admit := func() (*breaker.Breaker, breaker.Permit) {
					b, err := breaker.New(tc.cfg)
					require.NoError(t, err)
					if tc.setup != nil {
						tc.setup(b)
					}
					p, err := b.Allow()
					require.NoError(t, err)
					return b, p
				}
				once, p := admit()
				twice, q := admit()
				p.Done(tc.err)
				q.Done(tc.err)
				q.Done(tc.err)
				require.Equal(t, breaker.Permit{}, q, "Done zeroes the Permit")
				require.Equal(t, snapshot(once), snapshot(twice), "a second Done changes nothing")
			})
		})
	}
}

// halfOpen trips b and waits out its open period; its next Allow is a probe.
func halfOpen(b *breaker.Breaker) {
	b.Trip()
	time.Sleep(time.Second)
}

// state is what a second Done must not change: the counters and window in
// Stats, the state, and the free probe slots (counted by admitting probes
// until one is rejected).
type state struct {
	stats      breaker.Stats
	freeProbes int
}

func snapshot(b *breaker.Breaker) state {
	s := state{stats: b.Stats()}
	if s.stats.State != breaker.HalfOpen {
		return s
	}
	var held []breaker.Permit
	for {
		p, err := b.Allow()
		if err != nil {
			break
		}
		held = append(held, p)
	}
	s.freeProbes = len(held)
	return s
}

func testThrottlePermitDoneTwice(t *testing.T) {
	for _, err := range []error{nil, errBoom, context.Canceled} {
		synctest.Test(t, func(t *testing.T) {
			admit := func() (*breaker.Throttle, breaker.Permit) {
				th, e := breaker.NewThrottle(breaker.ThrottleConfig{})
				require.NoError(t, e)
				p, e := th.Allow()
				require.NoError(t, e)
				return th, p
			}
			once, p := admit()
			twice, q := admit()
			p.Done(err)
			q.Done(err)
			q.Done(err)
			require.Equal(t, breaker.Permit{}, q, "Done zeroes the Permit")
			require.Equal(t, once.Stats(), twice.Stats(), "err %v: a second Done changes nothing", err)
		})
	}
}

func TestZeroPermitDone(t *testing.T) {
	var p breaker.Permit
	p.Done(errBoom) // must not panic
	p.Done(nil)
	require.Equal(t, breaker.Permit{}, p)
}
