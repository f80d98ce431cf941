package bulkhead

import (
	"math"
	"time"
)

// algorithm moves a limit from one window of samples: its mean RTT (0 when
// every call dropped), the largest in-flight count seen and whether any call
// dropped. It returns the
// new limit, already within [MinLimit, MaxLimit]. set moves the limit to a
// value already within the bounds (Adaptive.SetLimit). Called under
// Adaptive.mu.
type algorithm interface {
	update(now time.Time, rtt time.Duration, inFlight int, dropped bool) int
	set(limit float64)
}

func newAlgorithm(cfg AdaptiveConfig, random func() float64) algorithm {
	b := bounds{min: float64(cfg.MinLimit), max: float64(cfg.MaxLimit)}
	initial := float64(cfg.InitialLimit)
	switch cfg.Algorithm {
	case AIMD:
		return &aimd{bounds: b, limit: initial, backoff: cfg.BackoffRatio, timeout: cfg.Timeout, tolerance: cfg.Tolerance}
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

// aimd is Netflix AIMDLimit: on a drop or a window whose mean RTT is too
// high, limit = max(1, min(limit-1, floor(limit*backoff))); otherwise +1 when
// the service was used to at least half the limit.
//
// "Too high" is timeout when set (Netflix's rule). Otherwise it is tolerance
// times noLoad, the RTT of the service when our calls do not queue in it,
// which aimd measures itself: from the first window, then by a probe every
// probeInterval. A probe cuts the limit to a quarter of the calls in flight
// (or of the limit, if lower) for as long as it takes the calls admitted
// above it to finish, measures one window and restores the limit. This is
// BBR's ProbeRTT (Cardwell et al., "BBR: Congestion-Based Congestion
// Control", ACM Queue 14(5), 2016, https://queue.acm.org/detail.cfm?id=3022184),
// which likewise refreshes a min-RTT estimate that queueing would hide.
//
// The probe must go below 1/tolerance of the calls in flight: under overload
// aimd holds the limit where the RTT reaches tolerance*noLoad, and a probe at
// half of it with tolerance 2 would measure exactly noLoad again, however
// wrong it was (a quarter also stays below 1/tolerance for any tolerance up
// to 4). At a quarter a stale-high estimate shrinks at each probe
// until the probe runs under the service's own parallelism and measures the
// real no-load RTT. A service that really got slower is relearned the same
// way, so the limit cannot stay pinned at MinLimit by a baseline that no
// longer holds.
//
// Windows outside probes never move noLoad: a window with few calls in
// flight relative to the limit may still queue in an overloaded service, and
// a minimum over ordinary windows is biased low when latency is noisy, which
// would make every later window look too slow. Each probe moves noLoad
// halfway to its measurement (an exponential average of weight 1/2), so one
// noisy probe moves the threshold by half its error and a stale estimate
// converges geometrically.
type aimd struct {
	bounds
	limit     float64
	backoff   float64
	timeout   time.Duration
	tolerance float64

	noLoad     float64   // ns; 0 until the first window
	measuredAt time.Time // when noLoad was last measured
	probe      drainProbe
}

const (
	probeInterval   = 10 * time.Second // BBR's min-RTT filter window
	probeMaxWindows = 10               // a probe that cannot drain gives up
)

func (a *aimd) set(limit float64) {
	a.limit = limit
	a.probe.active = false
}

func (a *aimd) update(now time.Time, rtt time.Duration, inFlight int, dropped bool) int {
	if a.timeout == 0 && a.probe.active {
		return a.probeWindow(now, rtt, inFlight, dropped)
	}
	tooSlow := false
	if a.timeout > 0 {
		tooSlow = rtt > a.timeout
	} else if rtt > 0 {
		if a.noLoad == 0 {
			a.learn(now, rtt)
		}
		tooSlow = float64(rtt) > a.tolerance*a.noLoad
	}
	switch {
	case dropped || tooSlow:
		a.limit = a.decreased(a.limit)
	case float64(inFlight)*2 >= a.limit:
		a.limit++
	}
	a.limit = a.clamp(a.limit)
	if a.timeout == 0 && a.noLoad > 0 && now.Sub(a.measuredAt) >= probeInterval {
		return a.probe.start(a.bounds, a.limit, inFlight)
	}
	return int(a.limit)
}

// probeWindow handles one window during a probe: a clean window's RTT is
// learnt and the limit restored. Drops during the probe still cut the limit
// to restore.
func (a *aimd) probeWindow(now time.Time, rtt time.Duration, inFlight int, dropped bool) int {
	if dropped {
		a.limit = a.clamp(a.decreased(a.limit))
	}
	clean, done := a.probe.window(rtt, inFlight)
	switch {
	case clean:
		a.learn(now, rtt)
	case !done:
		return int(a.probe.limit)
	default:
		a.measuredAt = now // calls that never finish; try again later
	}
	return int(a.limit)
}

// drainProbe is the probe aimd and vegas share to measure the no-load RTT:
// the limit drops to a quarter of the calls in flight (or of the limit, if
// lower) until a window whose calls were all admitted under it completes,
// for at most probeMaxWindows windows, while the algorithm keeps the limit
// to restore.
type drainProbe struct {
	active  bool
	limit   float64 // the limit while probing
	windows int     // windows spent in this probe
}

// start begins a probe and returns the probe limit.
func (p *drainProbe) start(b bounds, limit float64, inFlight int) int {
	p.active, p.windows = true, 0
	p.limit = b.clamp(math.Ceil(math.Min(limit, float64(inFlight)) / 4))
	return int(p.limit)
}

// window takes one window during a probe. clean: all its calls were
// admitted under the probe limit, so rtt is a no-load RTT. done: the probe
// is over (clean, or out of windows).
func (p *drainProbe) window(rtt time.Duration, inFlight int) (clean, done bool) {
	p.windows++
	clean = rtt > 0 && float64(inFlight) <= p.limit
	done = clean || p.windows >= probeMaxWindows
	p.active = !done
	return clean, done
}

func (a *aimd) learn(now time.Time, rtt time.Duration) {
	if a.noLoad == 0 {
		a.noLoad = float64(rtt)
	} else {
		a.noLoad = (a.noLoad + float64(rtt)) / 2
	}
	a.measuredAt = now
}

func (a *aimd) decreased(limit float64) float64 {
	return math.Max(1, math.Min(limit-1, math.Floor(limit*a.backoff)))
}

// vegas is Netflix VegasLimit. queue = ceil(limit*(1 - rttNoLoad/rtt)) is the
// estimated number of calls waiting inside the service; the limit grows while
// it is small and shrinks when it passes beta. rttNoLoad is the minimum RTT,
// re-probed every jitter*30*limit windows so that a stale minimum cannot pin
// the limit.
//
// The probe deviates from Netflix's, which resets rttNoLoad to the current
// window's RTT. Under sustained overload that RTT includes the queue Vegas
// itself allows, so each reset raises the baseline, the estimated queue
// falls to zero and the limit grows by beta per window until the real queue
// is beta calls deeper than before; the p99 then depends on when the last
// probe ran. Here a probe is aimd's (drainProbe): the limit drops to a
// quarter of the calls in flight until a window whose calls were all
// admitted under it completes, whose RTT becomes rttNoLoad, and the limit
// is restored. A probe
// due while the caller uses less than half the limit takes the window's RTT
// as Netflix does: there is no queue of ours to drain, and a cut would shed
// calls a lightly loaded service could take.
type vegas struct {
	bounds
	limit      float64
	smoothing  float64
	rttNoLoad  time.Duration
	probeCount int
	probeAt    float64
	random     func() float64
	probe      drainProbe
}

func (v *vegas) set(limit float64) {
	v.limit = limit
	v.probe.active = false
}

// probeWindow handles one window during a probe, as aimd.probeWindow does.
func (v *vegas) probeWindow(rtt time.Duration, inFlight int, dropped bool) int {
	if dropped {
		v.limit = v.clamp(math.Max(1, v.limit-float64(log10Root(int(v.limit)))))
	}
	clean, done := v.probe.window(rtt, inFlight)
	if !done {
		return int(v.probe.limit)
	}
	if clean {
		v.rttNoLoad = rtt
	}
	v.resetProbe()
	return int(v.limit)
}

func (v *vegas) resetProbe() {
	v.probeCount = 0
	v.probeAt = (0.5 + 0.5*v.random()) * 30 // multiplied by the limit when checked
}

func (v *vegas) update(_ time.Time, rtt time.Duration, inFlight int, dropped bool) int {
	if v.probe.active {
		return v.probeWindow(rtt, inFlight, dropped || rtt == 0)
	}
	if rtt == 0 { // drops only: no RTT to learn from
		v.limit = v.clamp(math.Max(1, v.limit-float64(log10Root(int(v.limit)))))
		return int(v.limit)
	}
	v.probeCount++
	if float64(v.probeCount) >= v.probeAt*v.limit {
		if float64(inFlight)*2 < v.limit {
			// The caller, not the limit, sets the load: nothing queues
			// behind our limit, so this window's RTT is taken as it is
			// (Netflix's reset) rather than shedding calls to measure it.
			v.resetProbe()
			v.rttNoLoad = rtt
			return int(v.limit)
		}
		return v.probe.start(v.bounds, v.limit, inFlight)
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

// log10Root is Netflix's Log10RootFunction as VegasLimit uses it:
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

func (g *gradient2) set(limit float64) { g.limit = limit }

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
