package breaker

import "context"

// Do calls fn if the breaker admits it and records the result. It returns
// fn's error, an *OpenError (matching ErrOpen) when rejected, or ctx.Err()
// if ctx is already done (then fn is not called). A fn that fails because
// the caller cancelled ctx is not counted as a failure. A fn that panics is
// counted as a failure, and the panic goes on to Do's caller unchanged.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := b.state.Load()
	if w&plainMask != 0 {
		return b.doSlow(ctx, w, fn)
	}
	// Closed, and a nil error is a plain success: Allow and Done as their
	// fast paths, and a guard that records a failure if fn does not return.
	running := true
	defer func() {
		if running {
			p := Permit{b: b, word: w}
			p.donePanicked()
		}
	}()
	err := fn(ctx)
	running = false
	if err != nil {
		b.record(Permit{b: b, word: w}, b.outcome(ctx, err), err)
		return err
	}
	if !b.countSuccess() {
		b.closedSuccessSlow(w, nil)
	}
	return nil
}

// doSlow is Do for every case but a Closed breaker whose nil error is a
// plain success.
func (b *Breaker) doSlow(ctx context.Context, w uint64, fn func(context.Context) error) error {
	p, err := b.allowWord(w)
	if err != nil {
		return err
	}
	defer p.donePanicked()
	err = fn(ctx)
	b.record(p.take(), b.outcome(ctx, err), err)
	return err
}

// outcome classifies err, ignoring failures caused by the caller's own
// cancellation.
func (b *Breaker) outcome(ctx context.Context, err error) Outcome {
	o := b.classify(err)
	if o == Failure && ctx.Err() == context.Canceled {
		return Ignore
	}
	return o
}

// Call is Do for a function that returns a value.
func Call[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	p, err := b.Allow()
	if err != nil {
		return zero, err
	}
	defer p.donePanicked()
	v, err := fn(ctx)
	b.record(p.take(), b.outcome(ctx, err), err)
	return v, err
}
