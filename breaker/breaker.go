package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// State is a breaker state.
type State uint8

const (
	// Closed lets every call through and records outcomes in the window.
	Closed State = iota
	// Open rejects every call (with ErrOpen) until OpenFor has passed.
	Open
	// HalfOpen admits HalfOpenCalls probes and rejects the rest.
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText returns the String form, so that encoding/json and expvar
// show "closed", "open" or "half-open" rather than a number. A value other
// than the three states is an error.
func (s State) MarshalText() ([]byte, error) {
	if s > HalfOpen {
		return nil, fmt.Errorf("breaker: cannot marshal State(%d)", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses the String form of a state, so that a marshalled
// Stats decodes back.
func (s *State) UnmarshalText(text []byte) error {
	for _, v := range []State{Closed, Open, HalfOpen} {
		if string(text) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("breaker: unknown State %q", text)
}

// ErrOpen is matched (errors.Is) by every rejection of a Breaker, a Throttle
// and a Transport.
var ErrOpen = errors.New("breaker: open")

// OpenError is the rejection returned by Allow, Do and Call. It says which
// breaker rejected and, when Open, until when. errors.Is(err, ErrOpen) holds.
type OpenError struct {
	Name  string
	State State     // Open, or HalfOpen when every probe slot is taken
	Until time.Time // end of the open period; zero in HalfOpen
}

// Error describes the rejection.
func (e *OpenError) Error() string {
	if e.State == HalfOpen {
		return fmt.Sprintf("breaker %q: half-open, probe slots taken", e.Name)
	}
	return fmt.Sprintf("breaker %q: open until %s", e.Name, e.Until.Format(time.RFC3339Nano))
}

// Unwrap returns ErrOpen.
func (e *OpenError) Unwrap() error { return ErrOpen }

// The state word packs the State in its low bits and a generation above them.
// Every transition bumps the generation, so a Permit can tell whether the
// state it was admitted under is still current.
const (
	stateBits = 2
	stateMask = 1<<stateBits - 1
)

func stateOf(word uint64) State { return State(word & stateMask) }

// Breaker is a circuit breaker. It is safe for concurrent use.
//
// In Closed, Allow and Permit.Done take no lock and, without SlowCall, read
// no clock: a success is one atomic load and one atomic add on a striped
// counter, in a count or a time window. Failures, slow calls, probes,
// bucket rotations and transitions take b.mu.
type Breaker struct {
	cfg      Config
	epoch    time.Time // monotonic origin of every int64 timestamp below
	timeWin  bool
	slowCall int64 // cfg.SlowCall in ns; 0 = off

	state atomic.Uint64 // State | generation<<stateBits; written under mu
	// flags sends closed-state successes off the one-atomic-add path when
	// set; written under mu. See watchBit and bucketEndedBit.
	flags atomic.Uint32
	// bucketEnd is when the current bucket of a time window ends (ns since
	// epoch); written under mu.
	bucketEnd atomic.Int64
	// plainSuccess: a nil error is a Success with no slow-call check
	// (default Classify, no SlowCall); it needs no lock and no clock.
	plainSuccess bool

	successes                         stripedCounter
	failures, slow, ignored, rejected atomic.Uint64
	trips                             atomic.Uint64
	openErr                           atomic.Pointer[OpenError]
	openUntil                         atomic.Int64 // ns since epoch; written under mu

	mu       sync.Mutex
	win      window   // guarded by mu
	reTrips  uint     // consecutive HalfOpen→Open trips; guarded by mu
	probes   []probe  // outstanding probes; guarded by mu
	probeSeq uint64   // guarded by mu
	probeOK  int      // successful probes this HalfOpen; guarded by mu
	notes    notifier // guarded by mu
}

const (
	// watchBit is set while the window holds failures but fewer than
	// MinCalls outcomes: then a success can trip the breaker, so it takes
	// the locked path to be evaluated.
	watchBit uint32 = 1 << iota
	// bucketEndedBit is set (by the bucket timer) once the current bucket of
	// a time window has ended: the next outcome rotates the window before it
	// is counted. The timer spares the hot path a clock read per call.
	bucketEndedBit
)

// probe is an admitted, not yet completed HalfOpen call.
type probe struct {
	id       uint64
	admitted int64
}

// New returns a Closed breaker configured by cfg, or an error naming the
// first invalid field.
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
	b.plainSuccess = c.Classify == nil && c.SlowCall == 0
	b.successes.init()
	b.win.init(c)
	now := b.now()
	b.win.reset(b.total(), now)
	b.setBucketEndLocked(now) // b is not shared yet
	return b
}

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

// Name returns Config.Name.
func (b *Breaker) Name() string { return b.cfg.Name }

// now is the monotonic time since b.epoch in ns.
func (b *Breaker) now() int64 { return int64(time.Since(b.epoch)) }

// total is the number of outcomes ever recorded into windows; the count
// window stamps outcomes with it.
func (b *Breaker) total() int64 { return int64(b.successes.sum()) + b.win.failTotal }

// Permit is the right to make one call, returned by Allow. Report the call's
// result with Done exactly once. It is a small value: no allocation.
type Permit struct {
	b     *Breaker
	word  uint64 // state word at admission
	start int64  // admission time, only when SlowCall > 0
	probe uint64 // probe id in HalfOpen, 0 otherwise
}

// Allow asks to make one call. It never blocks. On rejection it returns an
// error matching ErrOpen (an *OpenError); in Shadow mode it never rejects.
func (b *Breaker) Allow() (Permit, error) {
	return b.allowWord(b.state.Load())
}

// allowWord is Allow given the state word just loaded.
func (b *Breaker) allowWord(w uint64) (Permit, error) {
	if stateOf(w) == Closed && b.slowCall == 0 {
		return Permit{b: b, word: w}, nil
	}
	return b.allowSlow(w)
}

// allowSlow handles Open and HalfOpen, where admission needs the clock and
// the lock, and Closed with SlowCall, where the permit needs a start time.
func (b *Breaker) allowSlow(w uint64) (Permit, error) {
	now := b.now()
	if stateOf(w) == Closed {
		return Permit{b: b, word: w, start: now}, nil
	}
	if stateOf(w) == Open && now < b.openUntil.Load() && !b.cfg.Shadow {
		// Still open: reject without the lock. openErr is stored before
		// openUntil, and a close zeroes openUntil, so a stale w cannot
		// reject for a period that has been closed.
		b.rejected.Add(1)
		return Permit{}, b.openErr.Load()
	}
	b.mu.Lock()
	p, err := b.admitLocked(now)
	b.unlockAndNotify()
	return p, err
}

func (b *Breaker) admitLocked(now int64) (Permit, error) {
	w := b.state.Load()
	if stateOf(w) == Open && now >= b.openUntil.Load() {
		b.setStateLocked(HalfOpen)
		w = b.state.Load()
	}
	p := Permit{b: b, word: w, start: now}
	switch stateOf(w) {
	case Closed:
		return p, nil
	case HalfOpen:
		b.reclaimLocked(now)
		if len(b.probes)+b.probeOK < b.cfg.HalfOpenCalls {
			b.probeSeq++
			p.probe = b.probeSeq
			b.probes = append(b.probes, probe{id: p.probe, admitted: now})
			return p, nil
		}
	}
	b.rejected.Add(1)
	if b.cfg.Shadow {
		return p, nil // a bystander: its outcome is counted, not judged
	}
	if stateOf(w) == HalfOpen {
		return Permit{}, &OpenError{Name: b.cfg.Name, State: HalfOpen}
	}
	return Permit{}, b.openErr.Load()
}

// reclaimLocked frees the slots of probes admitted at least OpenFor ago and
// never completed, so a lost Permit cannot keep the breaker HalfOpen for
// ever (the trap of resilience4j issues 903 and 935). Their late Done is
// ignored.
func (b *Breaker) reclaimLocked(now int64) {
	kept := b.probes[:0]
	for _, p := range b.probes {
		if now-p.admitted < int64(b.cfg.OpenFor) {
			kept = append(kept, p)
		}
	}
	b.probes = kept
}

// Done records the outcome of the call, classified by Config.Classify. It
// never blocks on I/O. Done on the zero Permit does nothing.
func (p Permit) Done(err error) {
	b := p.b
	if b != nil && err == nil && b.plainSuccess && stateOf(p.word) == Closed {
		if b.flags.Load() != 0 {
			b.closedSuccessSlow(p.word)
			return
		}
		b.successes.add()
		return
	}
	p.done(err)
}

// done is Done for everything but a plain success admitted in Closed.
func (p Permit) done(err error) {
	if p.b != nil {
		p.b.record(p, p.b.classify(err))
	}
}

// A plain success (default Classify, no SlowCall) admitted in Closed is one
// atomic load of flags and one atomic add on the caller's stripe: no lock,
// no clock, in a count or a time window. Do and Done make that add
// themselves (written out, as the inliner will not take a helper holding it
// and a call) and call closedSuccessSlow when flags is set: the current
// bucket of a time window has ended, or a success can trip the breaker.
//
// closedSuccessSlow reads the clock, in a time window, to see whether the
// current bucket has ended; if so the outcome rotates the window under the
// lock. word is the state word at admission.
func (b *Breaker) closedSuccessSlow(word uint64) {
	if b.timeWin && b.now() >= b.bucketEnd.Load() {
		b.recordSlow(Permit{b: b, word: word}, Success)
		return
	}
	b.successes.add()
	if b.flags.Load()&watchBit != 0 {
		b.evaluateNow()
	}
}

func (b *Breaker) evaluateNow() {
	now := b.now()
	b.mu.Lock()
	b.evaluateLocked(now)
	b.unlockAndNotify()
}

func (b *Breaker) classify(err error) Outcome {
	if b.cfg.Classify != nil {
		return b.cfg.Classify(err)
	}
	return DefaultClassify(err)
}

// record records a classified outcome. A success in Closed that was not slow
// stays lock-free; with SlowCall it reads the clock once.
func (b *Breaker) record(p Permit, o Outcome) {
	if o != Success || stateOf(p.word) != Closed {
		b.recordSlow(p, o)
		return
	}
	if b.slowCall > 0 {
		now := b.now()
		if now-p.start >= b.slowCall || b.timeWin && now >= b.bucketEnd.Load() {
			b.recordSlow(p, o) // a slow call, or the first outcome of a new bucket
			return
		}
	} else if b.flags.Load() != 0 {
		b.closedSuccessSlow(p.word)
		return
	}
	b.successes.add()
	if b.flags.Load()&watchBit != 0 {
		b.evaluateNow()
	}
}

// recordSlow records failures, slow calls, probes, stale permits and the
// outcomes that rotate a time window.
func (b *Breaker) recordSlow(p Permit, o Outcome) {
	if o == Ignore {
		b.ignored.Add(1)
		if p.probe != 0 {
			// An ignored probe (say, its caller cancelled) frees its slot
			// for another probe rather than holding it until reclaimed.
			b.mu.Lock()
			if p.word == b.state.Load() {
				b.dropProbeLocked(p.probe)
			}
			b.mu.Unlock()
		}
		return
	}
	now := b.now()
	slow := b.slowCall > 0 && now-p.start >= b.slowCall
	if slow {
		b.slow.Add(1)
	}
	b.mu.Lock()
	b.recordLocked(p, o, now, slow)
	b.unlockAndNotify()
}

// recordLocked is recordSlow under the lock; now was read before taking it.
func (b *Breaker) recordLocked(p Permit, o Outcome, now int64, slow bool) {
	if b.timeWin {
		b.win.rotate(now, b.total())
		b.setBucketEndLocked(now)
	}
	if o == Success {
		b.successes.add()
	} else {
		b.failures.Add(1)
	}
	w := b.state.Load()
	switch {
	case p.word != w:
		// Admitted under an earlier state (or a Shadow bystander): counted
		// in Stats, judged by nobody.
	case stateOf(w) == Closed:
		b.win.add(o == Failure, slow, int64(b.successes.sum()))
		b.evaluateLocked(now)
	case stateOf(w) == HalfOpen && p.probe != 0:
		b.probeDoneLocked(p.probe, o == Failure || slow, now)
	}
}

// evaluateLocked trips the breaker if the window says so.
func (b *Breaker) evaluateLocked(now int64) {
	if stateOf(b.state.Load()) != Closed {
		return
	}
	calls, fails, slows := b.win.counts(b.total(), now)
	b.setBucketEndLocked(now)
	b.setWatchLocked(calls < int64(b.cfg.MinCalls) && fails+slows > 0)
	if calls == 0 || calls < int64(b.cfg.MinCalls) {
		return
	}
	if float64(fails)/float64(calls) >= b.cfg.FailureRate ||
		(b.slowCall > 0 && float64(slows)/float64(calls) >= b.cfg.SlowRate) {
		b.openLocked(now)
	}
}

func (b *Breaker) probeDoneLocked(id uint64, bad bool, now int64) {
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
func (b *Breaker) dropProbeLocked(id uint64) bool {
	for i := range b.probes {
		if b.probes[i].id == id {
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
		d *= 2
	}
	return min(d, b.cfg.MaxOpenFor)
}

func (b *Breaker) openLocked(now int64) {
	b.setOpenUntilLocked(now + int64(b.openDuration()))
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
	b.win.reset(b.total(), now)
	b.setBucketEndLocked(now)
	b.setWatchLocked(false)
	b.setStateLocked(Closed)
}

// setStateLocked moves to s with a new generation and queues the
// OnStateChange call.
func (b *Breaker) setStateLocked(s State) {
	old := b.state.Load()
	b.probes = b.probes[:0]
	b.probeOK = 0
	b.state.Store((old>>stateBits+1)<<stateBits | uint64(s))
	if b.cfg.OnStateChange != nil && stateOf(old) != s {
		b.notes.push(stateOf(old), s)
	}
}

// State returns the current state. An Open breaker whose OpenFor has passed
// moves to HalfOpen here (the transition is otherwise made by the next Allow).
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
	b.unlockAndNotify()
	return s
}

// Trip opens the breaker now, for the current open time, whatever the
// window says. It counts as a trip, except on an Open breaker, whose open
// period it restarts.
func (b *Breaker) Trip() {
	now := b.now()
	b.mu.Lock()
	if stateOf(b.state.Load()) == Open {
		b.setOpenUntilLocked(now + int64(b.openDuration()))
	} else {
		b.openLocked(now)
	}
	b.unlockAndNotify()
}

// Reset closes the breaker with a fresh window and the open time back to
// OpenFor. Lifetime counters in Stats are kept.
func (b *Breaker) Reset() {
	b.mu.Lock()
	if stateOf(b.state.Load()) != Closed {
		b.closeLocked(b.now())
	} else {
		now := b.now()
		b.reTrips = 0
		b.win.reset(b.total(), now)
		b.setBucketEndLocked(now)
		b.setWatchLocked(false)
	}
	b.unlockAndNotify()
}

// Stats is a snapshot of a breaker's counters.
type Stats struct {
	State State
	// Lifetime outcome counts. Every completed Permit adds one to exactly one
	// of Successes, Failures and Ignored. SlowCalls counts calls (successes
	// or failures) that took at least SlowCall.
	Successes, Failures, Ignored, SlowCalls uint64
	// Rejected counts calls refused (in Shadow mode: that would have been).
	Rejected uint64
	// Trips counts the times the breaker opened: Closed→Open, HalfOpen→Open
	// and Trip().
	Trips uint64
	// The current window (meaningful in Closed).
	WindowCalls, WindowFailures, WindowSlowCalls int64
	// OpenUntil is the end of the open period; zero unless Open.
	OpenUntil time.Time
}

// Stats returns a snapshot. It takes the breaker's lock briefly; the
// lifetime counters are exact once calls have completed.
func (b *Breaker) Stats() Stats {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.state.Load()
	s := Stats{
		State:     stateOf(w),
		Successes: b.successes.sum(),
		Failures:  b.failures.Load(),
		Ignored:   b.ignored.Load(),
		SlowCalls: b.slow.Load(),
		Rejected:  b.rejected.Load(),
		Trips:     b.trips.Load(),
	}
	if s.State == Closed {
		s.WindowCalls, s.WindowFailures, s.WindowSlowCalls = b.win.counts(b.total(), now)
	}
	if s.State == Open {
		s.OpenUntil = b.epoch.Add(time.Duration(b.openUntil.Load()))
	}
	return s
}

// holdOpen lengthens the current open period to at least now+d; it does
// nothing unless the breaker is Open. Used by Transport for Retry-After.
func (b *Breaker) holdOpen(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	until := b.now() + int64(d)
	if stateOf(b.state.Load()) == Open && until > b.openUntil.Load() {
		b.setOpenUntilLocked(until)
	}
}

// Do calls fn if the breaker admits it and records the result. It returns
// fn's error, an error matching ErrOpen when rejected, or ctx.Err() if ctx
// is already done (then fn is not called). A fn that fails because the
// caller cancelled ctx is not counted as a failure.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := b.state.Load()
	if stateOf(w) != Closed || !b.plainSuccess {
		return b.doSlow(ctx, w, fn)
	}
	// Closed: Allow and Done inlined, as their fast paths.
	if err := fn(ctx); err != nil {
		b.record(Permit{b: b, word: w}, b.outcome(ctx, err))
		return err
	}
	if b.flags.Load() != 0 {
		b.closedSuccessSlow(w)
		return nil
	}
	b.successes.add()
	return nil
}

// doSlow is Do for every case but a Closed breaker with default
// classification and no SlowCall.
func (b *Breaker) doSlow(ctx context.Context, w uint64, fn func(context.Context) error) error {
	p, err := b.allowWord(w)
	if err != nil {
		return err
	}
	err = fn(ctx)
	b.record(p, b.outcome(ctx, err))
	return err
}

// outcome classifies err, ignoring failures caused by the caller's own
// cancellation.
func (b *Breaker) outcome(ctx context.Context, err error) Outcome {
	o := b.classify(err)
	if o == Failure && ctx.Err() == context.Canceled {
		return Ignore
	}
	return o
}

// Call is Do for a function that returns a value.
func Call[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	p, err := b.Allow()
	if err != nil {
		return zero, err
	}
	v, err := fn(ctx)
	b.record(p, b.outcome(ctx, err))
	return v, err
}
