package bulkhead

import (
	"context"
	"errors"
	"sync/atomic"
)

// Permit is one admitted call, returned by Acquire and TryAcquire of a
// Bulkhead or an Adaptive limiter. Finish it with Done (or Dropped, to tell
// an Adaptive limiter the call signalled overload); that gives the slot back.
//
// Done is idempotent: the first Done or Dropped records the outcome and
// zeroes the Permit, so a second one on the same variable does nothing.
// Copies of a Permit are the same admission: finish it through one
// variable. (A Done on a copy of a finished Permit would give a slot back
// twice; the limiter undoes that and counts it in its Stats' Misuse.)
//
// A Permit is a small value: passing it around allocates nothing. The zero
// Permit is inert: Done and Dropped do nothing.
type Permit struct {
	bulkhead *Bulkhead
	adaptive *Adaptive
	start    int64 // adaptive only: admission time, nanoseconds after Adaptive.epoch
	inFlight int64 // adaptive only: in flight when admitted, this call included
}

// Done finishes the call. For a Bulkhead it gives the slot back (to the
// oldest queued caller, if any). For an Adaptive limiter it also feeds the
// algorithm: err == nil is a latency sample; an error matching
// context.DeadlineExceeded counts as a drop (the call timed out, an overload
// signal); any other error, including the caller's context.Canceled, is
// ignored, because a fast failure says nothing about the service's capacity.
// Done never blocks on other callers' work.
func (p *Permit) Done(err error) {
	// The Bulkhead fast path is written here rather than as a call to
	// release so that Done stays within the inliner's budget: one atomic
	// add, one load and a compare in the caller.
	var s uint64
	if b := p.bulkhead; b != nil {
		s = atomic.AddUint64(&b.state, 1)
		if s&lowMask <= atomic.LoadUint64(&b.releaseMax) {
			p.bulkhead = nil
			return
		}
	}
	p.doneSlow(s, err)
}

// doneSlow finishes what Done's fast path did not: a Bulkhead release whose
// add left s with waiters queued or a surplus, or an Adaptive call.
func (p *Permit) doneSlow(s uint64, err error) {
	if b := p.bulkhead; b != nil {
		p.bulkhead = nil
		b.returned(s)
		return
	}
	if p.adaptive != nil {
		p.doneAdaptive(err)
	}
}

func (p *Permit) doneAdaptive(err error) {
	q := *p
	*p = Permit{}
	switch {
	case err == nil:
		q.adaptive.finish(q, outcomeSample, nil)
	case errors.Is(err, context.DeadlineExceeded):
		q.adaptive.finish(q, outcomeDrop, err)
	default:
		q.adaptive.finish(q, outcomeIgnore, err)
	}
}

// Dropped finishes the call as an overload signal (a timeout, a call shed by
// the service, a queue overflow downstream): an Adaptive limiter lowers its
// limit. For a Bulkhead it is the same as Done. Like Done it is idempotent
// and zeroes the Permit.
func (p *Permit) Dropped() {
	if b := p.bulkhead; b != nil {
		p.bulkhead = nil
		b.release()
		return
	}
	if a := p.adaptive; a != nil {
		q := *p
		*p = Permit{}
		a.finish(q, outcomeDrop, nil)
	}
}
