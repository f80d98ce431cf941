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
	// AIMD: additive increase, multiplicative decrease on drops and timeouts
	// (Netflix AIMDLimit).
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
// documented default; defaults come from Netflix concurrency-limits (see the
// package doc and REFERENCES §9) unless stated.
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
	// Timeout is, for AIMD, the mean RTT above which a window counts as a drop.
	// 0 (default) means 5 s (Netflix AIMDLimit). Ignored by the others.
	Timeout time.Duration
	// BackoffRatio is, for AIMD, the factor applied to the limit on a drop, in
	// [0.5, 1). 0 (default) means 0.9 (Netflix AIMDLimit).
	BackoffRatio float64
	// Smoothing is, for Vegas and Gradient2, how far each update moves toward
	// the new estimate, in (0, 1]. 0 (default) means Netflix's 1.0 for Vegas
	// and 0.2 for Gradient2. Ignored by AIMD.
	Smoothing float64
	// OnReject, if set, is called with ErrFull after each rejection, never
	// under a lock. Nil (default) means no callback.
	OnReject func(err error)
}

func (c AdaptiveConfig) validate() error {
	switch {
	case c.Algorithm < 0 || c.Algorithm > Gradient2:
		return fmt.Errorf("bulkhead: AdaptiveConfig.Algorithm %d unknown (want AIMD, Vegas or Gradient2)", int(c.Algorithm))
	case c.MinLimit < 0:
		return fmt.Errorf("bulkhead: AdaptiveConfig.MinLimit %d must be >= 0", c.MinLimit)
	case c.MaxLimit < 0:
		return fmt.Errorf("bulkhead: AdaptiveConfig.MaxLimit %d must be >= 0", c.MaxLimit)
	case c.MaxLimit > math.MaxInt32:
		return fmt.Errorf("bulkhead: AdaptiveConfig.MaxLimit %d above %d", c.MaxLimit, math.MaxInt32)
	case c.MaxLimit > 0 && c.MinLimit > c.MaxLimit:
		return fmt.Errorf("bulkhead: AdaptiveConfig.MinLimit %d above MaxLimit %d", c.MinLimit, c.MaxLimit)
	case c.InitialLimit < 0:
		return fmt.Errorf("bulkhead: AdaptiveConfig.InitialLimit %d must be >= 0", c.InitialLimit)
	case c.WindowSize < 0:
		return fmt.Errorf("bulkhead: AdaptiveConfig.WindowSize %d must be >= 0", c.WindowSize)
	case c.Timeout < 0:
		return fmt.Errorf("bulkhead: AdaptiveConfig.Timeout %v must be >= 0", c.Timeout)
	case c.BackoffRatio != 0 && !(c.BackoffRatio >= 0.5 && c.BackoffRatio < 1):
		return fmt.Errorf("bulkhead: AdaptiveConfig.BackoffRatio %v outside [0.5,1)", c.BackoffRatio)
	case c.Smoothing != 0 && !(c.Smoothing > 0 && c.Smoothing <= 1):
		return fmt.Errorf("bulkhead: AdaptiveConfig.Smoothing %v outside (0,1]", c.Smoothing)
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
		return c, fmt.Errorf("bulkhead: AdaptiveConfig.InitialLimit %d outside [MinLimit %d, MaxLimit %d]",
			c.InitialLimit, c.MinLimit, c.MaxLimit)
	}
	if c.WindowSize == 0 {
		c.WindowSize = 10
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
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
// SimpleLimiter behaviour): shedding, not queueing.
//
// Admission is one CAS on an atomic in-flight counter; finishing a call takes a
// mutex to feed the algorithm (as Netflix's limits are synchronized).
//
// An Adaptive is safe for concurrent use by multiple goroutines.
type Adaptive struct {
	limit    atomic.Int64 // current limit, read on every admission
	inFlight atomic.Int64
	admitted atomic.Uint64
	rejected atomic.Uint64
	dropped  atomic.Uint64
	onReject func(error)

	mu         sync.Mutex // guards the fields below
	alg        algorithm
	windowSize int
	window     sampleWindow
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
// error naming the first invalid field of cfg.
func NewAdaptive(cfg AdaptiveConfig) (*Adaptive, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Adaptive{onReject: cfg.OnReject, windowSize: cfg.WindowSize}
	a.alg = newAlgorithm(cfg, rand.Float64)
	a.limit.Store(int64(cfg.InitialLimit))
	return a, nil
}

// Acquire admits the call if fewer than Limit() calls are in flight, returning
// a Permit to finish with Done or Dropped. Otherwise it returns ErrFull at
// once (it never waits), or ctx.Err() if ctx has already ended.
func (a *Adaptive) Acquire(ctx context.Context) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	for {
		n := a.inFlight.Load()
		if n >= a.limit.Load() {
			a.rejected.Add(1)
			if a.onReject != nil {
				a.onReject(ErrFull)
			}
			return Permit{}, ErrFull
		}
		if a.inFlight.CompareAndSwap(n, n+1) {
			a.admitted.Add(1)
			return Permit{adaptive: a, start: time.Now(), inFlight: int(n + 1)}, nil
		}
	}
}

// Admit is Acquire; it makes *Adaptive a Limiter.
func (a *Adaptive) Admit(ctx context.Context) (Permit, error) { return a.Acquire(ctx) }

// Do runs fn if admitted and finishes the permit with fn's error (see
// Permit.Done for how errors are read). A rejection is returned without
// calling fn.
func (a *Adaptive) Do(ctx context.Context, fn func(context.Context) error) error {
	_, err := Call(ctx, a, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// Limit returns the current concurrency limit.
func (a *Adaptive) Limit() int { return int(a.limit.Load()) }

// finish records one finished call and, when its window is full, updates the
// limit.
func (a *Adaptive) finish(p Permit, o outcome) {
	now := time.Now()
	rtt := now.Sub(p.start)
	a.inFlight.Add(-1)
	if o == outcomeIgnore {
		return
	}
	if o == outcomeDrop {
		a.dropped.Add(1)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w := &a.window
	w.count++
	if o == outcomeSample {
		// A dropped call's RTT measures the failure path (often a fast
		// error), not the service: averaging it in would poison Vegas's
		// no-load RTT and Gradient2's short RTT. This is what left Vegas
		// stuck low after overload in go-concurrency-limits issue 117.
		w.timed++
		w.sumRTT += rtt
	}
	w.maxInFlight = max(w.maxInFlight, p.inFlight)
	w.dropped = w.dropped || o == outcomeDrop
	if w.count < max(a.windowSize, int(a.limit.Load())) {
		return
	}
	var meanRTT time.Duration // 0: every call in the window dropped
	if w.timed > 0 {
		meanRTT = w.sumRTT / time.Duration(w.timed)
	}
	limit := a.alg.update(now, meanRTT, w.maxInFlight, w.dropped)
	a.limit.Store(int64(limit))
	*w = sampleWindow{}
}

// AdaptiveStats is a snapshot of an Adaptive limiter's counters.
type AdaptiveStats struct {
	Limit    int    // current limit
	InFlight int    // calls admitted and not yet finished
	Admitted uint64 // calls admitted
	Rejected uint64 // ErrFull rejections
	Dropped  uint64 // calls finished as drops
}

// Stats returns a snapshot of the counters. It takes no lock.
func (a *Adaptive) Stats() AdaptiveStats {
	return AdaptiveStats{
		Limit:    int(a.limit.Load()),
		InFlight: int(a.inFlight.Load()),
		Admitted: a.admitted.Load(),
		Rejected: a.rejected.Load(),
		Dropped:  a.dropped.Load(),
	}
}
