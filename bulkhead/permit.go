package bulkhead

import (
	"context"
	"errors"
	"time"
)

// Limiter is what Handler, NewTransport and Call need from a limiter: both
// *Bulkhead and *Adaptive satisfy it.
type Limiter interface {
	// Admit returns a Permit when the call may proceed, or an error wrapping
	// ErrRejected (or ctx.Err()). The Permit must be finished exactly once.
	Admit(ctx context.Context) (Permit, error)
}

var (
	_ Limiter = (*Bulkhead)(nil)
	_ Limiter = (*Adaptive)(nil)
)

// Permit is one admitted call. Finish it exactly once, with Done (or Dropped
// for an Adaptive limiter's overload signal); finishing it twice releases a
// slot twice. A Permit is a small value: passing it around allocates nothing.
// The zero Permit is inert: Done and Dropped do nothing.
type Permit struct {
	bulkhead *Bulkhead
	adaptive *Adaptive
	start    time.Time // adaptive only
	inFlight int       // adaptive only: in flight when admitted, this call included
}

// Done finishes the call. For a Bulkhead it releases the slot. For an Adaptive
// limiter it also feeds the algorithm: err == nil is a latency sample;
// context.DeadlineExceeded counts as a drop (the call timed out, an overload
// signal); any other error, including the caller's context.Canceled, is
// ignored, because a fast failure says nothing about the service's capacity.
func (p Permit) Done(err error) {
	switch {
	case p.bulkhead != nil:
		p.bulkhead.Release()
	case p.adaptive == nil:
	case err == nil:
		p.adaptive.finish(p, outcomeSample)
	case errors.Is(err, context.DeadlineExceeded):
		p.adaptive.finish(p, outcomeDrop)
	default:
		p.adaptive.finish(p, outcomeIgnore)
	}
}

// Dropped finishes the call as an overload signal (timeout, shed by the
// service, queue overflow downstream): an Adaptive limiter lowers its limit.
// For a Bulkhead it is the same as Done.
func (p Permit) Dropped() {
	switch {
	case p.bulkhead != nil:
		p.bulkhead.Release()
	case p.adaptive != nil:
		p.adaptive.finish(p, outcomeDrop)
	}
}

// Call runs fn under l as Do does and returns fn's value. On rejection it
// returns the zero T and an error wrapping ErrRejected, without calling fn.
func Call[T any](ctx context.Context, l Limiter, fn func(context.Context) (T, error)) (T, error) {
	p, err := l.Admit(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	finished := false
	defer func() {
		if !finished { // fn panicked: free the slot, record nothing
			p.Done(context.Canceled)
		}
	}()
	v, err := fn(ctx)
	finished = true
	p.Done(err)
	return v, err
}
