package bulkhead

import (
	"context"
	"fmt"
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
	// at a time. Required, > 0 and at most 2^22-1 (4,194,303).
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
	// (token bucket of golang.org/x/time/rate); a call over the rate is
	// rejected at once with ErrRateLimited. 0 (default) means no rate limit.
	// The rate check comes before the slot check, so a call rejected as full
	// has still spent a token.
	Rate rate.Limit
	// Burst is the token bucket size. Required (>= 1) when Rate is set;
	// must be 0 when it is not.
	Burst int
	// OnReject, if set, is called with the rejection error (ErrFull,
	// ErrTimeout or ErrRateLimited) after each rejection, never under a lock.
	// Nil (default) means no callback.
	OnReject func(err error)
}

// validate reports the first invalid field, naming it and its value.
func (c Config) validate() error {
	switch {
	case c.MaxConcurrent <= 0:
		return fmt.Errorf("bulkhead: Config.MaxConcurrent %d must be > 0", c.MaxConcurrent)
	case c.MaxConcurrent > maxSlots:
		return fmt.Errorf("bulkhead: Config.MaxConcurrent %d above %d", c.MaxConcurrent, maxSlots)
	case c.MaxWaiting < 0:
		return fmt.Errorf("bulkhead: Config.MaxWaiting %d must be >= 0", c.MaxWaiting)
	case c.MaxWaiting > maxField:
		return fmt.Errorf("bulkhead: Config.MaxWaiting %d above %d", c.MaxWaiting, maxField)
	case c.MaxWait < 0:
		return fmt.Errorf("bulkhead: Config.MaxWait %v must be >= 0", c.MaxWait)
	case c.Rate < 0 || math.IsNaN(float64(c.Rate)):
		return fmt.Errorf("bulkhead: Config.Rate %v must be >= 0", c.Rate)
	case c.Burst < 0:
		return fmt.Errorf("bulkhead: Config.Burst %d must be >= 0", c.Burst)
	case c.Rate > 0 && c.Burst < 1:
		return fmt.Errorf("bulkhead: Config.Burst %d must be >= 1 when Config.Rate is set", c.Burst)
	case c.Rate == 0 && c.Burst != 0:
		return fmt.Errorf("bulkhead: Config.Burst %d set without Config.Rate", c.Burst)
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
// free slots may be transiently negative (hence the bias). Release adds one
// free slot and is done if nobody is queued and the count is not above
// MaxConcurrent. Whoever returns a slot (Release, or a failed attempt undoing
// its add) and sees free > 0 with waiters queued takes the mutex and hands
// free slots to the oldest waiters; newcomers never take a slot while anybody
// is queued, so the queue cannot be overtaken.
//
// The admission count rides on the same add instead of a second atomic. The
// add that carries it out of bit 63 adds 2^16 to Bulkhead.admittedHigh; the
// undo that borrows subtracts it again.
const (
	maxField  = 1<<24 - 1
	fieldMask = maxField
	freeBias  = 1 << 23 // free slots may go this far below zero transiently
	lowMask   = 1<<48 - 1

	// maxSlots bounds MaxConcurrent so that the biased free count stays
	// inside its 24-bit field: at most 2^22 above the bias
	// (MaxConcurrent plus concurrent over-Releases) and 2^23 below it
	// (concurrent failed attempts).
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
// giving theirs back.
func freeOf(s uint64) int64 { return int64(s&fieldMask) - freeBias }

// took reports whether s, the state right after adding takeDelta, means the
// caller holds a slot: free >= 0 and no waiter, i.e. the low 48 bits lie in
// [freeBias, 2^24) (the waiters sit above the free field).
func took(s uint64) bool { return s&lowMask>>23 == 1 }

// Bulkhead limits how many callers run at once, with an optional bounded FIFO
// queue for the others and an optional admission rate. Most callers want Do
// (or Call); Acquire/Release and TryAcquire/Release are the two-step forms.
//
// Fast path: while nobody is queued, TryAcquire and Release are one atomic
// add each on a word alone on its cache line (the add also counts the
// admission), with no lock, no clock read and no defer; they allocate
// nothing, and Release is small enough to be inlined into the caller. The
// mutex and the queue are touched only when every slot is taken. Release with
// callers queued hands its slot straight to the oldest one, so a newcomer can
// never overtake the queue.
//
// A Bulkhead is safe for concurrent use by multiple goroutines.
type Bulkhead struct {
	// Read-only after New. The fast paths read limiter and releaseMax; they
	// live on a different cache line from state so that reading them does not
	// pull state's line in shared mode just before the add needs it exclusive.
	limiter       *rate.Limiter // nil without Config.Rate
	releaseMax    uint64        // largest low-48-bit state after a plain Release
	maxConcurrent uint64
	maxWaiting    uint64
	maxWait       time.Duration
	onReject      func(error)

	mu    sync.Mutex // guards queue and every queued waiter's fields
	queue fifo

	admittedHigh    atomic.Uint64 // multiples of 2^16 carried out of state's admission count
	admittedSlow    atomic.Uint64 // admissions by hand-off from the queue
	rejectedFull    atomic.Uint64
	rejectedTimeout atomic.Uint64
	rejectedRate    atomic.Uint64
	cancelled       atomic.Uint64
	misuse          atomic.Uint64

	_ [64]byte
	// state is a plain word used only through sync/atomic functions (the
	// atomic.Uint64 method wrapper costs Release its inlining); the
	// zero-length atomic.Uint64 array keeps it 8-byte aligned on 32-bit
	// platforms.
	_     [0]atomic.Uint64
	state uint64 // see the layout above; alone on its cache line
	_     [56]byte
}

// New returns a Bulkhead with cfg.MaxConcurrent free slots, or an error naming
// the first invalid field of cfg.
func New(cfg Config) (*Bulkhead, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Bulkhead{
		releaseMax:    freeBias + uint64(cfg.MaxConcurrent),
		maxConcurrent: uint64(cfg.MaxConcurrent),
		maxWaiting:    uint64(cfg.MaxWaiting),
		maxWait:       cfg.MaxWait,
		onReject:      cfg.OnReject,
	}
	if cfg.Rate > 0 {
		b.limiter = rate.NewLimiter(cfg.Rate, cfg.Burst)
	}
	b.state = freeBias + b.maxConcurrent
	return b, nil
}

// TryAcquire takes a slot if one is free right now and nobody is queued, and
// reports whether it did. It never blocks and never queues; a false result
// counts as a rejection (ErrFull or ErrRateLimited) in Stats and is passed to
// OnReject. A caller that got true must call Release exactly once.
//
// At the very edge of the limit, under contention, TryAcquire may report
// full while another caller's failed attempt is undoing itself at the same
// instant as a Release (as sync.Mutex.TryLock may fail spuriously). It
// re-checks exactly before giving up, so this needs three callers racing.
func (b *Bulkhead) TryAcquire() bool {
	var s uint64 // 0 never occurs as a state: the biased free count is > 0
	if b.limiter == nil {
		if s = atomic.AddUint64(&b.state, takeDelta); took(s) && s>>admitShift != 0 {
			return true
		}
	}
	return b.tryAcquireSlow(s)
}

// tryAcquireSlow finishes a TryAcquire that did not take the plain fast path:
// with a rate limit (s == 0), or after an add whose result s either took a
// slot and carried the admission count or must give the slot back.
func (b *Bulkhead) tryAcquireSlow(s uint64) bool {
	if s == 0 {
		return b.tryAcquireLimited()
	}
	if b.settle(s) || b.takeFree() {
		return true
	}
	b.reject(ErrFull)
	return false
}

func (b *Bulkhead) tryAcquireLimited() bool {
	if !b.limiter.Allow() {
		b.reject(ErrRateLimited)
		return false
	}
	if b.settle(atomic.AddUint64(&b.state, takeDelta)) || b.takeFree() {
		return true
	}
	b.reject(ErrFull)
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
// has room. It returns nil once the caller holds a slot (release it with
// Release), ErrFull, ErrTimeout or ErrRateLimited on rejection, or ctx.Err()
// if ctx ends first; in every error case the bulkhead is left as it was.
func (b *Bulkhead) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.limiter != nil && !b.limiter.Allow() {
		return b.reject(ErrRateLimited)
	}
	if s := atomic.AddUint64(&b.state, takeDelta); (took(s) && s>>admitShift != 0) || b.settle(s) {
		return nil
	}
	return b.acquireSlow(ctx)
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
			return b.reject(ErrFull)
		}
		// Counting ourselves in the same CAS that saw no slot for us is what
		// sends every later returner of a slot to the hand-off.
		if atomic.CompareAndSwapUint64(&b.state, s, s+oneWaiter) {
			break
		}
	}
	w := b.queue.pushBack()
	b.mu.Unlock()

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
		return ctx.Err()
	case <-expired:
		b.leave(w)
		return b.reject(ErrTimeout)
	}
}

// leave takes a waiter that gave up out of the queue. If a Release handed it a
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
	b.Release()
}

// Release gives back a slot taken by a successful Acquire or TryAcquire. With
// callers queued it hands the slot to the oldest one. A Release that would
// raise the free slots above MaxConcurrent (more Releases than acquisitions)
// is a no-op counted in Stats().Misuse, so a bug in the caller cannot inflate
// the limit for good (see the package doc for when a surplus is noticed).
// Release never blocks on other callers' work.
func (b *Bulkhead) Release() {
	// Nobody queued and the count not above MaxConcurrent: done.
	if s := atomic.AddUint64(&b.state, 1); s&lowMask > b.releaseMax {
		b.returned(s)
	}
}

// returned finishes the return of a slot whose add left state s: it undoes a
// surplus over MaxConcurrent, then hands free slots to waiters.
func (b *Bulkhead) returned(s uint64) {
	if freeOf(s) > int64(b.maxConcurrent) { // more Releases than acquisitions
		s = b.dropSurplus()
	}
	if waitersOf(s) != 0 && freeOf(s) > 0 {
		b.handOff()
	}
}

// dropSurplus undoes one surplus slot if the free count is still above
// MaxConcurrent, and returns the state it left. The surplus add was visible
// for an instant: another caller may have taken it and returned it, and then
// seen the same surplus. A blind decrement by both would lose a slot for good;
// decrementing only while the count is above MaxConcurrent (which no pending
// operation can cause, as failed attempts only lower it) removes each surplus
// exactly once. Whoever finds it already gone has had its surplus undone by
// the other.
func (b *Bulkhead) dropSurplus() uint64 {
	for {
		s := atomic.LoadUint64(&b.state)
		if freeOf(s) <= int64(b.maxConcurrent) {
			return s
		}
		if atomic.CompareAndSwapUint64(&b.state, s, s+minusOneFree) {
			b.misuse.Add(1)
			return s + minusOneFree
		}
	}
}

// handOff gives free slots to the oldest waiters while both exist. Several
// returners may race here; whoever gets the lock first hands over every slot
// that is free, the others find nothing left to do.
func (b *Bulkhead) handOff() {
	b.mu.Lock()
	for {
		// Waiters change only under mu, and no newcomer takes a slot while
		// anybody waits, so the free slots seen here stay ours to give (a
		// failed attempt may lower the count for an instant; it then gives
		// the slot back and comes here itself).
		s := atomic.LoadUint64(&b.state)
		if waitersOf(s) == 0 || freeOf(s) <= 0 {
			break
		}
		w := b.queue.popFront()
		atomic.AddUint64(&b.state, grantDelta)
		w.ready <- struct{}{}
		w.granted = true
	}
	b.mu.Unlock()
}

// Do runs fn while holding a slot: it acquires as Acquire does, calls fn with
// ctx, releases (also if fn panics) and returns fn's error. A rejection or a
// ctx that ends while waiting is returned without calling fn.
func (b *Bulkhead) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := b.Acquire(ctx); err != nil {
		return err
	}
	defer b.Release()
	return fn(ctx)
}

// Admit is Acquire in the Permit form used by Handler, NewTransport and Call:
// Permit.Done releases the slot.
func (b *Bulkhead) Admit(ctx context.Context) (Permit, error) {
	if err := b.Acquire(ctx); err != nil {
		return Permit{}, err
	}
	return Permit{bulkhead: b}, nil
}

// reject counts err, reports it to OnReject and returns it.
func (b *Bulkhead) reject(err error) error {
	switch err {
	case ErrFull:
		b.rejectedFull.Add(1)
	case ErrTimeout:
		b.rejectedTimeout.Add(1)
	case ErrRateLimited:
		b.rejectedRate.Add(1)
	}
	if b.onReject != nil {
		b.onReject(err)
	}
	return err
}

// Stats is a snapshot of a Bulkhead's counters. Counters are read one by one,
// so a snapshot taken under load is approximate across fields.
type Stats struct {
	InFlight  int // slots held right now (a slot being handed over counts as held)
	Available int // free slots right now
	Waiting   int // callers queued right now

	Admitted        uint64 // calls that got a slot
	RejectedFull    uint64 // ErrFull rejections (including TryAcquire returning false)
	RejectedTimeout uint64 // ErrTimeout rejections (MaxWait passed)
	RejectedRate    uint64 // ErrRateLimited rejections
	Cancelled       uint64 // callers whose ctx ended while queued (not rejections)
	Misuse          uint64 // Releases ignored because no slot was held
}

// Rejected is the total number of rejections of every cause.
func (s Stats) Rejected() uint64 { return s.RejectedFull + s.RejectedTimeout + s.RejectedRate }

// Stats returns a snapshot of the counters. It takes no lock. Admitted may
// briefly be off by 2^16 (either way) while another goroutine is carrying or
// borrowing the packed admission count (around every 65,536th admission, for
// a few nanoseconds), and
// may briefly include an attempt that is about to give its slot back.
func (b *Bulkhead) Stats() Stats {
	s := atomic.LoadUint64(&b.state)
	// Between a failed attempt's two adds the free count reads low (even
	// below zero); report the range a caller can see at rest.
	free := min(max(freeOf(s), 0), int64(b.maxConcurrent))
	return Stats{
		InFlight:        int(int64(b.maxConcurrent) - free),
		Available:       int(free),
		Waiting:         int(waitersOf(s)),
		Admitted:        b.admittedHigh.Load() + s>>admitShift + b.admittedSlow.Load(),
		RejectedFull:    b.rejectedFull.Load(),
		RejectedTimeout: b.rejectedTimeout.Load(),
		RejectedRate:    b.rejectedRate.Load(),
		Cancelled:       b.cancelled.Load(),
		Misuse:          b.misuse.Load(),
	}
}
