package breaker

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ThrottleConfig configures a Throttle. Zero fields mean the defaults.
type ThrottleConfig struct {
	// K is the multiplier of accepts in Eq. 21-1. Zero means 2, the SRE
	// book's preferred value; 1.1 is more aggressive. Must be ≥ 1 when set.
	K float64
	// Window is how far back requests and accepts are counted. Zero means
	// 2 minutes ("the last two minutes", SRE book ch. 21). It is kept in 20
	// buckets that expire whole.
	Window time.Duration
	// Classify maps a call's error to an outcome: Success is an accept,
	// Failure a backend rejection, Ignore withdraws the request from the
	// count. Nil means DefaultClassify.
	Classify func(error) Outcome
	// Name identifies the throttle in its events; it may be empty.
	Name string
	// Observer, if set, receives the throttle's events (see Event): each
	// call's outcome (EventSuccess, EventFailure, EventIgnored) and each
	// rejection (EventRejected with ReasonThrottled), at once on the
	// caller's goroutine, never under a lock. A panic in it is recovered and
	// counted in ThrottleStats.ObserverPanics. Nil (the default) costs a
	// call one branch.
	Observer func(Event)
}

const (
	defaultK              = 2
	defaultThrottleWindow = 2 * time.Minute
	throttleBuckets       = 20
)

// Throttle is Google SRE client-side adaptive throttling ("Handling
// Overload", SRE book ch. 21, Eq. 21-1): it counts the requests it was asked
// to send and the ones the backend accepted over a rolling window, and
// rejects locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// so a backend that refuses everything still sees a trickle of probes, and
// one that accepts everything is never throttled. Requests rejected locally
// count as requests, as in the book.
//
// Use Do, or Allow and Permit.Done; rejections are ErrThrottled. A Throttle
// is safe for concurrent use; Allow takes no lock except once per bucket
// (Window/20) to start a new bucket.
type Throttle struct {
	cfg      ThrottleConfig
	classify func(error) Outcome
	epoch    time.Time
	width    int64 // bucket width in ns
	rand     func() float64

	rotate   sync.Mutex // serializes the reset of a bucket
	buckets  [throttleBuckets]throttleBucket
	rejected atomic.Int64
	obs      observer // no Observer: not Enabled
}

type throttleBucket struct {
	num      atomic.Int64 // absolute bucket number it holds
	requests atomic.Int64
	accepts  atomic.Int64
	_        [40]byte
}

// NewThrottle returns a throttle, or an error matching ErrInvalidConfig that
// names an invalid field.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	if cfg.K != 0 && (math.IsNaN(cfg.K) || cfg.K < 1) {
		return nil, configErrorf("ThrottleConfig.K %v below 1", cfg.K)
	}
	if cfg.Window < 0 {
		return nil, configErrorf("ThrottleConfig.Window %v negative", cfg.Window)
	}
	if cfg.K == 0 {
		cfg.K = defaultK
	}
	if cfg.Window == 0 {
		cfg.Window = defaultThrottleWindow
	}
	if cfg.Window < throttleBuckets*time.Millisecond {
		return nil, configErrorf("ThrottleConfig.Window %v under %v", cfg.Window, throttleBuckets*time.Millisecond)
	}
	t := &Throttle{cfg: cfg, classify: cfg.Classify, epoch: time.Now(),
		width: int64(cfg.Window) / throttleBuckets, rand: rand.Float64}
	if t.classify == nil {
		t.classify = DefaultClassify
	}
	for i := range t.buckets {
		t.buckets[i].num.Store(-1)
	}
	t.obs = newObserver(cfg.Observer, cfg.Name)
	return t, nil
}

// Allow decides locally whether to send one request. It never blocks. On
// rejection it returns ErrThrottled (which matches ErrOpen and
// bulwark.ErrNotAttempted). Report the backend's answer with Done on the
// Permit.
func (t *Throttle) Allow() (Permit, error) {
	cur := int64(time.Since(t.epoch)) / t.width
	b := t.bucketFor(cur)
	requests, accepts := t.window(cur)
	b.requests.Add(1)
	p := rejectProbability(float64(requests), float64(accepts), t.cfg.K)
	if p > 0 && t.rand() < p {
		t.rejected.Add(1)
		if t.obs.Enabled() {
			t.obs.Emit(Event{Kind: EventRejected, Reason: ReasonThrottled, Err: ErrThrottled, Probability: p})
		}
		return Permit{}, ErrThrottled
	}
	return Permit{t: t, word: uint64(cur)}, nil
}

// rejectProbability is SRE book Eq. 21-1.
func rejectProbability(requests, accepts, k float64) float64 {
	return max(0, (requests-k*accepts)/(requests+1))
}

// bucketFor returns the bucket of number cur, starting it if it still holds
// an older one.
func (t *Throttle) bucketFor(cur int64) *throttleBucket {
	b := &t.buckets[cur%throttleBuckets]
	if b.num.Load() == cur {
		return b
	}
	t.rotate.Lock()
	if b.num.Load() < cur {
		b.requests.Store(0)
		b.accepts.Store(0)
		b.num.Store(cur)
	}
	t.rotate.Unlock()
	return b
}

// window sums the buckets of the last Window.
func (t *Throttle) window(cur int64) (requests, accepts int64) {
	for i := range t.buckets {
		b := &t.buckets[i]
		if n := b.num.Load(); n > cur-throttleBuckets && n <= cur {
			requests += b.requests.Load()
			accepts += b.accepts.Load()
		}
	}
	return requests, accepts
}

// record records the backend's answer, o for the call's error err, to a
// request counted in bucket number cur: Success is an accept, Ignore
// withdraws the request.
func (t *Throttle) record(cur uint64, o Outcome, err error) {
	if t.obs.Enabled() {
		t.obs.Emit(Event{Kind: outcomeKind(o), Err: err})
	}
	b := &t.buckets[cur%throttleBuckets]
	if b.num.Load() != int64(cur) {
		return // its bucket has expired: the request no longer counts
	}
	switch o {
	case Success:
		b.accepts.Add(1)
	case Ignore:
		b.requests.Add(-1)
	}
}

// outcomeKind is the event kind reporting o.
func outcomeKind(o Outcome) EventKind {
	switch o {
	case Success:
		return EventSuccess
	case Ignore:
		return EventIgnored
	}
	return EventFailure
}

// Do calls fn unless the throttle rejects it, and records the result. It
// returns fn's error, ErrThrottled when rejected, or ctx.Err() if ctx is
// already done (then fn is not called). A fn that fails because the caller
// cancelled ctx is ignored; a fn that panics counts as a request the backend
// did not accept, and the panic goes on to Do's caller unchanged.
func (t *Throttle) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := t.Allow()
	if err != nil {
		return err
	}
	err = fn(ctx)
	o := t.classify(err)
	if o == Failure && ctx.Err() == context.Canceled {
		o = Ignore
	}
	t.record(p.take().word, o, err)
	return err
}

// ThrottleStats is a snapshot of a Throttle.
type ThrottleStats struct {
	Requests, Accepts int64   // in the current window
	RejectProbability float64 // Eq. 21-1 for those counts
	Rejected          int64   // lifetime local rejections
	ObserverPanics    int64   // panics of ThrottleConfig.Observer, recovered
}

// Stats returns a snapshot.
func (t *Throttle) Stats() ThrottleStats {
	cur := int64(time.Since(t.epoch)) / t.width
	r, a := t.window(cur)
	return ThrottleStats{Requests: r, Accepts: a,
		RejectProbability: rejectProbability(float64(r), float64(a), t.cfg.K),
		Rejected:          t.rejected.Load(),
		ObserverPanics:    t.obs.Panics()}
}
