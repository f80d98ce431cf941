package bulkhead

import (
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/internal/observe"
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

// observer is Config.Observer delivered under the rule of package bulwark:
// at once for a call's own events, queued under the mutex and delivered in
// order after it for the rest; panics recovered and counted.
type observer = observe.Observer[Event]

// newObserver returns the observer for fn (nil for none), which tags every
// event with the object's name.
func newObserver(fn func(Event), name string) observer {
	return observe.NewTagged(fn, func(e *Event) { e.Name = name })
}
