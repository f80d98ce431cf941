package bulkhead

import "context"

// Limiter is what both concurrency limiters of this package offer, and what
// Call, NewHandler and NewTransport take: *Bulkhead and *Adaptive satisfy
// it.
type Limiter interface {
	// Acquire returns a Permit when the call may proceed (a Bulkhead may
	// first wait in its queue), or an error: a rejection, which matches
	// ErrRejected and bulwark.ErrNotAttempted, or ctx.Err().
	Acquire(ctx context.Context) (Permit, error)
	// TryAcquire returns a Permit and true when the call may proceed right
	// now, without waiting; otherwise the zero Permit and false.
	TryAcquire() (Permit, bool)
	// Do runs fn under a Permit and finishes it with fn's error.
	Do(ctx context.Context, fn func(context.Context) error) error
}

var (
	_ Limiter = (*Bulkhead)(nil)
	_ Limiter = (*Adaptive)(nil)
)

// Call runs fn under l as Do does and returns fn's value. On rejection it
// returns the zero T and the rejection, without calling fn. If fn panics the
// Permit is finished as ignored (context.Canceled: no sample, slot given
// back) and the panic goes on.
func Call[T any](ctx context.Context, l Limiter, fn func(context.Context) (T, error)) (T, error) {
	p, err := l.Acquire(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer p.Done(context.Canceled) // no-op after the Done below; runs if fn panics
	v, err := fn(ctx)
	p.Done(err)
	return v, err
}
