package chaos

import (
	"context"
	"io"
)

// errTruncated is the error of a response cut short by Truncate.
var errTruncated error = &injectedError{cause: io.ErrUnexpectedEOF}

// Do calls fn(ctx), unless the fault strikes: then it acts as the fault
// table under Fault says (Error, Status and Reset return their error without
// calling fn; Latency waits, then calls fn; Truncate calls fn and returns an
// error in place of its success; Hang waits for ctx to end). Do blocks only
// as long as fn, plus a Latency wait, or until ctx ends for Hang. Target is
// not consulted (there is no request); When is.
//
// A switched-off Injector costs Do one atomic load.
func (in *Injector) Do(ctx context.Context, fn func(context.Context) error) error {
	if !in.on.Load() {
		return fn(ctx)
	}
	return in.do(ctx, fn)
}

func (in *Injector) do(ctx context.Context, fn func(context.Context) error) error {
	d, ok := in.strike(ctx, nil)
	if !ok {
		return fn(ctx)
	}
	switch in.fault.kind {
	case kindLatency:
		if err := in.wait(ctx, d); err != nil {
			return err
		}
		return fn(ctx)
	case kindHang:
		return in.hang(ctx)
	case kindTruncate:
		if err := fn(ctx); err != nil {
			return err
		}
		return in.err
	}
	return in.err // Error, Status, Reset
}

// Call is Do for a function that returns a value: it returns fn's result, or
// the zero T and the fault's error when the fault strikes (a Latency strike
// returns fn's result after the wait).
func Call[T any](ctx context.Context, in *Injector, fn func(context.Context) (T, error)) (T, error) {
	if !in.on.Load() {
		return fn(ctx)
	}
	var v T
	err := in.do(ctx, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	if in.fault.kind == kindTruncate && err == in.err { // the result was lost
		var zero T
		return zero, err
	}
	return v, err
}
