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
	// at a time. Required, > 0 and at most 2^24-1.
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
	case c.MaxConcurrent > maxField:
		return fmt.Errorf("bulkhead: Config.MaxConcurrent %d above %d", c.MaxConcurrent, maxField)
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

// state packs three fields into one word so that the fast path is one CAS:
//
//	bits  0-23  free slots
//	bits 24-47  queued waiters
//	bits 48-63  admissions by the fast path, modulo 2^16
//
// "Take a free slot" and "join the queue because none is free" are decided on
// the same value, and counting the admission rides on the same CAS instead of
// costing a second atomic on every call. The CAS that wraps the 16-bit counter
// adds 2^16 to Bulkhead.admittedHigh.
const (
	maxField       = 1<<24 - 1
	freeMask       = maxField
	waiterShift    = 24
	oneWaiter      = 1 << waiterShift
	admitShift     = 48
	oneAdmit       = 1 << admitShift
	admitWrap      = 1<<16 - 1              // the admission count about to wrap
	minusOneWaiter = ^uint64(oneWaiter - 1) // adding it removes one waiter
)

func waitersOf(s uint64) uint64 { return s >> waiterShift & maxField }

// Bulkhead limits how many callers run at once, with an optional bounded FIFO
// queue for the others and an optional admission rate. Most callers want Do
// (or Call); Acquire/Release and TryAcquire/Release are the two-step forms.
//
// Fast path: while nobody is queued, TryAcquire and Release are one CAS each on
// an atomic word (which also counts the admission) and allocate nothing. The mutex and the queue are touched only
// when every slot is taken. Release with callers queued hands its slot straight
// to the oldest one, so a newcomer can never overtake the queue (free slots are
// always zero while anybody waits).
//
// A Bulkhead is safe for concurrent use by multiple goroutines.
type Bulkhead struct {
	state atomic.Uint64 // see the layout above

	admittedHigh atomic.Uint64 // fast-path admissions beyond state's 16-bit count
	admittedSlow atomic.Uint64 // admissions by hand-off from the queue

	maxConcurrent uint64
	maxWaiting    uint64
	maxWait       time.Duration
	limiter       *rate.Limiter // nil without Config.Rate
	onReject      func(error)

	mu    sync.Mutex // guards queue and every queued waiter's fields
	queue fifo

	rejectedFull    atomic.Uint64
	rejectedTimeout atomic.Uint64
	rejectedRate    atomic.Uint64
	cancelled       atomic.Uint64
	misuse          atomic.Uint64
}

// New returns a Bulkhead with cfg.MaxConcurrent free slots, or an error naming
// the first invalid field of cfg.
func New(cfg Config) (*Bulkhead, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Bulkhead{
		maxConcurrent: uint64(cfg.MaxConcurrent),
		maxWaiting:    uint64(cfg.MaxWaiting),
		maxWait:       cfg.MaxWait,
		onReject:      cfg.OnReject,
	}
	if cfg.Rate > 0 {
		b.limiter = rate.NewLimiter(cfg.Rate, cfg.Burst)
	}
	b.state.Store(b.maxConcurrent)
	return b, nil
}

// TryAcquire takes a slot if one is free right now and reports whether it did.
// It never blocks and never queues; a false result counts as a rejection
// (ErrFull or ErrRateLimited) in Stats and is passed to OnReject. A caller
// that got true must call Release exactly once.
func (b *Bulkhead) TryAcquire() bool {
	// Inlinable fast path: no rate limit, a free slot, no counter wrap.
	if s := b.state.Load(); b.limiter == nil && s&freeMask != 0 && s>>admitShift != admitWrap {
		if b.state.CompareAndSwap(s, s-1+oneAdmit) {
			return true
		}
	}
	return b.tryAcquireSlow()
}

func (b *Bulkhead) tryAcquireSlow() bool {
	if b.limiter != nil && !b.limiter.Allow() {
		b.reject(ErrRateLimited)
		return false
	}
	if b.takeFree() {
		return true
	}
	b.reject(ErrFull)
	return false
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
	if b.takeFree() {
		return nil
	}
	return b.acquireSlow(ctx)
}

// takeFree takes a free slot and counts the admission with one CAS if a
// slot is free.
func (b *Bulkhead) takeFree() bool {
	for {
		s := b.state.Load()
		if s&freeMask == 0 {
			return false
		}
		if b.state.CompareAndSwap(s, s-1+oneAdmit) { // the count wraps mod 2^16
			if s>>admitShift == admitWrap {
				b.admittedHigh.Add(1 << 16)
			}
			return true
		}
	}
}

// acquireSlow queues the caller and waits for a hand-off, its deadline or ctx.
func (b *Bulkhead) acquireSlow(ctx context.Context) error {
	b.mu.Lock()
	for {
		s := b.state.Load()
		if s&freeMask > 0 { // a slot came back while we took the lock
			b.mu.Unlock()
			if b.takeFree() {
				return nil
			}
			b.mu.Lock()
			continue
		}
		if waitersOf(s) >= b.maxWaiting {
			b.mu.Unlock()
			return b.reject(ErrFull)
		}
		// Counting ourselves in the same CAS that saw zero free slots is what
		// forces every later Release onto the hand-off path.
		if b.state.CompareAndSwap(s, s+oneWaiter) {
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
		b.state.Add(minusOneWaiter)
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
// is a no-op counted in Stats().Misuse, so the limit can never be inflated by
// a bug in the caller. Release never blocks on other callers' work.
func (b *Bulkhead) Release() {
	// Inlinable fast path: nobody queued and the slot was really held.
	if s := b.state.Load(); waitersOf(s) == 0 && s&freeMask < b.maxConcurrent {
		if b.state.CompareAndSwap(s, s+1) {
			return
		}
	}
	b.releaseSlow()
}

func (b *Bulkhead) releaseSlow() {
	for {
		s := b.state.Load()
		if waitersOf(s) != 0 {
			b.handOff()
			return
		}
		if s&freeMask >= b.maxConcurrent {
			b.misuse.Add(1)
			return
		}
		if b.state.CompareAndSwap(s, s+1) {
			return
		}
	}
}

// handOff gives the released slot to the oldest waiter, or frees it if the
// waiters have all left since Release looked.
func (b *Bulkhead) handOff() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		s := b.state.Load()
		if waitersOf(s) == 0 {
			if s&freeMask >= b.maxConcurrent {
				b.misuse.Add(1)
				return
			}
			if b.state.CompareAndSwap(s, s+1) {
				return
			}
			continue
		}
		// Waiter count changes only under mu, and free slots stay zero while
		// anybody waits, so this subtraction cannot race.
		w := b.queue.popFront()
		b.state.Add(minusOneWaiter)
		w.ready <- struct{}{}
		w.granted = true
		return
	}
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
// briefly lag by 2^16 while another goroutine is wrapping the packed
// admission count (once every 65,536 admissions, for a few nanoseconds).
func (b *Bulkhead) Stats() Stats {
	s := b.state.Load()
	free := s & freeMask
	return Stats{
		InFlight:        int(b.maxConcurrent - free),
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
