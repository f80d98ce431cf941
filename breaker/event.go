package breaker

import (
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/internal/observe"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventSuccess: a call admitted by the breaker (or throttle) ended as a
	// Success. Err is the call's error (nil unless Classify made an error a
	// success, or the call was ignored only after it had been slow: see
	// Config.SlowCall); Probe and Slow describe the call.
	EventSuccess EventKind = iota + 1
	// EventFailure: a call ended as a Failure. Err is its error: nil for a
	// call that panicked, and for a response that a Transport's classifier
	// counted as a failure (a status ≥ 500, by default).
	EventFailure
	// EventIgnored: a call ended as Ignore (say, its caller cancelled)
	// before it was slow. It counts toward nothing.
	EventIgnored
	// EventRejected: a call was refused. Reason says why; Err is the error
	// the caller got (an *OpenError or ErrThrottled); Until is the end of
	// the open period when the breaker is Open. Shadow is set when Shadow
	// mode let the call through anyway.
	EventRejected
	// EventStateChange: the breaker moved From one state To another; Until
	// is the end of the open period when To is Open.
	EventStateChange
	// EventProbe: a HalfOpen breaker admitted a probe; the probe's outcome
	// comes later as EventSuccess, EventFailure or EventIgnored with Probe
	// set.
	EventProbe
)

// String returns the kind's stable name: "success", "failure", "ignored",
// "rejected", "state_change" or "probe".
func (k EventKind) String() string {
	switch k {
	case EventSuccess:
		return "success"
	case EventFailure:
		return "failure"
	case EventIgnored:
		return "ignored"
	case EventRejected:
		return "rejected"
	case EventStateChange:
		return "state_change"
	case EventProbe:
		return "probe"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Reason says why a call was rejected.
type Reason uint8

const (
	// ReasonOpen: the breaker is Open.
	ReasonOpen Reason = iota + 1
	// ReasonHalfOpen: the breaker is HalfOpen and every probe slot is
	// taken.
	ReasonHalfOpen
	// ReasonThrottled: a Throttle shed the call.
	ReasonThrottled
)

// String returns the reason's stable name: "open", "half_open" or
// "throttled".
func (r Reason) String() string {
	switch r {
	case ReasonOpen:
		return "open"
	case ReasonHalfOpen:
		return "half_open"
	case ReasonThrottled:
		return "throttled"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Event is what a Breaker (and every breaker of a Group) or a Throttle
// reports to its Config.Observer, under the delivery rule of package
// bulwark: never under a lock, a panicking observer recovered and counted
// in Stats.ObserverPanics. Transitions are queued and delivered one at a
// time in the order they happened, even when many goroutines race to cause
// them; a call's own events (outcome, rejection, probe admitted) are
// delivered by its goroutine, a failure before the trip it caused and a
// probe after the transition that admitted it.
//
// Fields that a Kind does not mention are zero. Kinds and fields may be
// added: switch on Kind with a default case.
type Event struct {
	Kind EventKind
	// Name is the breaker's Config.Name (for a Group member, the group's
	// name and the key), or ThrottleConfig.Name.
	Name string
	// From and To are the states of an EventStateChange. (The tag tells a
	// logger such as package bulwarkslog that Closed, State's zero, is a
	// value here.)
	From State `bulwark:"state_change"`
	To   State `bulwark:"state_change"`
	// Until is the end of the open period: on EventStateChange to Open and
	// on EventRejected by an Open breaker.
	Until time.Time
	// Reason is why an EventRejected call was refused.
	Reason Reason
	// Err is the call's error (EventSuccess, EventFailure, EventIgnored) or
	// the rejection the caller got (EventRejected).
	Err error
	// Probe is set on EventProbe and on the outcome of a probe.
	Probe bool
	// Slow is set on an outcome that took at least Config.SlowCall.
	Slow bool
	// Shadow is set on an EventRejected that Shadow mode let through.
	Shadow bool
	// Probability is, on a Throttle's EventRejected, the probability with
	// which it was shedding calls (SRE book Eq. 21-1).
	Probability float64
}

// Component returns "breaker"; with Source and Type it makes Event a
// bulwark.Event.
func (e Event) Component() string { return "breaker" }

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
