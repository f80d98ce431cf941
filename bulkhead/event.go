package bulkhead

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventRejected: a call was refused. Reason says why; Err is the error
	// the caller got (ErrFull, ErrTimeout, ErrRateLimited or a
	// *RateLimitedError; TryAcquire builds it only for the event); Waited
	// is how long it was queued (MaxWait for ErrTimeout, else 0).
	EventRejected EventKind = iota + 1
	// EventCancelled: a Bulkhead caller's context ended while it was
	// queued, after Waited; Err is ctx.Err(). It is not a rejection.
	EventCancelled
	// EventLimitChanged: the limit moved from OldLimit to NewLimit, by
	// SetLimit or, for an Adaptive limiter, by its algorithm at the end of
	// a window.
	EventLimitChanged
	// EventSuccess: an Adaptive limiter's call finished as a latency
	// sample, after RTT.
	EventSuccess
	// EventDropped: an Adaptive limiter's call finished as an overload
	// signal (Permit.Dropped, or an error matching
	// context.DeadlineExceeded), after RTT; Err is the error (nil for
	// Dropped).
	EventDropped
	// EventIgnored: an Adaptive limiter's call finished with an error that
	// says nothing about capacity (Err), and fed nothing to the algorithm.
	EventIgnored
)

// String returns the kind's stable name: "rejected", "cancelled",
// "limit_changed", "success", "dropped" or "ignored".
func (k EventKind) String() string {
	switch k {
	case EventRejected:
		return "rejected"
	case EventCancelled:
		return "cancelled"
	case EventLimitChanged:
		return "limit_changed"
	case EventSuccess:
		return "success"
	case EventDropped:
		return "dropped"
	case EventIgnored:
		return "ignored"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Reason says why a call was rejected.
type Reason uint8

const (
	// ReasonFull: no slot was free and the call could not queue (ErrFull),
	// or an Adaptive limiter's limit was reached.
	ReasonFull Reason = iota + 1
	// ReasonTimeout: the call waited MaxWait in the queue (ErrTimeout).
	ReasonTimeout
	// ReasonRateLimited: the admission rate refused the call
	// (ErrRateLimited).
	ReasonRateLimited
)

// String returns the reason's stable name: "full", "timeout" or
// "rate_limited".
func (r Reason) String() string {
	switch r {
	case ReasonFull:
		return "full"
	case ReasonTimeout:
		return "timeout"
	case ReasonRateLimited:
		return "rate_limited"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Event is what a Bulkhead or an Adaptive limiter reports to the Observer
// of its Config, under the delivery rule of package bulwark: never under a
// lock, a panicking observer recovered and counted in Stats.ObserverPanics.
// Limit changes are queued and delivered one at a time in the order they
// took effect; a call's own events (a rejection, a cancellation, an Adaptive
// limiter's outcomes) are delivered on the caller's goroutine, an outcome
// before the limit change it caused.
//
// Fields that a Kind does not mention are zero. Kinds and fields may be
// added: switch on Kind with a default case.
type Event struct {
	Kind EventKind
	// Name is the limiter's Config.Name (AdaptiveConfig.Name).
	Name string
	// Reason is why an EventRejected call was refused.
	Reason Reason
	// Err is the rejection (EventRejected), the context's error
	// (EventCancelled) or the call's error (EventDropped, EventIgnored).
	Err error
	// OldLimit and NewLimit are the limits before and after an
	// EventLimitChanged.
	OldLimit, NewLimit int
	// Waited is the time an EventRejected or EventCancelled caller spent
	// queued.
	Waited time.Duration
	// RTT is the round-trip time of an Adaptive limiter's EventSuccess or
	// EventDropped call.
	RTT time.Duration
}

// Component returns "bulkhead"; with Source and Type it makes Event a
// bulwark.Event.
func (e Event) Component() string { return "bulkhead" }

// Source returns Name.
func (e Event) Source() string { return e.Name }

// Type returns Kind's name.
func (e Event) Type() string { return e.Kind.String() }

// observer holds an Observer, the limiter's name, its panic count and the
// queue of limit changes.
//
// The queue: limit changes, made under the limiter's mutex, are appended
// to pending there. After unlocking, the goroutine that made them becomes
// the deliverer unless one is already at work: it takes the whole batch,
// calls the observer for each outside the lock and loops until pending is
// empty. One deliverer at a time, batches in queue order: the observer sees
// limit changes serially, in the order they took effect, and may call the
// limiter back (SetLimit included) without deadlock; what that causes is
// delivered after it returns. A call's own events are never queued (so a
// deliverer's extra work is bounded by the rate of limit changes): they are
// delivered by the call's goroutine, before the limit change they caused.
type observer struct {
	fn     func(Event)
	name   string
	panics atomic.Int64

	pending, spare []Event // guarded by the limiter's mutex
	delivering     bool    // guarded by the limiter's mutex
}

// emit delivers e, tagged with the name, at once; o.fn is not nil. A panic
// is recovered and counted.
func (o *observer) emit(e Event) {
	defer o.recoverPanic()
	e.Name = o.name
	o.fn(e)
}

func (o *observer) recoverPanic() {
	if recover() != nil {
		o.panics.Add(1)
	}
}

// pushLocked queues e; the caller holds the limiter's mutex and has checked
// that o.fn is not nil.
func (o *observer) pushLocked(e Event) { o.pending = append(o.pending, e) }

// unlockAndDeliver releases mu, the limiter's mutex (held), and delivers,
// outside it, before (the event of the call that took the lock, if not nil)
// and then the queued limit changes, unless another goroutine is delivering
// them.
func (o *observer) unlockAndDeliver(mu *sync.Mutex, before *Event) {
	if o.delivering || len(o.pending) == 0 {
		mu.Unlock()
		if before != nil {
			o.emit(*before)
		}
		return
	}
	o.delivering = true
	mu.Unlock()
	locked := false
	// Deferred so that an observer that does not return normally
	// (runtime.Goexit) does not leave the flag set; panics never reach here.
	defer func() {
		if !locked {
			mu.Lock()
		}
		o.delivering = false
		mu.Unlock()
	}()
	if before != nil {
		o.emit(*before)
	}
	mu.Lock()
	locked = true
	for len(o.pending) > 0 {
		batch := o.pending
		o.pending = o.spare[:0]
		locked = false
		mu.Unlock()
		for i := range batch {
			o.emit(batch[i])
		}
		mu.Lock()
		locked = true
		o.spare = batch[:0]
	}
}
