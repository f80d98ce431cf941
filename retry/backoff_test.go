package retry

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const draws = 10_000

func TestJitterBoundsAndMean(t *testing.T) {
	base, max := 10*time.Millisecond, 2*time.Second
	tests := []struct {
		name     string
		jitter   Jitter
		attempt  int
		prev     time.Duration
		lo, hi   time.Duration
		wantMean float64
	}{
		// Retry n has the ceiling min(Max, Base·2^(n−1)).
		{"full/first", FullJitter, 1, 0, 0, base, float64(base) / 2},
		{"full/4th", FullJitter, 4, 0, 0, 80 * time.Millisecond, float64(40 * time.Millisecond)},
		{"full/capped", FullJitter, 20, 0, 0, max, float64(max) / 2},
		{"equal/4th", EqualJitter, 4, 0, 40 * time.Millisecond, 80 * time.Millisecond, float64(60 * time.Millisecond)},
		{"equal/capped", EqualJitter, 30, 0, max / 2, max, float64(max) * 3 / 4},
		{"decorrelated/first", DecorrelatedJitter, 1, 0, base, 3 * base, float64(2 * base)},
		{"decorrelated/prev=100ms", DecorrelatedJitter, 3, 100 * time.Millisecond, base, 300 * time.Millisecond, float64(155 * time.Millisecond)},
		{"none/5th", NoJitter, 5, 0, 160 * time.Millisecond, 160 * time.Millisecond, float64(160 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Exponential{Base: base, Max: max, Jitter: tt.jitter}
			rng := rand.New(rand.NewPCG(1, 2))
			var sum float64
			for range draws {
				d := e.delay(tt.attempt, tt.prev, rng.Uint64())
				require.GreaterOrEqual(t, d, tt.lo)
				require.LessOrEqual(t, d, tt.hi)
				sum += float64(d)
			}
			mean := sum / draws
			assert.InEpsilon(t, tt.wantMean, mean, 0.05, "mean got %v want %v", time.Duration(mean), time.Duration(tt.wantMean))
		})
	}
}

func TestDecorrelatedCapsAtMax(t *testing.T) {
	e := Exponential{Base: time.Second, Max: 5 * time.Second, Jitter: DecorrelatedJitter}
	rng := rand.New(rand.NewPCG(3, 4))
	prev := time.Duration(0)
	atCap := 0
	for i := 1; i <= draws; i++ {
		d := e.delay(i, prev, rng.Uint64())
		require.GreaterOrEqual(t, d, e.Base)
		require.LessOrEqual(t, d, min(e.Max, 3*max(prev, e.Base)))
		if d == e.Max {
			atCap++
		}
		prev = d
	}
	assert.Positive(t, atCap, "the AWS formula clips U(base, 3·prev) at cap, so some draws equal cap")
}

func TestExponentialNoOverflow(t *testing.T) {
	huge := time.Duration(1 << 62)
	tests := []struct {
		name string
		e    Exponential
	}{
		{"max=1<<62", Exponential{Base: time.Nanosecond, Max: huge}},
		{"max=maxint64", Exponential{Base: time.Second, Max: math.MaxInt64}},
		{"multiplier=1.5", Exponential{Base: time.Millisecond, Max: huge, Multiplier: 1.5}},
		{"multiplier=1e6", Exponential{Base: time.Millisecond, Max: huge, Multiplier: 1e6}},
		{"multiplier=1", Exponential{Base: time.Millisecond, Max: huge, Multiplier: 1}},
	}
	for _, tt := range tests {
		for _, j := range []Jitter{NoJitter, FullJitter, EqualJitter, DecorrelatedJitter} {
			t.Run(tt.name+"/"+j.String(), func(t *testing.T) {
				e := tt.e
				e.Jitter = j
				require.NoError(t, e.Validate())
				prev := time.Duration(0)
				for _, attempt := range []int{1, 2, 62, 63, 64, 100, 1000, math.MaxInt} {
					d := e.Delay(attempt, prev)
					require.GreaterOrEqual(t, d, time.Duration(0), "attempt %d", attempt)
					require.LessOrEqual(t, d, e.Cap(), "attempt %d", attempt)
					prev = d
				}
				if j == NoJitter {
					want := e.Max
					if e.Multiplier == 1 {
						want = e.Base
					}
					assert.Equal(t, want, e.Delay(1000, 0), "ceiling at attempt 1000")
				}
			})
		}
	}
}

func TestExponentialCeiling(t *testing.T) {
	e := Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: NoJitter}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000}
	for i, w := range want {
		assert.Equal(t, w*time.Millisecond, e.Delay(i+1, 0), "attempt %d", i+1)
	}
	e.Multiplier = 3
	assert.Equal(t, 900*time.Millisecond, e.Delay(3, 0))
}

func TestBackoffValidate(t *testing.T) {
	tests := []struct {
		name  string
		b     Backoff
		field string
	}{
		{"base zero", Exponential{}, "Exponential.Base"},
		{"base negative", Exponential{Base: -1}, "Exponential.Base"},
		{"max below base", Exponential{Base: time.Second, Max: time.Millisecond}, "Exponential.Max"},
		{"default max below base", Exponential{Base: time.Minute}, "Exponential.Max"},
		{"multiplier below 1", Exponential{Base: time.Second, Multiplier: 0.5}, "Exponential.Multiplier"},
		{"multiplier NaN", Exponential{Base: time.Second, Multiplier: math.NaN()}, "Exponential.Multiplier"},
		{"unknown jitter", Exponential{Base: time.Second, Jitter: 9}, "Exponential.Jitter"},
		{"constant negative", Constant(-time.Second), "Constant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Backoff: tt.b})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestFullJitterDelayWithinCeiling(t *testing.T) {
	// Delay's full-jitter path must agree with ceiling, for every attempt
	// number including invalid ones.
	full := Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}
	none := full
	none.Jitter = NoJitter
	for attempt := -1; attempt <= 70; attempt++ {
		ceil := none.Delay(attempt, 0)
		for range 100 {
			d := full.Delay(attempt, 0)
			require.GreaterOrEqual(t, d, time.Duration(0), "attempt %d", attempt)
			require.LessOrEqual(t, d, ceil, "attempt %d", attempt)
		}
	}
}

func TestFullJitterLiveSource(t *testing.T) {
	// The live generator Delay uses (not the seeded one above): full-jitter
	// delays stay in [0, ceiling] and their mean is within 5% of half the
	// ceiling over 10,000 draws.
	e := Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}
	for _, attempt := range []int{1, 4, 8} {
		ceil := e.ceiling(attempt)
		var sum float64
		for range draws {
			d := e.Delay(attempt, 0)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, ceil)
			sum += float64(d)
		}
		assert.InEpsilon(t, float64(ceil)/2, sum/draws, 0.05, "attempt %d", attempt)
	}
}
