package bulwarkgrpc

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/bulkhead"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// BulkheadUnary returns a client interceptor that admits each unary call
// through l (a *bulkhead.Bulkhead, which may queue the call, or a
// *bulkhead.Adaptive, which sheds at once) and holds the Permit until the
// call returns. A rejected call fails without touching the network with
//
//	code    ResourceExhausted
//	message bulwark: bulkhead rejected the call: bulkhead: full
//
// (plus a google.rpc.RetryInfo detail when the limiter knows when it admits
// again, as a rate limit does). The code is ResourceExhausted, not
// Unavailable, because the resource that ran out is this client's own
// concurrency allowance: the gRPC status-code guide gives ResourceExhausted
// for limits the client library itself runs into, and Unavailable would
// claim that the service is down, which a caller's alerting or breaker
// would hold against a healthy server. The rejection also matches
// bulkhead.ErrRejected and bulwark.ErrNotAttempted in this process, so
// RetryUnary above retries it at once at no cost to its budget.
//
// The Permit's outcome: OK and answers are latency samples; DeadlineExceeded
// and the codes of WithDropCodes (ResourceExhausted, Unavailable) are drops,
// which lower an Adaptive limit; Canceled is ignored. A caller whose context
// ends while queued gets Canceled or DeadlineExceeded. A nil l or an
// invalid option is an error matching ErrInvalidConfig.
func BulkheadUnary(l bulkhead.Limiter, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	b, err := newLimited("BulkheadUnary", l, opts)
	if err != nil {
		return nil, err
	}
	return b.unary, nil
}

// BulkheadStream is BulkheadUnary for streams: a stream holds its Permit
// until grpc-go reports it done (its last RecvMsg, an error, or its context
// ending), so l bounds the streams open at once.
func BulkheadStream(l bulkhead.Limiter, opts ...Option) (grpc.StreamClientInterceptor, error) {
	b, err := newLimited("BulkheadStream", l, opts)
	if err != nil {
		return nil, err
	}
	return b.stream, nil
}

type limited struct {
	l     bulkhead.Limiter
	drops codeSet
}

func newLimited(name string, l bulkhead.Limiter, opts []Option) (*limited, error) {
	if l == nil {
		return nil, configErrorf("%s: nil bulkhead.Limiter", name)
	}
	o, err := newOptions(kindBulkhead, opts)
	if err != nil {
		return nil, err
	}
	return &limited{l: l, drops: o.dropCodes}, nil
}

func (b *limited) acquire(ctx context.Context) (bulkhead.Permit, error) {
	p, err := b.l.Acquire(ctx)
	if err == nil {
		return p, nil
	}
	if errors.Is(err, bulkhead.ErrRejected) {
		return p, localRejection(codes.ResourceExhausted, "bulkhead rejected the call", err)
	}
	return p, &statusError{st: status.FromContextError(err), err: err}
}

func (b *limited) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	p, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	err = invoker(ctx, method, req, reply, cc, opts...)
	finishClient(&p, err, b.drops)
	return err
}

func (b *limited) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	p, err := b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	f := &bulkheadFinish{p: p, drops: b.drops}
	cs, err := streamer(ctx, desc, cc, method, append(opts[:len(opts):len(opts)], grpc.OnFinish(f.done))...)
	if err != nil {
		f.done(err)
		return nil, err
	}
	return cs, nil
}

type bulkheadFinish struct {
	once  atomic.Bool
	p     bulkhead.Permit
	drops codeSet
}

func (f *bulkheadFinish) done(err error) {
	if f.once.CompareAndSwap(false, true) {
		finishClient(&f.p, err, f.drops)
	}
}

// finishClient ends a client call's Permit by its status (see BulkheadUnary).
func finishClient(p *bulkhead.Permit, err error, drops codeSet) {
	if err == nil {
		p.Done(nil)
		return
	}
	switch code := codeOf(err); {
	case code == codes.DeadlineExceeded:
		p.Done(context.DeadlineExceeded)
	case code == codes.Canceled:
		p.Done(context.Canceled)
	case drops.has(code):
		p.Dropped()
	default:
		p.Done(nil) // an answer: the server did its work, a latency sample
	}
}
