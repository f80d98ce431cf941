package chaos

import (
	"fmt"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/internal/observe"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventInjected: the fault struck a call, which it is about to act on
	// (the event comes before a Latency or Hang wait, before an error or a
	// status is returned, before a body is cut). Fault names the fault;
	// Status is the code of a Status fault, Delay the wait drawn by a
	// Latency fault; Method and Host are the request's on a Transport or a
	// Handler (empty for Do and Call).
	EventInjected EventKind = iota + 1
	// EventSwitched: Enable or Disable turned the switch, which is now On.
	// A call that finds the switch already where it was asked to be
	// reports nothing.
	EventSwitched
	// EventRateChanged: SetRate changed the share of eligible calls the
	// fault strikes to Rate.
	EventRateChanged
)

// String returns the kind's stable name: "injected", "switched" or
// "rate_changed".
func (k EventKind) String() string {
	switch k {
	case EventInjected:
		return "injected"
	case EventSwitched:
		return "switched"
	case EventRateChanged:
		return "rate_changed"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is what an Injector reports to its Config.Observer, under the
// delivery rule of package bulwark: never under a lock, a panicking
// observer recovered and counted in Stats.ObserverPanics. A call's own
// EventInjected is delivered on the call's goroutine (the request's, for a
// Handler) before the fault acts on it. The switch and rate changes
// (EventSwitched, EventRateChanged) are queued under the Injector's mutex
// and delivered one at a time in the order they took effect, even when
// several goroutines flip the switch at once; an observer may call the
// Injector back (Stats, Disable, SetRate) from any event.
//
// Fields that a Kind does not mention are zero. Kinds and fields may be
// added: switch on Kind with a default case.
type Event struct {
	Kind EventKind
	// Name is the Injector's Config.Name.
	Name string
	// Fault is the stable name of the fault that struck (EventInjected):
	// "error", "status", "latency", "reset", "truncate" or "hang".
	Fault string
	// Status is the code a Status fault answered with (EventInjected).
	Status int
	// Delay is the wait a Latency fault drew (EventInjected). It may be 0
	// (Fixed(0), or a draw of Uniform(0, max) at its low end).
	Delay time.Duration
	// Method and Host are the request's method and host (its URL's host on
	// the client side, its Host header on the server side) on an
	// EventInjected of a Transport or a Handler; empty for Do and Call.
	Method, Host string
	// On is the switch after an EventSwitched: true for Enable, false for
	// Disable. (The tag tells a logger such as package bulwarkslog that
	// false is a value here.)
	On bool `bulwark:"switched"`
	// Rate is the new share of an EventRateChanged.
	Rate float64
}

// Component returns "chaos"; with Source and Type it makes Event a
// bulwark.Event.
func (e Event) Component() string { return "chaos" }

// Source returns Name.
func (e Event) Source() string { return e.Name }

// Type returns Kind's name.
func (e Event) Type() string { return e.Kind.String() }

// observer is Config.Observer delivered under the rule of package bulwark:
// at once for a call's own events, queued under the mutex and delivered in
// order after it for the switch and rate changes; panics recovered and
// counted.
type observer = observe.Observer[Event]

// newObserver returns the observer for fn (nil for none), which tags every
// event with the Injector's name.
func newObserver(fn func(Event), name string) observer {
	return observe.NewTagged(fn, func(e *Event) { e.Name = name })
}

// injectedEvent builds the EventInjected of a call that the fault struck with
// delay d (a Latency fault's draw); req is nil for Do and Call.
func (in *Injector) injectedEvent(req *http.Request, d time.Duration) Event {
	e := Event{Kind: EventInjected, Fault: in.fault.kind.String()}
	switch in.fault.kind {
	case kindStatus:
		e.Status = in.fault.code
	case kindLatency:
		e.Delay = d
	}
	if req != nil {
		e.Method = req.Method
		if e.Method == "" {
			e.Method = http.MethodGet
		}
		e.Host = req.URL.Host
		if e.Host == "" {
			e.Host = req.Host
		}
	}
	return e
}
