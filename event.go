package bulwark

// Event is satisfied by the event type of every building block
// (retry.Event, breaker.Event, bulkhead.Event, cache.Event, ...), so that
// code handling the events of every package — a logger, a metrics exporter
// — can take them through one type parameter:
//
//	func Observer[E bulwark.Event](l *slog.Logger) func(E)
//
// Each package's Event is a struct with a Kind field of its own EventKind
// type and typed fields, reported to the one optional observer of each
// object, set in its Config:
//
//	Observer func(Event)
//
// A nil Observer (the default) costs the hot paths one predictable branch,
// and often not even that (it shares a test the path makes anyway). An
// Event is passed by value: delivering one allocates nothing.
//
// # Delivery rule
//
// The same in every package:
//
//   - Synchronous and lock-free. The observer runs on a goroutine of a
//     caller of the object, never on a goroutine of the package's own, and
//     never while a lock of the object is held: it may call the object back
//     (Stats, State, even Trip or SetLimit) without deadlocking.
//   - Ordered per object. Events that change what an object does for every
//     caller — a breaker's transition, a limit change, a node ejected or
//     returned — are queued under the object's lock and delivered one at a
//     time, in the order they took effect, by the goroutine that caused
//     them or, when another goroutine is already delivering that object's
//     queue, by that one. So a call may return before such an event has
//     been delivered, and an observer that drives the object (Trip inside
//     the observer) sees the event that causes after it returns. A call's
//     own events (its outcome, its rejection, its retries) are never
//     queued: the call's goroutine delivers them before it returns, in the
//     order they happened, and around the state changes the call caused in
//     causal order (a failure before the trip it caused, a probe after the
//     transition that admitted it) unless another goroutine is delivering
//     that queue at the time. Events of concurrent calls may arrive
//     concurrently: an observer must be safe for concurrent use.
//   - A panicking observer cannot break the guard. The panic is recovered
//     at once and counted in the object's Stats (ObserverPanics); the
//     guard's decision, counters and state are what they would have been
//     without an observer, and later events are still delivered. (The
//     functions without Stats, such as retry.Hedge, recover the panic and
//     drop it.)
//
// # Names
//
// Component, Source and Type are the names an adapter tags an event with.
// They are part of the API: lower snake_case, and a kind keeps its name
// once published. Packages add kinds and fields over time, so an observer
// should switch on Kind with a default case.
type Event interface {
	// Component names the package that reported the event: "retry",
	// "breaker", "bulkhead", "balance", "cache" or "chaos".
	Component() string
	// Source is the name of the object that reported the event (its
	// Config.Name, or a Group member's name), "" when it has none.
	Source() string
	// Type is the name of the event's kind, e.g. "state_change"; it is the
	// Kind field's String.
	Type() string
}
