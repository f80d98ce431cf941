package breaker

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/internal/stripe"
)

// Breaker is a circuit breaker: it watches the outcomes of the calls it
// admits and, when they fail too often, rejects calls for a while so that a
// failing dependency gets room to recover and callers fail fast instead of
// waiting on it. The zero value is not usable; create one with New.
//
// Most callers want Do (or Call for a function returning a value); Allow and
// Permit.Done are the two-step form for code that cannot be wrapped in a
// closure. The package doc describes the state machine.
//
// A Breaker is safe for concurrent use. In Closed, Allow, Done and Do take
// no lock and allocate nothing.
type Breaker struct {
	// How the closed state stays cheap. Successes are not stored one by
	// one: a success is one atomic load of flags and one atomic add on the
	// caller's stripe of a striped counter, with no lock and, without
	// SlowCall, no clock read, in a count or a time window (see countSuccess
	// and window). Failures, slow calls, probes, bucket rotations and
	// transitions take mu. The state word carries the configuration bits
	// the fast paths test (see state.go), and the fields those paths read
	// come first, so that they touch one cache line of the Breaker.

	state atomic.Uint64 // see the state word in state.go; written under mu
	// flags sends closed-state successes off the one-atomic-add path when
	// set; written under mu. See watchBit and bucketEndedBit.
	flags     atomic.Uint32
	successes stripe.Counter
	// bucketEnd is when the current bucket of a time window ends (ns since
	// epoch); written under mu.
	bucketEnd atomic.Int64

	cfg      Config
	epoch    time.Time // monotonic origin of every int64 timestamp
	timeWin  bool
	slowCall int64 // cfg.SlowCall in ns; 0 = off

	failures, slow, ignored, rejected atomic.Int64
	trips                             atomic.Int64
	openErr                           atomic.Pointer[OpenError]
	openUntil                         atomic.Int64 // ns since epoch; written under mu
	halfOpenErr                       *OpenError   // the HalfOpen rejection; immutable

	mu      sync.Mutex
	win     window // guarded by mu
	reTrips uint   // consecutive HalfOpen→Open trips; guarded by mu
	// probes holds the admission times of the outstanding probes; each
	// is unique (see admitProbeLocked), so it is the probe's id too.
	probes      []int64 // guarded by mu
	lastProbeAt int64   // guarded by mu
	probeOK     int     // successful probes this HalfOpen; guarded by mu

	obs observer // no Observer: not Enabled (and observedBit clear); its queue is guarded by mu
}

const (
	// watchBit is set while a success can trip the breaker (the window
	// holds failures or slow calls but fewer than MinCalls outcomes): then
	// a success takes the locked path to be evaluated.
	watchBit uint32 = 1 << iota
	// bucketEndedBit is set (by the bucket timer) once the current bucket of
	// a time window has ended: the next outcome rotates the window before it
	// is counted. The timer spares the hot path a clock read per call.
	bucketEndedBit
)

// New returns a Closed breaker configured by cfg, or an error matching
// ErrInvalidConfig that names the first invalid field.
func New(cfg Config) (*Breaker, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return newBreaker(c), nil
}

// newBreaker builds a breaker from a resolved Config.
func newBreaker(c Config) *Breaker {
	b := &Breaker{cfg: c, epoch: time.Now(), timeWin: c.WindowTime > 0, slowCall: int64(c.SlowCall)}
	var word uint64
	if c.SlowCall > 0 {
		word |= timedBit
	}
	if c.Classify != nil {
		word |= classifiedBit
	}
	if c.Observer != nil {
		word |= observedBit
	}
	b.state.Store(word)
	b.obs = newObserver(c.Observer, c.Name)
	b.halfOpenErr = &OpenError{Name: c.Name, State: HalfOpen}
	b.successes.Init()
	b.win.init(c)
	now := b.now()
	b.win.reset(b.total(), now)
	b.setBucketEndLocked(now) // b is not shared yet
	return b
}

// Name returns Config.Name.
func (b *Breaker) Name() string { return b.cfg.Name }

// now is the monotonic time since b.epoch in ns.
func (b *Breaker) now() int64 { return int64(time.Since(b.epoch)) }

// total is the number of outcomes ever recorded into windows; the count
// window stamps outcomes with it.
func (b *Breaker) total() int64 { return int64(b.successes.Sum()) + b.win.failTotal }

// setBucketEndLocked publishes the end of the window's current bucket and,
// for a time window, clears bucketEndedBit and arms a timer that sets it
// when the bucket ends. Call it whenever the window may have moved to a new
// bucket; for the same bucket it does nothing. Timers are armed only here,
// by calls, never by a timer: an idle breaker has at most one pending.
//
// The timer is how the closed-state hot path of a time window avoids a
// clock read per call (one read costs more than the rest of the path): a
// success is counted in the current bucket unless the bit is set. The
// price is the timer's delivery latency: a success that lands between the
// bucket's end and the timer's callback is counted in the ending bucket, so
// it leaves the window that much early. One timer per bucket per breaker
// (at most one allocation per Buckets-th of WindowTime); a pending timer
// keeps the breaker reachable until it fires, at most one bucket later.
func (b *Breaker) setBucketEndLocked(now int64) {
	end := (b.win.bucketNum + 1) * b.win.width
	if end == b.bucketEnd.Load() {
		// Same bucket: its timer is armed already, and bucketEndedBit, if
		// set, is its verdict. A caller whose clock reading went stale
		// while it waited for the lock lands here after that timer has
		// fired; clearing the bit then would leave the window with no timer
		// and successes would never rotate it again.
		return
	}
	b.bucketEnd.Store(end)
	if !b.timeWin {
		return
	}
	if b.flags.Load()&bucketEndedBit != 0 {
		b.flags.And(^bucketEndedBit)
	}
	time.AfterFunc(time.Duration(end-now), b.bucketTimer)
}

// bucketTimer runs when a bucket should have ended. It takes the lock so
// that it cannot set the bit for a bucket that a concurrent rotation has
// already replaced; a timer armed for an earlier bucket finds the current
// one still running and does nothing.
func (b *Breaker) bucketTimer() {
	b.mu.Lock()
	if b.now() >= b.bucketEnd.Load() {
		b.flags.Or(bucketEndedBit)
	}
	b.mu.Unlock()
}

// setWatchLocked sets or clears watchBit. It writes only on a change, so
// that failures do not keep invalidating the cache line every hot-path
// call reads.
func (b *Breaker) setWatchLocked(on bool) {
	switch was := b.flags.Load()&watchBit != 0; {
	case on && !was:
		b.flags.Or(watchBit)
	case !on && was:
		b.flags.And(^watchBit)
	}
}

// Allow asks to make one call. It never blocks. On rejection it returns an
// *OpenError (matching ErrOpen and bulwark.ErrNotAttempted); in Shadow mode
// it never rejects. Report the call's result with Done on the Permit.
func (b *Breaker) Allow() (Permit, error) {
	return b.allowWord(b.state.Load())
}

// allowWord is Allow given the state word just loaded.
func (b *Breaker) allowWord(w uint64) (Permit, error) {
	if w&admitMask == 0 { // Closed, and no start time to take
		return Permit{b: b, word: w}, nil
	}
	return b.allowSlow(w)
}

// allowSlow handles Open and HalfOpen, where admission needs the clock and
// the lock, and Closed with SlowCall, where the permit needs a start time.
func (b *Breaker) allowSlow(w uint64) (Permit, error) {
	now := b.now()
	if stateOf(w) == Closed {
		return Permit{b: b, word: w, tag: uint64(now)}, nil
	}
	if stateOf(w) == Open && now < b.openUntil.Load() && !b.cfg.Shadow {
		// Still open: reject without the lock. openErr is stored before
		// openUntil, and a close zeroes openUntil, so a stale w cannot
		// reject for a period that has been closed.
		b.rejected.Add(1)
		oe := b.openErr.Load()
		if b.obs.Enabled() {
			b.obs.Emit(Event{Kind: EventRejected, Reason: ReasonOpen, Err: oe, Until: oe.Until})
		}
		return Permit{}, oe
	}
	b.mu.Lock()
	var ev Event
	p, err := b.admitLocked(now, &ev)
	if ev.Kind != 0 {
		b.obs.UnlockAndDeliver(&b.mu, nil, &ev) // after the transition that led to it
	} else {
		b.obs.UnlockAndDeliver(&b.mu, nil, nil)
	}
	return p, err
}

// admitLocked decides an admission in Open or HalfOpen. With an observer,
// it fills ev with the call's event (a probe admitted, a rejection), to be
// delivered once the lock is released.
func (b *Breaker) admitLocked(now int64, ev *Event) (Permit, error) {
	w := b.state.Load()
	if stateOf(w) == Open && now >= b.openUntil.Load() {
		b.setStateLocked(HalfOpen)
		w = b.state.Load()
	}
	p := Permit{b: b, word: w, tag: uint64(now)}
	switch stateOf(w) {
	case Closed:
		return p, nil
	case HalfOpen:
		b.reclaimLocked(now)
		if len(b.probes)+b.probeOK < b.cfg.HalfOpenCalls {
			p.tag = b.admitProbeLocked(now) | probeBit
			if b.obs.Enabled() {
				*ev = Event{Kind: EventProbe, Probe: true}
			}
			return p, nil
		}
	}
	b.rejected.Add(1)
	var err *OpenError
	reason := ReasonOpen
	if stateOf(w) == HalfOpen {
		err, reason = b.halfOpenErr, ReasonHalfOpen
	} else {
		err = b.openErr.Load()
	}
	if b.obs.Enabled() {
		*ev = Event{Kind: EventRejected, Reason: reason, Err: err, Until: err.Until, Shadow: b.cfg.Shadow}
	}
	if b.cfg.Shadow {
		return p, nil // a bystander: its outcome is counted, not judged
	}
	return Permit{}, err
}

// admitProbeLocked takes a probe slot and returns the probe's admission
// time, made unique by moving it a nanosecond past the previous probe's when
// they would coincide (a coarse clock, a synctest bubble), so that it
// identifies the probe.
func (b *Breaker) admitProbeLocked(now int64) uint64 {
	at := max(now, b.lastProbeAt+1)
	b.lastProbeAt = at
	b.probes = append(b.probes, at)
	return uint64(at)
}

// reclaimLocked frees the slots of probes admitted at least OpenFor ago and
// never completed, so a lost Permit cannot keep the breaker HalfOpen for
// ever (resilience4j issues 903 and 935 describe that trap). Their late Done is
// ignored.
func (b *Breaker) reclaimLocked(now int64) {
	kept := b.probes[:0]
	for _, at := range b.probes {
		if now-at < int64(b.cfg.OpenFor) {
			kept = append(kept, at)
		}
	}
	b.probes = kept
}

// countSuccess is the closed-state success path, written once for Done,
// Do and record: one atomic load of flags and, when no flag is set, one
// atomic add on the caller's stripe of the success counter; no lock, no
// clock, in a count or a time window. It reports false, having counted
// nothing, when a flag is set (the current bucket of a time window has
// ended, or a success can trip the breaker): the caller then calls
// closedSuccessSlow. It must stay small enough to inline (bench_test.go's
// BenchmarkClosedSuccess and inline_test.go watch that); the call to
// closedSuccessSlow is left to the callers because a helper holding a call
// is over the inliner's budget.
func (b *Breaker) countSuccess() bool {
	if b.flags.Load() != 0 {
		return false
	}
	b.successes.Add()
	return true
}

// closedSuccessSlow counts a plain success admitted in Closed (word is the
// state word at admission) when countSuccess could not: in a time window
// whose current bucket has ended it rotates the window under the lock; a
// success that can trip the breaker is evaluated.
func (b *Breaker) closedSuccessSlow(word uint64, err error) {
	if b.timeWin && b.now() >= b.bucketEnd.Load() {
		b.recordSlow(Permit{b: b, word: word}, Success, err)
		return
	}
	b.successes.Add()
	if b.obs.Enabled() {
		b.obs.Emit(Event{Kind: EventSuccess, Err: err})
	}
	if b.flags.Load()&watchBit != 0 {
		b.evaluateNow()
	}
}

func (b *Breaker) evaluateNow() {
	now := b.now()
	b.mu.Lock()
	ask := b.evaluateLocked(now)
	b.obs.UnlockAndDeliver(&b.mu, nil, nil)
	b.askShouldTrip(ask)
}

func (b *Breaker) classify(err error) Outcome {
	if b.cfg.Classify != nil {
		return b.cfg.Classify(err)
	}
	return DefaultClassify(err)
}

// record records a classified outcome of a call whose error was err. A
// success in Closed that was not slow stays lock-free; with SlowCall it
// reads the clock once.
func (b *Breaker) record(p Permit, o Outcome, err error) {
	if o != Success || stateOf(p.word) != Closed {
		b.recordSlow(p, o, err)
		return
	}
	if b.slowCall == 0 {
		if !b.countSuccess() {
			b.closedSuccessSlow(p.word, err)
		} else if b.obs.Enabled() {
			b.obs.Emit(Event{Kind: EventSuccess, Err: err})
		}
		return
	}
	now := b.now()
	if now-p.start() >= b.slowCall || b.timeWin && now >= b.bucketEnd.Load() {
		b.recordSlow(p, o, err) // a slow call, or the first outcome of a new bucket
		return
	}
	b.successes.Add()
	if b.obs.Enabled() {
		b.obs.Emit(Event{Kind: EventSuccess, Err: err})
	}
	if b.flags.Load()&watchBit != 0 {
		b.evaluateNow()
	}
}

// recordSlow records failures, slow calls, probes, stale permits and the
// outcomes that rotate a time window.
func (b *Breaker) recordSlow(p Permit, o Outcome, err error) {
	if o == Ignore && b.slowCall > 0 && b.now()-p.start() >= b.slowCall {
		// Ignored, but only after it had run for SlowCall: the backend was
		// slow whatever the caller then did (the loser of a hedge, a caller
		// that gave up), so it counts as a slow call that did not fail.
		o = Success
	}
	if o == Ignore {
		b.ignored.Add(1)
		if p.isProbe() {
			// An ignored probe (say, its caller cancelled) frees its slot
			// for another probe rather than holding it until reclaimed.
			b.mu.Lock()
			if p.word == b.state.Load() {
				b.dropProbeLocked(p.start())
			}
			b.mu.Unlock()
		}
		if b.obs.Enabled() {
			b.obs.Emit(Event{Kind: EventIgnored, Err: err, Probe: p.isProbe()})
		}
		return
	}
	now := b.now()
	slow := b.slowCall > 0 && now-p.start() >= b.slowCall
	if slow {
		b.slow.Add(1)
	}
	b.mu.Lock()
	ask := b.recordLocked(p, o, now, slow)
	if b.obs.Enabled() {
		// Delivered before whatever transition the outcome caused.
		ev := Event{Kind: outcomeKind(o), Err: err, Probe: p.isProbe(), Slow: slow}
		b.obs.UnlockAndDeliver(&b.mu, &ev, nil)
	} else {
		b.obs.UnlockAndDeliver(&b.mu, nil, nil)
	}
	b.askShouldTrip(ask)
}

// recordLocked is recordSlow under the lock; now was read before taking it.
func (b *Breaker) recordLocked(p Permit, o Outcome, now int64, slow bool) tripQuestion {
	if b.timeWin {
		b.win.rotate(now, b.total())
		b.setBucketEndLocked(now)
	}
	if o == Success {
		b.successes.Add()
	} else {
		b.failures.Add(1)
	}
	w := b.state.Load()
	switch {
	case p.word != w:
		// Admitted under an earlier state (or a Shadow bystander): counted
		// in Stats, judged by nobody.
	case stateOf(w) == Closed:
		b.win.add(o == Failure, slow, int64(b.successes.Sum()))
		return b.evaluateLocked(now)
	case stateOf(w) == HalfOpen && p.isProbe():
		b.probeDoneLocked(p.start(), o == Failure || slow, now)
	}
	return tripQuestion{}
}

func (b *Breaker) probeDoneLocked(id int64, bad bool, now int64) {
	if !b.dropProbeLocked(id) {
		return // reclaimed: its answer came too late to count
	}
	if bad {
		b.reTrips++
		b.openLocked(now)
		return
	}
	b.probeOK++
	if b.probeOK >= b.cfg.HalfOpenCalls {
		b.closeLocked(now)
	}
}

// dropProbeLocked removes an outstanding probe, freeing its slot; false if
// it is not outstanding (reclaimed, or from an earlier HalfOpen).
func (b *Breaker) dropProbeLocked(id int64) bool {
	for i := range b.probes {
		if b.probes[i] == id {
			b.probes = append(b.probes[:i], b.probes[i+1:]...)
			return true
		}
	}
	return false
}

// openDuration is OpenFor doubled per consecutive re-trip, capped by
// MaxOpenFor.
func (b *Breaker) openDuration() time.Duration {
	d := b.cfg.OpenFor
	if b.cfg.MaxOpenFor == 0 {
		return d
	}
	for i := uint(0); i < b.reTrips && d < b.cfg.MaxOpenFor; i++ {
		if d > b.cfg.MaxOpenFor/2 {
			return b.cfg.MaxOpenFor // doubling would pass the cap (or overflow)
		}
		d *= 2
	}
	return min(d, b.cfg.MaxOpenFor)
}

// after returns now+d, saturating instead of overflowing (an OpenFor or a
// Retry-After cap near the largest Duration).
func after(now int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(d)
}

func (b *Breaker) openLocked(now int64) {
	b.setOpenUntilLocked(after(now, b.openDuration()))
	b.trips.Add(1)
	b.setStateLocked(Open)
}

func (b *Breaker) setOpenUntilLocked(until int64) {
	b.openErr.Store(&OpenError{Name: b.cfg.Name, State: Open, Until: b.epoch.Add(time.Duration(until))})
	b.openUntil.Store(until) // after openErr: the lock-free reject reads them in this order
}

func (b *Breaker) closeLocked(now int64) {
	b.reTrips = 0
	b.openUntil.Store(0)
	b.resetWindowLocked(now)
	b.setStateLocked(Closed)
}

// resetWindowLocked empties the window.
func (b *Breaker) resetWindowLocked(now int64) {
	b.win.reset(b.total(), now)
	b.setBucketEndLocked(now)
	b.setWatchLocked(false)
}

// setStateLocked moves to s with a new generation and queues the
// EventStateChange (an Open breaker's openUntil is already set).
func (b *Breaker) setStateLocked(s State) {
	old := b.state.Load()
	b.probes = b.probes[:0]
	b.probeOK = 0
	b.state.Store(nextWord(old, s))
	if b.obs.Enabled() && stateOf(old) != s {
		e := Event{Kind: EventStateChange, From: stateOf(old), To: s}
		if s == Open {
			e.Until = b.openErr.Load().Until
		}
		b.obs.PushLocked(e)
	}
}

// State returns the current state. An Open breaker whose open period has
// ended moves to HalfOpen here (the transition is otherwise made by the next
// Allow).
func (b *Breaker) State() State {
	w := b.state.Load()
	if stateOf(w) != Open || b.now() < b.openUntil.Load() {
		return stateOf(w)
	}
	b.mu.Lock()
	if stateOf(b.state.Load()) == Open && b.now() >= b.openUntil.Load() {
		b.setStateLocked(HalfOpen)
	}
	s := stateOf(b.state.Load())
	b.obs.UnlockAndDeliver(&b.mu, nil, nil)
	return s
}

// Trip opens the breaker now, for the current open time, whatever the
// window says. It counts as a trip, except on an Open breaker, whose open
// period it restarts.
func (b *Breaker) Trip() {
	now := b.now()
	b.mu.Lock()
	if stateOf(b.state.Load()) == Open {
		b.setOpenUntilLocked(after(now, b.openDuration()))
	} else {
		b.openLocked(now)
	}
	b.obs.UnlockAndDeliver(&b.mu, nil, nil)
}

// Reset closes the breaker with a fresh window and the open time back to
// OpenFor. Lifetime counters in Stats are kept.
func (b *Breaker) Reset() {
	b.mu.Lock()
	now := b.now()
	if stateOf(b.state.Load()) != Closed {
		b.closeLocked(now)
	} else {
		b.reTrips = 0
		b.resetWindowLocked(now)
	}
	b.obs.UnlockAndDeliver(&b.mu, nil, nil)
}

// holdOpen lengthens the current open period to at least now+d; it does
// nothing unless the breaker is Open. Used by Transport for Retry-After.
func (b *Breaker) holdOpen(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	until := after(b.now(), d)
	if stateOf(b.state.Load()) == Open && until > b.openUntil.Load() {
		b.setOpenUntilLocked(until)
	}
}
