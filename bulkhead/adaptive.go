package bulkhead

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Algorithm selects how an Adaptive limiter moves its limit.
type Algorithm int

const (
	// AIMD: additive increase, multiplicative decrease on drops and on
	// windows whose latency is too high (Netflix AIMDLimit). Without
	// AdaptiveConfig.Timeout, "too high" is Tolerance times the no-load
	// latency it measures.
	AIMD Algorithm = iota + 1
	// Vegas: estimates the service's queue from min RTT vs current RTT, as TCP
	// Vegas does (Netflix VegasLimit). The default.
	Vegas
	// Gradient2: follows the ratio of a long-term to a short-term RTT
	// (Netflix Gradient2Limit).
	Gradient2
)

// String returns the algorithm's name.
func (a Algorithm) String() string {
	switch a {
	case AIMD:
		return "AIMD"
	case Vegas:
		return "Vegas"
	case Gradient2:
		return "Gradient2"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// AdaptiveConfig configures an Adaptive limiter. Every zero field is a
// documented default; defaults come from Netflix concurrency-limits
// (https://github.com/Netflix/concurrency-limits) unless stated.
type AdaptiveConfig struct {
	// Algorithm is AIMD, Vegas or Gradient2. 0 (default) means Vegas, the
	// default limit of Netflix's SimpleLimiter.
	Algorithm Algorithm
	// InitialLimit is the limit before any sample. 0 (default) means the
	// algorithm's Netflix default (AIMD 10, Vegas 20, Gradient2 20), moved
	// into [MinLimit, MaxLimit] if those exclude it. Set explicitly, it must
	// lie in [MinLimit, MaxLimit].
	InitialLimit int
	// MinLimit is the lowest limit. 0 (default) means 1 (Netflix's floor for
	// AIMD and Vegas; its Gradient2 floor of 20 is too high for small services).
	MinLimit int
	// MaxLimit is the highest limit. 0 (default) means 1000 (Netflix VegasLimit's
	// maxConcurrency), or MinLimit if that is larger.
	MaxLimit int
	// WindowSize is the fewest completed calls aggregated into one update of the
	// algorithm. A window also spans at least as many calls as the current
	// limit, about one round trip of traffic, as TCP Vegas updates once per RTT.
	// The window's mean RTT, its largest in-flight count and whether any call
	// dropped are what the algorithm sees. 0 (default) means 10 (Netflix
	// WindowedLimit's windowSize).
	WindowSize int
	// Timeout is, for AIMD, a fixed mean RTT above which a window counts as a
	// drop: the service's latency target. 0 (default) means no fixed target:
	// a window counts as a drop when its mean RTT is above Tolerance times
	// the no-load RTT that AIMD measures (see Tolerance). Netflix's default
	// of 5 s is not used: against a service answering in milliseconds it
	// never fires, and AIMD's limit then climbs without bound under
	// overload. Ignored by the others.
	Timeout time.Duration
	// Tolerance is, for AIMD without Timeout, how many times its no-load RTT
	// a window's mean RTT may reach before the window counts as a drop; above
	// 1. 0 (default) means 1.5: under overload AIMD then keeps about one and
	// a half times the calls the service can run in parallel, enough queue
	// to keep every worker busy, and its latency near 1.5 times the unloaded
	// one. (Netflix GradientLimit's rttTolerance of 2 let the p99 of an
	// 8-worker service at 150% load reach 20 ms against 14 ms at 1.5, for
	// 0.3% more goodput.) Ignored by the others.
	Tolerance float64
	// BackoffRatio is, for AIMD, the factor applied to the limit on a drop, in
	// [0.5, 1). 0 (default) means 0.9 (Netflix AIMDLimit).
	BackoffRatio float64
	// Smoothing is, for Vegas and Gradient2, how far each update moves toward
	// the new estimate, in (0, 1]. 0 (default) means Netflix's 1.0 for Vegas
	// and 0.2 for Gradient2. Ignored by AIMD.
	Smoothing float64
	// Name identifies the limiter in its events; it may be empty.
	Name string
	// Observer, if set, receives the limiter's events (see Event): every
	// rejection, every finished call (EventSuccess with its RTT,
	// EventDropped, EventIgnored) and every limit change, never under a
	// lock, outcomes and the limit changes they cause in the order they
	// took effect. A panic in it is recovered and counted in
	// AdaptiveStats.ObserverPanics. Nil (default) costs a call one branch.
	Observer func(Event)
}

func (c AdaptiveConfig) validate() error {
	switch {
	case c.Algorithm < 0 || c.Algorithm > Gradient2:
		return configErrorf("AdaptiveConfig.Algorithm %d unknown (want AIMD, Vegas or Gradient2)", int(c.Algorithm))
	case c.MinLimit < 0:
		return configErrorf("AdaptiveConfig.MinLimit %d must be >= 0", c.MinLimit)
	case c.MaxLimit < 0:
		return configErrorf("AdaptiveConfig.MaxLimit %d must be >= 0", c.MaxLimit)
	case c.MaxLimit > math.MaxInt32:
		return configErrorf("AdaptiveConfig.MaxLimit %d above %d", c.MaxLimit, math.MaxInt32)
	case c.MaxLimit > 0 && c.MinLimit > c.MaxLimit:
		return configErrorf("AdaptiveConfig.MinLimit %d above MaxLimit %d", c.MinLimit, c.MaxLimit)
	case c.InitialLimit < 0:
		return configErrorf("AdaptiveConfig.InitialLimit %d must be >= 0", c.InitialLimit)
	case c.WindowSize < 0:
		return configErrorf("AdaptiveConfig.WindowSize %d must be >= 0", c.WindowSize)
	case c.Timeout < 0:
		return configErrorf("AdaptiveConfig.Timeout %v must be >= 0", c.Timeout)
	case c.Tolerance != 0 && !(c.Tolerance > 1 && c.Tolerance <= math.MaxFloat64):
		return configErrorf("AdaptiveConfig.Tolerance %v must be a finite number > 1", c.Tolerance)
	case c.Tolerance != 0 && c.Timeout != 0:
		return configErrorf("AdaptiveConfig.Tolerance %v set together with Timeout %v (use one)", c.Tolerance, c.Timeout)
	case c.BackoffRatio != 0 && !(c.BackoffRatio >= 0.5 && c.BackoffRatio < 1):
		return configErrorf("AdaptiveConfig.BackoffRatio %v outside [0.5,1)", c.BackoffRatio)
	case c.Smoothing != 0 && !(c.Smoothing > 0 && c.Smoothing <= 1):
		return configErrorf("AdaptiveConfig.Smoothing %v outside (0,1]", c.Smoothing)
	}
	return nil
}

// withDefaults fills every zero field and checks InitialLimit against the
// final bounds.
func (c AdaptiveConfig) withDefaults() (AdaptiveConfig, error) {
	if c.Algorithm == 0 {
		c.Algorithm = Vegas
	}
	if c.MinLimit == 0 {
		c.MinLimit = 1
	}
	if c.MaxLimit == 0 {
		c.MaxLimit = max(1000, c.MinLimit)
	}
	if c.InitialLimit == 0 {
		initial := 20
		if c.Algorithm == AIMD {
			initial = 10
		}
		c.InitialLimit = min(max(initial, c.MinLimit), c.MaxLimit)
	} else if c.InitialLimit < c.MinLimit || c.InitialLimit > c.MaxLimit {
		return c, configErrorf("AdaptiveConfig.InitialLimit %d outside [MinLimit %d, MaxLimit %d]",
			c.InitialLimit, c.MinLimit, c.MaxLimit)
	}
	if c.WindowSize == 0 {
		c.WindowSize = 10
	}
	if c.Timeout == 0 && c.Tolerance == 0 {
		c.Tolerance = 1.5
	}
	if c.BackoffRatio == 0 {
		c.BackoffRatio = 0.9
	}
	if c.Smoothing == 0 {
		c.Smoothing = 1.0
		if c.Algorithm == Gradient2 {
			c.Smoothing = 0.2
		}
	}
	return c, nil
}

// Adaptive is a concurrency limiter whose limit follows the protected service:
// it rises while latency stays flat and falls when latency grows or calls
// drop, so the service is kept near its real capacity without a hand-tuned
// number. Calls over the limit are rejected at once with ErrFull (Netflix's
// SimpleLimiter behaviour): shedding, not queueing. Most callers want Do (or
// Call); Acquire and TryAcquire return a Permit to finish with Done or
// Dropped.
//
// An Adaptive is safe for concurrent use by multiple goroutines.
//
// Implementation: admission is one CAS on an atomic in-flight counter and a
// clock read; finishing a call takes a mutex to feed the algorithm (as
// Netflix's limits are synchronized).
type Adaptive struct {
	limit    atomic.Int64 // current limit, read on every admission
	inFlight atomic.Int64
	admitted atomic.Int64
	rejected atomic.Int64
	dropped  atomic.Int64
	misuse   atomic.Int64
	epoch    time.Time // Permit.start counts from here (monotonic)
	minLimit int
	maxLimit int

	mu         sync.Mutex // guards the fields below, and obs's queue
	alg        algorithm
	windowSize int
	window     sampleWindow

	obs observer // no Observer: not Enabled; its queue is guarded by mu
}

// sampleWindow aggregates completed calls between two algorithm updates.
type sampleWindow struct {
	count       int
	timed       int // calls whose RTT is in sumRTT (drops are not)
	sumRTT      time.Duration
	maxInFlight int
	dropped     bool
}

// outcome of one finished call, as the algorithm sees it.
type outcome int

const (
	outcomeSample outcome = iota
	outcomeDrop
	outcomeIgnore
)

// NewAdaptive returns an Adaptive limiter starting at cfg.InitialLimit, or an
// error wrapping ErrInvalidConfig that names the first invalid field of cfg.
func NewAdaptive(cfg AdaptiveConfig) (*Adaptive, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Adaptive{
		windowSize: cfg.WindowSize,
		epoch:      time.Now(),
		minLimit:   cfg.MinLimit,
		maxLimit:   cfg.MaxLimit,
	}
	a.alg = newAlgorithm(cfg, rand.Float64)
	a.obs = newObserver(cfg.Observer, cfg.Name)
	a.limit.Store(int64(cfg.InitialLimit))
	return a, nil
}

// TryAcquire admits the call if fewer than Limit() calls are in flight,
// returning its Permit and true; otherwise it returns the zero Permit and
// false, counted as an ErrFull rejection. It never blocks.
func (a *Adaptive) TryAcquire() (Permit, bool) {
	for {
		n := a.inFlight.Load()
		if n >= a.limit.Load() {
			a.rejected.Add(1)
			if a.obs.Enabled() {
				a.obs.Emit(Event{Kind: EventRejected, Reason: ReasonFull, Err: ErrFull})
			}
			return Permit{}, false
		}
		if a.inFlight.CompareAndSwap(n, n+1) {
			a.admitted.Add(1)
			return Permit{adaptive: a, start: int64(time.Since(a.epoch)), inFlight: n + 1}, true
		}
	}
}

// Acquire admits the call as TryAcquire does. It returns ErrFull at once
// when the limit is reached (an adaptive limiter sheds, it never waits), or
// ctx.Err() if ctx has already ended.
func (a *Adaptive) Acquire(ctx context.Context) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	if p, ok := a.TryAcquire(); ok {
		return p, nil
	}
	return Permit{}, ErrFull
}

// Do runs fn if admitted and finishes the permit with fn's error (see
// Permit.Done for how errors are read). A rejection is returned without
// calling fn.
func (a *Adaptive) Do(ctx context.Context, fn func(context.Context) error) error {
	p, err := a.Acquire(ctx)
	if err != nil {
		return err
	}
	defer p.Done(context.Canceled) // no-op after the Done below; runs if fn panics
	err = fn(ctx)
	p.Done(err)
	return err
}

// Limit returns the current concurrency limit.
func (a *Adaptive) Limit() int { return int(a.limit.Load()) }

// SetLimit moves the current limit to n, which must lie in [MinLimit,
// MaxLimit]; otherwise it returns an error wrapping ErrInvalidConfig that
// names n, and nothing changes. The algorithm goes on from n: use it to
// start from a known-good limit after a deploy, say, not to pin the limit.
// Calls in flight above a lowered limit finish normally; new ones are
// rejected until fewer than n are in flight.
func (a *Adaptive) SetLimit(n int) error {
	if n < a.minLimit || n > a.maxLimit {
		return configErrorf("SetLimit(%d) outside [MinLimit %d, MaxLimit %d]", n, a.minLimit, a.maxLimit)
	}
	a.mu.Lock()
	a.alg.set(float64(n))
	if old := a.limit.Swap(int64(n)); a.obs.Enabled() && old != int64(n) {
		a.obs.PushLocked(Event{Kind: EventLimitChanged, OldLimit: int(old), NewLimit: n})
	}
	a.obs.UnlockAndDeliver(&a.mu, nil, nil)
	return nil
}

// finish records one finished call, whose error was err, and, when its
// window is full, updates the limit.
func (a *Adaptive) finish(p Permit, o outcome, err error) {
	if a.inFlight.Add(-1) < 0 {
		// More Dones than admissions: a copy of a finished Permit. Undo it,
		// so the limit is not inflated for good, and record nothing.
		a.inFlight.Add(1)
		a.misuse.Add(1)
		return
	}
	if o == outcomeIgnore {
		if a.obs.Enabled() {
			a.obs.Emit(Event{Kind: EventIgnored, Err: err})
		}
		return
	}
	elapsed := time.Since(a.epoch)
	rtt := elapsed - time.Duration(p.start)
	if o == outcomeDrop {
		a.dropped.Add(1)
	}
	a.mu.Lock()
	if !a.obs.Enabled() {
		a.recordLocked(p, o, elapsed, rtt)
		a.mu.Unlock()
		return
	}
	if from, to := a.recordLocked(p, o, elapsed, rtt); from != to {
		a.obs.PushLocked(Event{Kind: EventLimitChanged, OldLimit: from, NewLimit: to})
	}
	e := Event{Kind: EventSuccess, RTT: rtt}
	if o == outcomeDrop {
		e.Kind, e.Err = EventDropped, err
	}
	a.obs.UnlockAndDeliver(&a.mu, &e, nil)
}

// recordLocked adds a finished call to the window and, when the window is
// full, updates the limit; it returns the limit before and after (equal
// when it did not move). elapsed is the time since epoch at the finish.
func (a *Adaptive) recordLocked(p Permit, o outcome, elapsed, rtt time.Duration) (from, to int) {
	from = int(a.limit.Load())
	w := &a.window
	w.count++
	if o == outcomeSample {
		// A dropped call's RTT measures the failure path (often a fast
		// error), not the service: averaging it in would poison Vegas's
		// no-load RTT and Gradient2's short RTT. This is what left Vegas
		// stuck low after overload in go-concurrency-limits issue 117
		// (https://github.com/platinummonkey/go-concurrency-limits/issues/117).
		w.timed++
		w.sumRTT += rtt
	}
	w.maxInFlight = max(w.maxInFlight, int(p.inFlight))
	w.dropped = w.dropped || o == outcomeDrop
	if w.count < max(a.windowSize, from) {
		return from, from
	}
	var meanRTT time.Duration // 0: every call in the window dropped
	if w.timed > 0 {
		meanRTT = w.sumRTT / time.Duration(w.timed)
	}
	limit := a.alg.update(a.epoch.Add(elapsed), meanRTT, w.maxInFlight, w.dropped)
	a.limit.Store(int64(limit))
	*w = sampleWindow{}
	return from, limit
}

// AdaptiveStats is a snapshot of an Adaptive limiter's counters.
type AdaptiveStats struct {
	Limit    int64 // current limit
	InFlight int64 // calls admitted and not yet finished
	Admitted int64 // calls admitted
	Rejected int64 // ErrFull rejections
	Dropped  int64 // calls finished as drops
	// Misuse counts Dones undone because no call was in flight: each is a
	// Done on a copy of a Permit already finished through another variable.
	// One that lands while other calls are in flight is noticed when the
	// last of them finishes. It should stay 0.
	Misuse int64
	// ObserverPanics counts panics of AdaptiveConfig.Observer, recovered.
	ObserverPanics int64
}

// Stats returns a snapshot of the counters. It takes no lock.
func (a *Adaptive) Stats() AdaptiveStats {
	return AdaptiveStats{
		Limit:          a.limit.Load(),
		InFlight:       a.inFlight.Load(),
		Admitted:       a.admitted.Load(),
		Rejected:       a.rejected.Load(),
		Dropped:        a.dropped.Load(),
		Misuse:         a.misuse.Load(),
		ObserverPanics: a.obs.Panics(),
	}
}
