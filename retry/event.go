package retry

import (
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/internal/observe"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventSuccess: a call ended with an attempt that succeeded. Attempt is
	// the number of attempts made (1 when the first succeeded).
	EventSuccess EventKind = iota + 1
	// EventFailure: a call ended without success. Attempt is the number of
	// attempts made; Err is the error returned to the caller (matching
	// ErrExhausted, ErrBudget, the context's error or the last attempt's
	// error, as Do documents). A Transport whose last attempt got a retry
	// status returns that response, and reports EventFailure with the error
	// that ended the loop.
	EventFailure
	// EventRetry: attempt number Attempt failed with Err and another will
	// start after Delay. NotAttempted is set when the failed attempt was a
	// local rejection by a guard below (the Budget was not asked, and Delay
	// is 0).
	EventRetry
	// EventBudgetRefused: the Budget refused the retry (or, for Hedge, the
	// hedge) that would have followed attempt number Attempt, whose error
	// is Err. The call then ends, with EventFailure.
	EventBudgetRefused
	// EventHedge: Hedge started attempt number Attempt (2 for the first
	// hedge), Delay after the previous one, because none had won yet.
	EventHedge
	// EventHedgeWon: attempt number Attempt, a hedge (2 or more), won: its
	// value is returned and the others are cancelled. EventSuccess follows.
	EventHedgeWon
)

// String returns the kind's stable name: "success", "failure", "retry",
// "budget_refused", "hedge" or "hedge_won".
func (k EventKind) String() string {
	switch k {
	case EventSuccess:
		return "success"
	case EventFailure:
		return "failure"
	case EventRetry:
		return "retry"
	case EventBudgetRefused:
		return "budget_refused"
	case EventHedge:
		return "hedge"
	case EventHedgeWon:
		return "hedge_won"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is what a Retrier, Hedge and the transports report to
// Config.Observer (or HedgeConfig.Observer), under the delivery rule of
// package bulwark: on the calling goroutine, in the order of the call's
// attempts, never under a lock; a panicking observer is recovered and
// counted in Stats.ObserverPanics. Fields that a Kind does not mention are
// zero. Kinds and fields may be added: switch on Kind with a default case.
type Event struct {
	Kind EventKind
	// Name is Config.Name (HedgeConfig.Name for Hedge).
	Name string
	// Attempt is the attempt the event is about, 1 for the first; for
	// EventSuccess and EventFailure, the number of attempts made.
	Attempt int
	// Delay is, for EventRetry, the wait before the next attempt (the
	// backoff, or a longer server hint; 0 for a local rejection); for EventHedge, the wait since the
	// previous attempt started (HedgeConfig.Delay).
	Delay time.Duration
	// Err is the failed attempt's error (EventRetry, EventBudgetRefused,
	// with any After marker removed) or the error returned to the caller
	// (EventFailure).
	Err error
	// NotAttempted is set on EventRetry when the failed attempt was refused
	// locally by a guard below (an error matching bulwark.ErrNotAttempted).
	NotAttempted bool
	// Method and Host are the request's method and URL host when a
	// Transport or HedgeTransport reports the event; empty otherwise.
	Method, Host string
}

// Component returns "retry"; with Source and Type it makes Event a
// bulwark.Event.
func (e Event) Component() string { return "retry" }

// Source returns Name.
func (e Event) Source() string { return e.Name }

// Type returns Kind's name.
func (e Event) Type() string { return e.Kind.String() }

// observer is a Config.Observer: events are delivered at once, on the
// caller's goroutine (a Retrier keeps no shared state that events would have
// to be ordered by), and a panic is recovered and counted.
type observer = observe.Observer[Event]

// request names the HTTP request a Transport's events are about; the zero
// request is a call of Do or Call.
type request struct{ method, host string }
