package balance

// Lease is one picked node for one request. Call Done exactly when the
// request has finished (for HTTP, when the response body is closed), with the
// request's error: it releases the node's in-flight slot and records the
// outcome (and, for PeakEWMA, the latency).
//
// Lease is a small value (no allocation per Pick). Done has a pointer
// receiver and clears the Lease, so a second Done on the same Lease variable
// is a no-op; this is why a deferred call should close over the variable:
//
//	lease, err := p.Pick()
//	if err != nil { return err }
//	defer func() { lease.Done(err) }()
//
// Copies of a Lease are the same lease: call Done on one of them only (a
// second Done through a copy would release a slot twice; the in-flight count
// is kept from going negative, but another request's slot is released early).
// Done is safe to call after the node was removed by Update.
type Lease[N comparable] struct {
	// Node is the picked node.
	Node N

	st    *nodeState
	start int64 // settings.now() at Pick for latency-aware pickers, else 0
}

// Done ends the lease with the request's outcome. A nil err is a success;
// an error matching context.Canceled (the caller gave up) is neither success
// nor failure; any other error is a failure and counts towards ejection.
// Done never blocks and is a no-op on a zero Lease or after the first call.
func (l *Lease[N]) Done(err error) {
	st := l.st
	if st == nil {
		return
	}
	l.st = nil
	st.finish(l.start, err)
}
