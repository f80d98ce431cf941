package balance

import "time"

// Permit is one picked node for one request: Node is where to send it, and
// Done reports how it went. Call Done when the request has finished (for
// HTTP, when the response body is read to its end or closed), with the
// request's error: it releases the node's in-flight slot and records the
// outcome (and, for PeakEWMA, the latency).
//
// The outcome rules: a nil error is a success; an error matching
// context.Canceled (the caller gave up) says nothing about the node; an
// error matching bulwark.ErrNotAttempted is a local rejection by a layer
// between the picker and the node (an open circuit breaker, a full
// bulkhead): the node becomes unavailable until bulwark.RetryAt(err), or for
// Config.UnavailableFor when the error names no moment, and it is not a
// failure; any other error is a failure and counts towards ejection.
//
// A Permit is a small value: Pick allocates nothing. Done is idempotent: it
// records the outcome the first time and clears the Permit's claim on the
// node (Node stays readable), so a second Done on the same variable is a
// no-op, and the zero Permit is inert. Copies of a Permit are the same
// admission: finish it through one variable. This is why
// a deferred Done should close over the variable:
//
//	permit, err := p.Pick()
//	if err != nil { return err }
//	defer func() { permit.Done(err) }()
//
// (A second Done through a copy would release a slot twice; the in-flight
// count is kept from going negative, but another request's slot is released
// early.) Done never blocks and is safe after the node was removed by Update.
type Permit[N comparable] struct {
	// Node is the picked node.
	Node N

	st    *nodeState
	start int64 // settings.now() at Pick for latency-aware pickers, else 0
}

// Done ends the Permit with the request's outcome (see Permit for the
// rules). It is a no-op on a zero Permit and after the first call.
func (p *Permit[N]) Done(err error) {
	st := p.st
	if st == nil {
		return
	}
	p.st = nil // the claim on the node; Node stays readable
	st.finish(p.start, err)
}

// Pushback reports that the node asked not to be sent requests for d: an
// HTTP 503 or 429 response with Retry-After, a gRPC server pushback
// (gRFC A6). The node is ejected for d, capped by Config.MaxEjectFor, at
// once rather than after EjectAfter failures, so the next Pick goes
// elsewhere; its next ejection after failures is not made longer by it.
// As any ejection it stays within Config.MaxEjectedPercent (a node that
// would exceed the share stays in) and is overridden by the panic
// threshold. Pushback reports whether the node is ejected afterwards (true
// also when it already was), which tells a caller whether its retry will
// go elsewhere or should honour the pause itself.
//
// Pushback does not end the Permit: call Done as usual, with the request's
// error. It does nothing and reports false for d ≤ 0, with
// Config.DisableEjection, and on a zero or done Permit. Transport calls it
// for every 503 and 429 response that carries Retry-After.
func (p *Permit[N]) Pushback(d time.Duration) bool {
	if p.st == nil {
		return false
	}
	return p.st.pushback(d)
}
