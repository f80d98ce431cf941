package bulkhead

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Step tables worked out from the Netflix concurrency-limits sources
// (AIMDLimit, VegasLimit, Gradient2Limit).
func TestAIMDSteps(t *testing.T) {
	cases := []struct {
		name     string
		limit    float64
		rtt      time.Duration
		inFlight int
		dropped  bool
		want     int
	}{
		{"drop 10 -> 9", 10, time.Millisecond, 10, true, 9},
		{"drop 100 -> 90", 100, time.Millisecond, 100, true, 90},
		{"drop 5 -> 4", 5, time.Millisecond, 5, true, 4},
		{"timeout counts as drop", 10, 6 * time.Second, 10, false, 9},
		{"busy: +1", 10, time.Millisecond, 5, false, 11},
		{"app limited: unchanged", 10, time.Millisecond, 4, false, 10},
		{"drop at 1 stays 1", 1, time.Millisecond, 1, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &aimd{bounds: bounds{1, 1000}, limit: tc.limit, backoff: 0.9, timeout: 5 * time.Second}
			assert.Equal(t, tc.want, a.update(time.Time{}, tc.rtt, tc.inFlight, tc.dropped))
		})
	}
}

func TestVegasSteps(t *testing.T) {
	const noLoad = 10 * time.Millisecond
	cases := []struct {
		name     string
		limit    float64
		rtt      time.Duration
		inFlight int
		dropped  bool
		want     int
	}{
		// At limit 20: alpha 3, beta 6, threshold 1, step 1.
		{"no queue: +beta", 20, noLoad, 20, false, 26},
		{"queue 2 < alpha: +1", 20, 11 * time.Millisecond, 20, false, 21},           // ceil(20*(1-10/11)) = 2
		{"queue 4 in [alpha,beta]: same", 20, 12 * time.Millisecond, 20, false, 20}, // ceil(3.33) = 4
		{"queue 10 > beta: -1", 20, 20 * time.Millisecond, 20, false, 19},
		{"drop: -1", 20, noLoad, 20, true, 19},
		{"app limited: same", 20, 20 * time.Millisecond, 9, false, 20},
		// Issue 117 of go-concurrency-limits: Vegas stuck at 1. At limit 1 the
		// queue estimate is at most 1 = threshold, so it must climb.
		{"at 1 with queueing: climbs", 1, 100 * time.Millisecond, 1, false, 7},
		{"drop at 1 stays 1", 1, noLoad, 1, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &vegas{bounds: bounds{1, 1000}, limit: tc.limit, smoothing: 1, random: seededRandom(), rttNoLoad: noLoad}
			v.probeAt = 1e9 // no probe during the step
			assert.Equal(t, tc.want, v.update(time.Time{}, tc.rtt, tc.inFlight, tc.dropped))
		})
	}
}

// Vegas's probe: when due, the limit drops to a quarter of the calls in
// flight; windows with calls admitted above it are waited out; the first
// clean window's RTT becomes the baseline, higher or lower than the old one,
// and the limit comes back. A loaded window's RTT never becomes the baseline.
func TestVegasProbeSteps(t *testing.T) {
	const noLoad = 10 * time.Millisecond
	v := &vegas{bounds: bounds{1, 1000}, limit: 20, smoothing: 1, random: seededRandom(), rttNoLoad: noLoad}
	v.probeCount, v.probeAt = 0, 0.05 // due at the first window: 0.05 × 20 = 1
	steps := []struct {
		name     string
		rtt      time.Duration
		inFlight int
		want     int
		baseline time.Duration
	}{
		{"probe due: a quarter of 20 in flight", 40 * time.Millisecond, 20, 5, noLoad},
		{"draining: calls admitted above the probe limit", 40 * time.Millisecond, 20, 5, noLoad},
		{"drop while draining: the limit to restore shrinks", 40 * time.Millisecond, 12, 5, noLoad},
		{"clean window: its RTT is the baseline, limit back", 12 * time.Millisecond, 5, 19, 12 * time.Millisecond},
		{"queue against the new baseline: ceil(19·(1−12/13)) = 2 < alpha: +1", 13 * time.Millisecond, 19, 20, 12 * time.Millisecond},
	}
	for i, st := range steps {
		got := v.update(time.Time{}, st.rtt, st.inFlight, i == 2)
		assert.Equal(t, st.want, got, st.name)
		assert.Equal(t, st.baseline, v.rttNoLoad, st.name)
	}
	assert.False(t, v.probe.active, "the probe ended")

	// A probe that never sees a clean window gives up after probeMaxWindows
	// and keeps the old baseline.
	v = &vegas{bounds: bounds{1, 1000}, limit: 20, smoothing: 1, random: seededRandom(), rttNoLoad: noLoad}
	v.probeAt = 0.05
	assert.Equal(t, 5, v.update(time.Time{}, 40*time.Millisecond, 20, false))
	for range probeMaxWindows - 1 {
		v.update(time.Time{}, 40*time.Millisecond, 20, false)
	}
	assert.Equal(t, 20, v.update(time.Time{}, 40*time.Millisecond, 20, false), "limit restored after probeMaxWindows")
	assert.Equal(t, noLoad, v.rttNoLoad, "baseline kept")

	// Due while the caller uses less than half the limit: no cut, the
	// window's RTT is the new baseline at once.
	v = &vegas{bounds: bounds{1, 1000}, limit: 20, smoothing: 1, random: seededRandom(), rttNoLoad: noLoad}
	v.probeAt = 0.05
	assert.Equal(t, 20, v.update(time.Time{}, 14*time.Millisecond, 9, false), "app-limited probe keeps the limit")
	assert.Equal(t, 14*time.Millisecond, v.rttNoLoad, "app-limited probe takes the window's RTT")
	assert.False(t, v.probe.active)
}

func TestGradient2Steps(t *testing.T) {
	cases := []struct {
		name  string
		limit float64
		long  time.Duration
		short time.Duration
		inFl  int
		want  float64
	}{
		// At limit 100: 100*0.8 + (100*0.5+4)*0.2 = 90.8 for gradient 0.5;
		// no queuing gives 100.8.
		{"gradient 0.5", 100, 10 * time.Millisecond, 40 * time.Millisecond, 100, 90.8},
		{"no queuing", 100, 10 * time.Millisecond, 10 * time.Millisecond, 100, 100.8},
		{"app limited", 100, 10 * time.Millisecond, 40 * time.Millisecond, 49, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			g := &gradient2{bounds: bounds{1, 1000}, limit: tc.limit, smoothing: 0.2, queueSize: 4,
				longRTT: ema{tau: longRTTTau, warmup: 0, value: float64(tc.long), last: now}}
			g.update(now, tc.short, tc.inFl, false) // zero elapsed: long stays put
			assert.InDelta(t, tc.want, g.limit, 1e-9)
		})
	}
}

func TestGradient2TrimsStaleLongRTT(t *testing.T) {
	now := time.Unix(1000, 0)
	g := &gradient2{bounds: bounds{1, 1000}, limit: 10, smoothing: 0.2, queueSize: 4,
		longRTT: ema{tau: longRTTTau, value: float64(50 * time.Millisecond), last: now}}
	g.update(now, 10*time.Millisecond, 10, false)
	assert.InDelta(t, float64(45*time.Millisecond), g.longRTT.value, 1, "long/short > 2 cuts long by 0.9")
}

func TestLog10Root(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, 1}, {1, 1}, {9, 1}, {10, 1}, {99, 1}, {100, 2}, {999, 2}, {1000, 31}} {
		assert.Equal(t, tc.want, log10Root(tc.in), "log10Root(%d)", tc.in)
	}
}
