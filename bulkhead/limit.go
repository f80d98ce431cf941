package bulkhead

import (
	"math"
	"time"
)

// algorithm moves a limit from one window of samples: its mean RTT (0 when
// every call dropped), the largest in-flight count seen and whether any call
// dropped. It returns the
// new limit, already within [MinLimit, MaxLimit]. Called under Adaptive.mu.
type algorithm interface {
	update(now time.Time, rtt time.Duration, inFlight int, dropped bool) int
}

func newAlgorithm(cfg AdaptiveConfig, random func() float64) algorithm {
	b := bounds{min: float64(cfg.MinLimit), max: float64(cfg.MaxLimit)}
	initial := float64(cfg.InitialLimit)
	switch cfg.Algorithm {
	case AIMD:
		return &aimd{bounds: b, limit: initial, backoff: cfg.BackoffRatio, timeout: cfg.Timeout}
	case Gradient2:
		return &gradient2{bounds: b, limit: initial, smoothing: cfg.Smoothing, queueSize: 4,
			longRTT: ema{tau: longRTTTau, warmup: 10}}
	default:
		v := &vegas{bounds: b, limit: initial, smoothing: cfg.Smoothing, random: random}
		v.resetProbe()
		return v
	}
}

type bounds struct{ min, max float64 }

func (b bounds) clamp(x float64) float64 { return math.Max(b.min, math.Min(b.max, x)) }

// aimd is Netflix AIMDLimit: on a drop or a mean RTT above timeout,
// limit = max(1, min(limit-1, floor(limit*backoff))); otherwise +1 when the
// service was used to at least half the limit.
type aimd struct {
	bounds
	limit   float64
	backoff float64
	timeout time.Duration
}

func (a *aimd) update(_ time.Time, rtt time.Duration, inFlight int, dropped bool) int {
	switch {
	case dropped || rtt > a.timeout:
		a.limit = math.Max(1, math.Min(a.limit-1, math.Floor(a.limit*a.backoff)))
	case float64(inFlight)*2 >= a.limit:
		a.limit++
	}
	a.limit = a.clamp(a.limit)
	return int(a.limit)
}

// vegas is Netflix VegasLimit. queue = ceil(limit*(1 - rttNoLoad/rtt)) is the
// estimated number of calls waiting inside the service; the limit grows while
// it is small and shrinks when it passes beta. rttNoLoad is the minimum RTT,
// re-probed (reset to the current RTT) every jitter*30*limit windows so that a
// stale minimum cannot pin the limit.
type vegas struct {
	bounds
	limit      float64
	smoothing  float64
	rttNoLoad  time.Duration
	probeCount int
	probeAt    float64
	random     func() float64
}

func (v *vegas) resetProbe() {
	v.probeCount = 0
	v.probeAt = (0.5 + 0.5*v.random()) * 30 // multiplied by the limit when checked
}

func (v *vegas) update(_ time.Time, rtt time.Duration, inFlight int, dropped bool) int {
	if rtt == 0 { // drops only: no RTT to learn from
		v.limit = v.clamp(math.Max(1, v.limit-float64(log10Root(int(v.limit)))))
		return int(v.limit)
	}
	v.probeCount++
	if float64(v.probeCount) >= v.probeAt*v.limit {
		v.resetProbe()
		v.rttNoLoad = rtt
		return int(v.limit)
	}
	if v.rttNoLoad == 0 || rtt < v.rttNoLoad {
		v.rttNoLoad = rtt
		return int(v.limit)
	}
	queue := math.Ceil(v.limit * (1 - float64(v.rttNoLoad)/float64(rtt)))
	step := float64(log10Root(int(v.limit)))
	alpha, beta, threshold := 3*step, 6*step, step
	var next float64
	switch {
	case dropped:
		next = v.limit - step
	case float64(inFlight)*2 < v.limit:
		return int(v.limit) // the caller, not the service, limits the load
	case queue <= threshold:
		next = v.limit + beta
	case queue < alpha:
		next = v.limit + step
	case queue > beta:
		next = v.limit - step
	default:
		return int(v.limit)
	}
	next = math.Max(1, next)
	v.limit = v.clamp((1-v.smoothing)*v.limit + v.smoothing*next)
	return int(v.limit)
}

// log10Root is Netflix's Log10RootFunction as REFERENCES §9 records it:
// max(1, floor(log10 x)) below 1000, floor(sqrt x) from 1000 on.
func log10Root(x int) int {
	if x < 1000 {
		return max(1, int(math.Log10(float64(max(x, 1)))))
	}
	return int(math.Sqrt(float64(x)))
}

// gradient2 is Netflix Gradient2Limit: gradient = clamp(longRTT/shortRTT,
// 0.5, 1); new = limit*gradient + queueSize; limit moves toward new by
// smoothing. longRTT is an exponential average (see longRTTTau); when it is
// more than twice the short RTT (latency just came back down after a long
// overload) it is cut by 0.9 per window so the limit can recover quickly.
type gradient2 struct {
	bounds
	limit     float64
	smoothing float64
	queueSize float64
	longRTT   ema
}

func (g *gradient2) update(now time.Time, rtt time.Duration, inFlight int, _ bool) int {
	if rtt == 0 { // drops only; Netflix's Gradient2 ignores drops
		return int(g.limit)
	}
	short := float64(rtt)
	long := g.longRTT.add(now, short)
	if long/short > 2 {
		g.longRTT.value *= 0.9
	}
	if float64(inFlight) < g.limit/2 {
		return int(g.limit)
	}
	gradient := math.Max(0.5, math.Min(1, long/short))
	next := g.limit*gradient + g.queueSize
	g.limit = g.clamp(g.limit*(1-g.smoothing) + next*g.smoothing)
	return int(g.limit)
}

// longRTTTau is the time constant of Gradient2's long RTT average. Netflix
// averages over 600 updates (factor 2/601) and, behind its WindowedLimit,
// updates once per 1 s window: a time constant of about 300 s. Our windows
// are about one round trip long, so the average is defined in time rather
// than in updates; otherwise a one-second latency spike would span a hundred
// windows, leak into the baseline and leave the limit too high afterwards.
const longRTTTau = 300 * time.Second

// ema is Netflix ExpAvgMeasurement over time: a plain mean of the first
// warmup values, then an exponential average with time constant tau.
type ema struct {
	tau    time.Duration
	warmup int
	count  int
	value  float64
	last   time.Time
}

func (e *ema) add(now time.Time, x float64) float64 {
	if e.count < e.warmup {
		e.count++
		e.value += (x - e.value) / float64(e.count)
		e.last = now
		return e.value
	}
	f := -math.Expm1(-float64(now.Sub(e.last)) / float64(e.tau))
	e.last = now
	e.value = e.value*(1-f) + x*f
	return e.value
}
