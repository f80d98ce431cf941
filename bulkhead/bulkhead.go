package bulkhead

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Config configures a Bulkhead. The zero value of every field except
// MaxConcurrent is a documented default.
type Config struct {
	// MaxConcurrent is the number of slots: at most this many callers hold one
	// at a time. Required, > 0 and at most 2^22-1 (4,194,303). SetLimit changes
	// it at run time.
	MaxConcurrent int
	// MaxWaiting bounds the FIFO queue of callers waiting for a slot (at most
	// 2^24-1).
	// 0 (default) means no queue: a call that finds every slot taken is
	// rejected at once with ErrFull, which is resilience4j's default
	// (maxWaitDuration 0) and the right choice for load shedding.
	MaxWaiting int
	// MaxWait bounds how long one caller waits in the queue before it is
	// rejected with ErrTimeout. 0 (default) means until its context ends.
	MaxWait time.Duration
	// Rate, when > 0, admits at most Rate calls per second on average
	// (token bucket of golang.org/x/time/rate, with Burst tokens); a call
	// over the rate is rejected at once with ErrRateLimited. 0 (default)
	// means no rate limit. It is the short form of
	// RateLimiter: rate.NewLimiter(Rate, Burst).
	Rate rate.Limit
	// Burst is the token bucket size. Required (>= 1) when Rate is set;
	// must be 0 when it is not.
	Burst int
	// RateLimiter, when set, decides the admission rate instead of Rate and
	// Burst (set one form or the other): a *rate.Limiter as it is, or any
	// limiter with the same Allow method, such as a fleet-wide one backed by
	// a shared store. Nil (default) means Rate and Burst decide.
	//
	// The rate check comes before the slot check, so a call rejected as full
	// has still spent a token.
	RateLimiter RateLimiter
	// Name identifies the Bulkhead in its events; it may be empty.
	Name string
	// Observer, if set, receives the Bulkhead's events (see Event): every
	// rejection with its Reason, every queued caller whose context ended,
	// every SetLimit. It is never called under a lock; a panic in it is
	// recovered and counted in Stats.ObserverPanics. Nil (default) costs
	// the fast paths nothing: admissions and releases report no event.
	Observer func(Event)
}

// validate reports the first invalid field, naming it and its value.
func (c Config) validate() error {
	switch {
	case c.MaxConcurrent <= 0:
		return configErrorf("Config.MaxConcurrent %d must be > 0", c.MaxConcurrent)
	case c.MaxConcurrent > maxSlots:
		return configErrorf("Config.MaxConcurrent %d above %d", c.MaxConcurrent, maxSlots)
	case c.MaxWaiting < 0:
		return configErrorf("Config.MaxWaiting %d must be >= 0", c.MaxWaiting)
	case c.MaxWaiting > maxField:
		return configErrorf("Config.MaxWaiting %d above %d", c.MaxWaiting, maxField)
	case c.MaxWait < 0:
		return configErrorf("Config.MaxWait %v must be >= 0", c.MaxWait)
	case c.Rate < 0 || math.IsNaN(float64(c.Rate)):
		return configErrorf("Config.Rate %v must be >= 0", c.Rate)
	case c.Burst < 0:
		return configErrorf("Config.Burst %d must be >= 0", c.Burst)
	case c.RateLimiter != nil && (c.Rate != 0 || c.Burst != 0):
		return configErrorf("Config.RateLimiter set together with Config.Rate %v and Config.Burst %d (use one form)", c.Rate, c.Burst)
	case c.Rate > 0 && c.Burst < 1:
		return configErrorf("Config.Burst %d must be >= 1 when Config.Rate is set", c.Burst)
	case c.Rate == 0 && c.Burst != 0:
		return configErrorf("Config.Burst %d set without Config.Rate", c.Burst)
	}
	return nil
}

// state packs three fields into one word so that each fast path is one
// atomic add (x86 LOCK XADD) that cannot fail and needs no prior load:
//
//	bits  0-23  free slots + freeBias (a field in (0, 2^24), never borrows)
//	bits 24-47  queued waiters (changed only under Bulkhead.mu, never < 0)
//	bits 48-63  admissions modulo 2^16
//
// TryAcquire adds takeDelta (one admission, one slot less) and reads the
// verdict off the result: it holds a slot if the free count was still >= 0
// and nobody was queued. Otherwise it gives the slot back with a second add;
// between the two adds the free count reads one lower than it really is, so
// free slots may be transiently negative (hence the bias). A lowered limit
// (SetLimit) also leaves the free count negative until enough calls finish.
// A release adds one free slot and is done if nobody is queued and the count
// is not above the limit. Whoever returns a slot (a release, or a failed
// attempt undoing its add) and sees free > 0 with waiters queued takes the
// mutex and hands free slots to the oldest waiters; newcomers never take a
// slot while anybody is queued, so the queue cannot be overtaken.
//
// The admission count rides on the same add instead of a second atomic. The
// add that carries it out of bit 63 adds 2^16 to Bulkhead.admittedHigh; the
// undo that borrows subtracts it again.
const (
	maxField  = 1<<24 - 1
	fieldMask = maxField
	freeBias  = 1 << 23 // free slots may go this far below zero
	lowMask   = 1<<48 - 1

	// maxSlots bounds the limit so that the biased free count stays inside
	// its 24-bit field: at most 2^22 above the bias (the limit plus
	// concurrent surplus releases) and 2^23 below it (the in-flight calls
	// over a lowered limit, at most 2^22, plus concurrent failed attempts).
	maxSlots = 1<<22 - 1

	waiterShift    = 24
	oneWaiter      = 1 << waiterShift
	admitShift     = 48
	oneAdmit       = 1 << admitShift
	admitWrap      = 1<<16 - 1
	takeDelta      = oneAdmit - 1           // one admission, one free slot less
	undoTake       = ^uint64(takeDelta - 1) // adding it undoes takeDelta
	minusOneFree   = ^uint64(0)             // adding it removes one free slot
	minusOneWaiter = ^uint64(oneWaiter - 1) // adding it removes one waiter
	grantDelta     = ^uint64(oneWaiter)     // a waiter leaves with a slot
)

func waitersOf(s uint64) uint64 { return s >> waiterShift & fieldMask }

// freeOf returns the free slots in s; negative while failed attempts are
// giving theirs back or while more calls are in flight than a lowered limit.
func freeOf(s uint64) int64 { return int64(s&fieldMask) - freeBias }

// took reports whether s, the state right after adding takeDelta, means the
// caller holds a slot: free >= 0 and no waiter, i.e. the low 48 bits lie in
// [freeBias, 2^24) (the waiters sit above the free field).
func took(s uint64) bool { return s&lowMask>>23 == 1 }

// Bulkhead limits how many callers run at once, with an optional bounded FIFO
// queue for the others and an optional admission rate. Most callers want Do
// (or Call); Acquire and TryAcquire return a Permit whose Done gives the slot
// back. SetLimit changes the number of slots at run time.
//
// A Bulkhead is safe for concurrent use by multiple goroutines.
//
// Implementation: while nobody is queued, TryAcquire and Permit.Done are one
// atomic add each on the state word (see its layout above), alone on its
// cache line; the add also counts the admission. No lock, no clock read, no
// defer, no allocation. The mutex and the queue are touched only when every
// slot is taken, when the limit changes and when a surplus release (a Done
// on a copy of a finished Permit) is undone.
type Bulkhead struct {
	// Read on the fast paths; they live on a different cache line from
	// state so that reading them does not pull state's line in shared mode
	// just before the add needs it exclusive. limiter and the two limit
	// words never change after New except limit and releaseMax, which
	// SetLimit stores under mu.
	limiter    RateLimiter // nil without a rate limit
	releaseMax uint64      // atomic: freeBias + limit, the largest low-48-bit state after a plain release
	limit      uint64      // atomic: current number of slots
	maxWaiting uint64
	maxWait    time.Duration

	mu    sync.Mutex // guards queue, every queued waiter's fields, limit changes and surplus undo
	queue fifo

	admittedHigh    atomic.Uint64 // multiples of 2^16 carried out of state's admission count
	admittedSlow    atomic.Uint64 // admissions by hand-off from the queue
	rejectedFull    atomic.Uint64
	rejectedTimeout atomic.Uint64
	rejectedRate    atomic.Uint64
	cancelled       atomic.Uint64
	misuse          atomic.Uint64

	obs observer // no Observer: not Enabled; its queue is guarded by mu

	_ [64]byte
	// state is a plain word used only through sync/atomic functions (the
	// atomic.Uint64 method wrapper costs the release its inlining); the
	// zero-length atomic.Uint64 array keeps it 8-byte aligned on 32-bit
	// platforms.
	_     [0]atomic.Uint64
	state uint64 // see the layout above; alone on its cache line
	_     [56]byte
}

// New returns a Bulkhead with cfg.MaxConcurrent free slots, or an error
// wrapping ErrInvalidConfig that names the first invalid field of cfg.
func New(cfg Config) (*Bulkhead, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Bulkhead{
		limiter:    cfg.RateLimiter,
		releaseMax: freeBias + uint64(cfg.MaxConcurrent),
		limit:      uint64(cfg.MaxConcurrent),
		maxWaiting: uint64(cfg.MaxWaiting),
		maxWait:    cfg.MaxWait,
	}
	b.obs = newObserver(cfg.Observer, cfg.Name)
	if cfg.Rate > 0 {
		b.limiter = rate.NewLimiter(cfg.Rate, cfg.Burst)
	}
	b.state = freeBias + b.limit
	return b, nil
}

// TryAcquire takes a slot if one is free right now and nobody is queued. It
// returns the Permit and true, or the zero Permit and false. It never blocks
// and never queues; a false result counts as a rejection (ErrFull or
// ErrRateLimited) in Stats and is reported to the Observer.
//
// At the very edge of the limit, under contention, TryAcquire may report
// full while another caller's failed attempt is undoing itself at the same
// instant as a release (as sync.Mutex.TryLock may fail spuriously). It
// re-checks exactly before giving up, so this needs three callers racing.
func (b *Bulkhead) TryAcquire() (Permit, bool) {
	var s uint64 // 0 never occurs as a state: the biased free count is > 0
	if b.limiter == nil {
		if s = atomic.AddUint64(&b.state, takeDelta); took(s) && s>>admitShift != 0 {
			return Permit{bulkhead: b}, true
		}
	}
	if b.tryAcquireSlow(s) {
		return Permit{bulkhead: b}, true
	}
	return Permit{}, false
}

// tryAcquireSlow finishes a TryAcquire that did not take the plain fast path:
// with a rate limit (s == 0), or after an add whose result s either took a
// slot and carried the admission count or must give the slot back.
func (b *Bulkhead) tryAcquireSlow(s uint64) bool {
	if s == 0 {
		if !b.limiter.Allow() {
			b.rejectRate(b.obs.Enabled())
			return false
		}
		s = atomic.AddUint64(&b.state, takeDelta)
	}
	if b.settle(s) || b.takeFree() {
		return true
	}
	b.rejectFull()
	return false
}

// settle finishes an add of takeDelta whose result is s: it reports whether
// the caller holds a slot, and otherwise gives the slot back.
func (b *Bulkhead) settle(s uint64) bool {
	if s>>admitShift == 0 { // this add carried the admission count out
		b.admittedHigh.Add(1 << 16)
	}
	if took(s) {
		return true
	}
	s = atomic.AddUint64(&b.state, undoTake)
	if s>>admitShift == admitWrap { // the undo borrowed it back
		b.admittedHigh.Add(^uint64(1<<16 - 1))
	}
	b.returned(s)
	return false
}

// takeFree takes a free slot with a compare-and-swap if one is free and
// nobody is queued. Unlike the add of the fast path it never lowers the count
// transiently, so it is the exact re-check after a miss.
func (b *Bulkhead) takeFree() bool {
	for {
		s := atomic.LoadUint64(&b.state)
		if waitersOf(s) != 0 || freeOf(s) <= 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(&b.state, s, s+takeDelta) {
			if (s+takeDelta)>>admitShift == 0 {
				b.admittedHigh.Add(1 << 16)
			}
			return true
		}
	}
}

// Acquire takes a slot, waiting in FIFO order when none is free and the queue
// has room. It returns the Permit once the caller holds a slot; ErrFull,
// ErrTimeout or ErrRateLimited (possibly as a *RateLimitedError) on
// rejection; or ctx.Err() if ctx ends first. In every error case the
// bulkhead is left as it was. Nothing allocates, except the
// *RateLimitedError of a rate-limited rejection that knows its next
// admission (TryAcquire builds that error only for the Observer).
func (b *Bulkhead) Acquire(ctx context.Context) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	if b.limiter != nil && !b.limiter.Allow() {
		return Permit{}, b.rejectRate(true)
	}
	if s := atomic.AddUint64(&b.state, takeDelta); (took(s) && s>>admitShift != 0) || b.settle(s) {
		return Permit{bulkhead: b}, nil
	}
	if err := b.acquireSlow(ctx); err != nil {
		return Permit{}, err
	}
	return Permit{bulkhead: b}, nil
}

// acquireSlow queues the caller and waits for a hand-off, its deadline or ctx.
func (b *Bulkhead) acquireSlow(ctx context.Context) error {
	b.mu.Lock()
	for {
		s := atomic.LoadUint64(&b.state)
		if waitersOf(s) == 0 && freeOf(s) > 0 { // a slot came back meanwhile
			if atomic.CompareAndSwapUint64(&b.state, s, s+takeDelta) {
				b.mu.Unlock()
				if (s+takeDelta)>>admitShift == 0 {
					b.admittedHigh.Add(1 << 16)
				}
				return nil
			}
			continue
		}
		if waitersOf(s) >= b.maxWaiting {
			b.mu.Unlock()
			return b.rejectFull()
		}
		// Counting ourselves in the same CAS that saw no slot for us is what
		// sends every later returner of a slot to the hand-off.
		if atomic.CompareAndSwapUint64(&b.state, s, s+oneWaiter) {
			break
		}
	}
	w := b.queue.pushBack()
	b.mu.Unlock()

	var queuedAt time.Time
	if b.obs.Enabled() {
		queuedAt = time.Now()
	}
	var expired <-chan time.Time
	if b.maxWait > 0 {
		t := time.NewTimer(b.maxWait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-w.ready:
		b.queue.recycle(w)
		b.admittedSlow.Add(1)
		return nil
	case <-ctx.Done():
		b.leave(w)
		b.cancelled.Add(1)
		if b.obs.Enabled() {
			b.obs.Emit(Event{Kind: EventCancelled, Err: ctx.Err(), Waited: time.Since(queuedAt)})
		}
		return ctx.Err()
	case <-expired:
		b.leave(w)
		b.rejectedTimeout.Add(1)
		if b.obs.Enabled() {
			b.obs.Emit(Event{Kind: EventRejected, Reason: ReasonTimeout, Err: ErrTimeout, Waited: time.Since(queuedAt)})
		}
		return ErrTimeout
	}
}

// leave takes a waiter that gave up out of the queue. If a hand-off gave it a
// slot in the same instant, the slot is passed on as if released, so it is
// neither leaked nor kept.
func (b *Bulkhead) leave(w *waiter) {
	b.mu.Lock()
	if !w.granted {
		b.queue.remove(w)
		atomic.AddUint64(&b.state, minusOneWaiter)
		b.mu.Unlock()
		b.queue.recycle(w)
		return
	}
	b.mu.Unlock()
	<-w.ready // sent under the lock before granted was set: never blocks
	b.queue.recycle(w)
	b.release()
}

// release gives back a slot; Permit.Done calls it. With callers queued it
// hands the slot to the oldest one. A release that would raise the free
// slots above the limit (a Done on a copy of a finished Permit) is undone
// and counted in Stats().Misuse, so that a bug in the caller cannot inflate
// the limit for good. It never blocks on other callers' work.
func (b *Bulkhead) release() {
	// Nobody queued and the count not above the limit: done.
	if s := atomic.AddUint64(&b.state, 1); s&lowMask > atomic.LoadUint64(&b.releaseMax) {
		b.returned(s)
	}
}

// returned finishes the return of a slot whose add left state s: it undoes a
// surplus over the limit, then hands free slots to waiters. The limit is read
// after s: SetLimit raises the limit before it adds the new slots and removes
// slots before it lowers the limit, so a stale pair can only look like a
// surplus that is not there, which dropSurplus rules out under the lock.
func (b *Bulkhead) returned(s uint64) {
	if freeOf(s) > int64(atomic.LoadUint64(&b.limit)) {
		b.mu.Lock()
		s = b.dropSurplusLocked()
		b.mu.Unlock()
	}
	if waitersOf(s) != 0 && freeOf(s) > 0 {
		b.handOff()
	}
}

// dropSurplusLocked undoes every surplus slot while the free count is above
// the limit, and returns the state it left. The surplus add was visible for
// an instant: another caller may have taken it and returned it, and then
// seen the same surplus. A blind decrement by both would lose a slot for
// good; decrementing only while the count is above the limit (which no
// pending operation can cause: failed attempts only lower it, and the limit
// cannot move while mu is held) removes each surplus exactly once. Whoever
// finds it already gone has had its surplus undone by the other.
func (b *Bulkhead) dropSurplusLocked() uint64 {
	limit := int64(b.limit) // written only under mu
	for {
		s := atomic.LoadUint64(&b.state)
		if freeOf(s) <= limit {
			return s
		}
		if atomic.CompareAndSwapUint64(&b.state, s, s+minusOneFree) {
			b.misuse.Add(1)
		}
	}
}

// handOff gives free slots to the oldest waiters while both exist. Several
// returners may race here; whoever gets the lock first hands over every slot
// that is free, the others find nothing left to do.
func (b *Bulkhead) handOff() {
	b.mu.Lock()
	b.handOffLocked()
	b.mu.Unlock()
}

func (b *Bulkhead) handOffLocked() {
	for {
		// Waiters change only under mu, and no newcomer takes a slot while
		// anybody waits, so the free slots seen here stay ours to give (a
		// failed attempt may lower the count for an instant; it then gives
		// the slot back and comes here itself).
		s := atomic.LoadUint64(&b.state)
		if waitersOf(s) == 0 || freeOf(s) <= 0 {
			return
		}
		w := b.queue.popFront()
		atomic.AddUint64(&b.state, grantDelta)
		w.ready <- struct{}{}
		w.granted = true
	}
}

// SetLimit changes the number of slots to n, which must lie in
// [1, 2^22-1]; otherwise it returns an error wrapping ErrInvalidConfig that
// names n, and the limit stays as it was.
//
// When the limit grows, the new slots go to queued callers first, oldest
// first, exactly as released slots do. When it shrinks, calls already in
// flight finish normally; new calls wait in the queue (or are rejected as
// the Config says) until fewer than n are in flight. SetLimit never blocks
// on in-flight calls.
func (b *Bulkhead) SetLimit(n int) error {
	if n <= 0 || n > maxSlots {
		return configErrorf("SetLimit(%d) outside [1, %d]", n, maxSlots)
	}
	limit := uint64(n)
	b.mu.Lock()
	old := b.limit
	switch {
	case limit > old:
		atomic.StoreUint64(&b.limit, limit)
		atomic.StoreUint64(&b.releaseMax, freeBias+limit)
		atomic.AddUint64(&b.state, limit-old)
	case limit < old:
		atomic.AddUint64(&b.state, -(old - limit))
		atomic.StoreUint64(&b.releaseMax, freeBias+limit)
		atomic.StoreUint64(&b.limit, limit)
	}
	// A surplus release that landed while the two words disagreed was
	// compared with the wrong limit: settle it now.
	b.dropSurplusLocked()
	b.handOffLocked()
	if b.obs.Enabled() && limit != old {
		b.obs.PushLocked(Event{Kind: EventLimitChanged, OldLimit: int(old), NewLimit: n})
	}
	b.obs.UnlockAndDeliver(&b.mu, nil, nil)
	return nil
}

// Limit returns the current number of slots.
func (b *Bulkhead) Limit() int { return int(atomic.LoadUint64(&b.limit)) }

// Do runs fn while holding a slot: it acquires as Acquire does, calls fn with
// ctx, releases (also if fn panics) and returns fn's error. A rejection or a
// ctx that ends while waiting is returned without calling fn.
func (b *Bulkhead) Do(ctx context.Context, fn func(context.Context) error) error {
	p, err := b.Acquire(ctx)
	if err != nil {
		return err
	}
	defer p.Done(nil)
	return fn(ctx)
}

// rejectFull counts an ErrFull rejection, reports it and returns it.
func (b *Bulkhead) rejectFull() error {
	b.rejectedFull.Add(1)
	if b.obs.Enabled() {
		b.obs.Emit(Event{Kind: EventRejected, Reason: ReasonFull, Err: ErrFull})
	}
	return ErrFull
}

// rejectRate counts a rate-limited rejection. When the caller needs the
// error (Acquire, or an Observer is set) it builds it: a *RateLimitedError
// when the rate limiter knows when it will admit again (one allocation),
// else ErrRateLimited.
func (b *Bulkhead) rejectRate(needErr bool) error {
	b.rejectedRate.Add(1)
	if !needErr {
		return nil
	}
	var err error = ErrRateLimited
	if at, ok := nextAdmission(b.limiter, time.Now()); ok {
		err = &RateLimitedError{At: at}
	}
	if b.obs.Enabled() {
		b.obs.Emit(Event{Kind: EventRejected, Reason: ReasonRateLimited, Err: err})
	}
	return err
}

// Stats is a snapshot of a Bulkhead's counters. Counters are read one by one,
// so a snapshot taken under load is approximate across fields.
type Stats struct {
	Limit     int64 // current number of slots (Config.MaxConcurrent, or the last SetLimit)
	InFlight  int64 // slots held right now (a slot being handed over counts as held); above Limit after SetLimit lowered it
	Available int64 // free slots right now
	Waiting   int64 // callers queued right now

	Admitted        int64 // calls that got a slot
	RejectedFull    int64 // ErrFull rejections (including TryAcquire returning false)
	RejectedTimeout int64 // ErrTimeout rejections (MaxWait passed)
	RejectedRate    int64 // ErrRateLimited rejections
	Cancelled       int64 // callers whose ctx ended while queued (not rejections)
	// Misuse counts releases that were undone because no slot was held: with
	// Done idempotent, each is a Done on a copy of a Permit already finished
	// through another variable. Each is counted once, when a release would
	// raise the free slots above Limit; one that lands while other calls
	// hold slots looks like their release and is noticed when the last of
	// them returns (until then one caller more may run). It should stay 0.
	Misuse int64
	// ObserverPanics counts panics of Config.Observer, recovered.
	ObserverPanics int64
}

// Rejected is the total number of rejections of every cause.
func (s Stats) Rejected() int64 { return s.RejectedFull + s.RejectedTimeout + s.RejectedRate }

// Stats returns a snapshot of the counters. It takes no lock. Admitted may
// briefly be off by 2^16 (either way) while another goroutine is carrying or
// borrowing the packed admission count (around every 65,536th admission, for
// a few nanoseconds), and may briefly include an attempt that is about to
// give its slot back.
func (b *Bulkhead) Stats() Stats {
	limit := int64(atomic.LoadUint64(&b.limit))
	s := atomic.LoadUint64(&b.state)
	free := freeOf(s)
	return Stats{
		Limit:           limit,
		InFlight:        max(limit-free, 0),
		Available:       min(max(free, 0), limit),
		Waiting:         int64(waitersOf(s)),
		Admitted:        int64(b.admittedHigh.Load() + s>>admitShift + b.admittedSlow.Load()),
		RejectedFull:    int64(b.rejectedFull.Load()),
		RejectedTimeout: int64(b.rejectedTimeout.Load()),
		RejectedRate:    int64(b.rejectedRate.Load()),
		Cancelled:       int64(b.cancelled.Load()),
		Misuse:          int64(b.misuse.Load()),
		ObserverPanics:  b.obs.Panics(),
	}
}
