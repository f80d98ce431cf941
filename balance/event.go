package balance

import (
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/internal/observe"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventEjected: outlier detection took Node out of rotation after
	// Failures consecutive failed Permits, until Until. Ejections is how
	// many times the node has now been ejected (each one lasts longer, up
	// to Config.MaxEjectFor). An ejection the node asked for itself
	// (Permit.Pushback: a Retry-After) has Pushback set to the pause it
	// asked for, and Failures is the run of failures before it, if any.
	EventEjected EventKind = iota + 1
	// EventReturned: Node's ejection ended and it is picked again (through
	// its slow-start ramp when Config.SlowStart is set). It is reported by
	// the first Pick that finds the ejection over, so on an idle picker it
	// comes later than the Until of its EventEjected. Each EventEjected is
	// followed by exactly one EventReturned before the node's next
	// EventEjected: a node whose ejection has expired unseen is not ejected
	// again until a Pick has returned it. A node removed by Update while
	// ejected reports no return unless a Pick that started before the
	// Update meets it.
	EventReturned
	// EventUnavailable: a layer below the picker refused work for Node
	// locally (Err, an error matching bulwark.ErrNotAttempted: an open
	// breaker, a full bulkhead, a rate limit), so it gets no picks until
	// Until. Only the change from available to unavailable is reported
	// (an expired hold counts as available), not every refusal that
	// extends the hold; the end of a hold is not reported.
	EventUnavailable
	// EventNoNodes: a Pick found no usable node. Err is the error the
	// caller got (ErrNoNodes, or an *UnavailableError naming the reasons);
	// Until is the earliest time a node returns, zero when none is known.
	// An observer that calls Pick on this event may get another one, on
	// its own goroutine.
	EventNoNodes
)

// String returns the kind's stable name: "ejected", "returned",
// "unavailable" or "no_nodes".
func (k EventKind) String() string {
	switch k {
	case EventEjected:
		return "ejected"
	case EventReturned:
		return "returned"
	case EventUnavailable:
		return "unavailable"
	case EventNoNodes:
		return "no_nodes"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is what a picker reports to its Config.Observer, under the
// delivery rule of package bulwark: never under a lock, a panicking
// observer recovered and counted in Stats.ObserverPanics. A node's
// ejection, return and unavailability are delivered in the order they took
// effect; EventNoNodes is the failed Pick's own event, delivered by its
// goroutine before Pick returns.
//
// A Pick or Permit.Done that reports nothing costs nothing more with an
// observer than without: the events mark changes of a node's state, not
// traffic. Per-node traffic (picks, failures, in flight) is in Stats and
// AllStats.
//
// Fields that a Kind does not mention are zero. Kinds and fields may be
// added: switch on Kind with a default case.
type Event struct {
	Kind EventKind
	// Name is the picker's Config.Name.
	Name string
	// Node is the node concerned (a value of the picker's node type N), nil
	// on EventNoNodes.
	Node any
	// Until is when an ejection or unavailability ends (EventEjected,
	// EventUnavailable), or the earliest return (EventNoNodes).
	Until time.Time
	// Failures is the run of consecutive failures that caused an
	// EventEjected; with Config.SlowFactor a response slower than the bar
	// counts as a failure in the run.
	Failures int64
	// Ejections is the node's ejection count, on EventEjected.
	Ejections int64
	// Pushback is the pause the node asked for, on an EventEjected caused
	// by Permit.Pushback (the ejection lasts that long, capped by
	// Config.MaxEjectFor); zero for an ejection after failures.
	Pushback time.Duration
	// Err is the local rejection (EventUnavailable) or the error Pick
	// returned (EventNoNodes).
	Err error
}

// Component returns "balance"; with Source and Type it makes Event a
// bulwark.Event.
func (e Event) Component() string { return "balance" }

// Source returns Name.
func (e Event) Source() string { return e.Name }

// Type returns Kind's name.
func (e Event) Type() string { return e.Kind.String() }

// observer is Config.Observer delivered under the rule of package bulwark.
type observer = observe.Observer[Event]

// newObserver returns the observer for fn (nil for none), which tags every
// event with the picker's name.
func newObserver(fn func(Event), name string) observer {
	return observe.NewTagged(fn, func(e *Event) { e.Name = name })
}
