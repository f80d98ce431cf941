package breaker

// Permit is one admitted call, returned by Breaker.Allow and Throttle.Allow:
// make the call, then report how it went with Done. It is a small value:
// Allow and Done allocate nothing.
//
// Done is idempotent: the first Done records the outcome and zeroes the
// Permit, so a second Done on the same variable is a no-op, and Done on the
// zero Permit does nothing. Copies of a Permit are the same admission:
// finish it through one variable.
//
// A Permit that is never finished costs a Breaker nothing in Closed; in
// HalfOpen its probe slot is reclaimed after OpenFor. For a Throttle it
// counts as a request the backend did not accept.
type Permit struct {
	b *Breaker
	t *Throttle
	// word is, for a Breaker, the state word at admission; for a Throttle,
	// the number of the bucket that counted the request.
	word uint64
	// tag is, for a Breaker that needs it (SlowCall, or not Closed), the
	// admission time in ns since the breaker's epoch, with probeBit set for
	// a HalfOpen probe (whose admission time is unique: its id).
	//
	// Four fields at most: the compiler keeps a struct of up to four
	// fields in registers, and Allow returns it that way.
	tag uint64
}

const probeBit = 1 << 63 // admission times are non-negative int64s

func (p Permit) start() int64  { return int64(p.tag &^ probeBit) }
func (p Permit) isProbe() bool { return p.tag&probeBit != 0 }

// Done records the outcome of the call: err classified by the Classify of
// the Breaker's Config (or ThrottleConfig). It never blocks on I/O; in
// Closed, a success takes no lock.
func (p *Permit) Done(err error) {
	if b, w := p.b, p.word; b != nil && err == nil && w&plainMask == 0 {
		*p = Permit{}
		if !b.countSuccess() {
			b.closedSuccessSlow(w, nil)
		}
		return
	}
	p.done(err)
}

// done is Done for everything but a plain success admitted in Closed.
func (p *Permit) done(err error) {
	q := p.take()
	switch {
	case q.b != nil:
		q.b.record(q, q.b.classify(err), err)
	case q.t != nil:
		q.t.record(q.word, q.t.classify(err), err)
	}
}

// take returns the Permit and zeroes it: the one place that makes a Permit
// single-use.
func (p *Permit) take() Permit {
	q := *p
	*p = Permit{}
	return q
}

// donePanicked ends a Permit still held when the protected function did not
// return: it panicked (the panic goes on to the caller unchanged) or called
// runtime.Goexit. That is a Failure whatever Classify says. Do and Call
// defer it; a Permit finished normally has been zeroed, so it does nothing
// then.
func (p *Permit) donePanicked() {
	if p.b != nil {
		p.recordFailure()
	}
}

// recordFailure is kept out of line so that donePanicked, which runs on
// every return of Call and Do's slow path, inlines into its deferred call.
//
//go:noinline
func (p *Permit) recordFailure() {
	q := p.take()
	q.b.record(q, Failure, nil)
}
