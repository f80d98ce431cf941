package bulwarkgrpc

import (
	"context"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/breaker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// BreakerUnary returns a client interceptor that guards unary calls with the
// breakers of group, one per method by default (WithKey(ByTarget) for one
// per target). A call the breaker admits goes on and its status is recorded:
// the codes of WithFailureCodes (DefaultFailureCodes) are failures, Canceled
// counts toward nothing, and every other code is a success (the server
// answered). While the breaker is open, the call fails at once, without
// touching the network, with
//
//	code    Unavailable (the service cannot be reached now; retrying later may succeed)
//	message bulwark: circuit breaker open: breaker "…": open until <RFC 3339 time> (retry in 4.2s)
//	details google.rpc.RetryInfo{retry_delay: the time left}, read by RetryDelay
//
// and, in this process, errors.Is(err, breaker.ErrOpen) and
// errors.Is(err, bulwark.ErrNotAttempted) hold and bulwark.RetryAt(err)
// returns the end of the open period, so RetryUnary above it retries at once
// at no cost to its budget. A nil group or an invalid option is an error
// matching ErrInvalidConfig.
func BreakerUnary(group *breaker.Group, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	b, err := newBreakers("BreakerUnary", group, opts)
	if err != nil {
		return nil, err
	}
	return b.unary, nil
}

// BreakerStream is BreakerUnary for streams: the stream's Permit is finished
// with its final status, when grpc-go reports the stream done (its last
// RecvMsg, an error, or its context ending).
func BreakerStream(group *breaker.Group, opts ...Option) (grpc.StreamClientInterceptor, error) {
	b, err := newBreakers("BreakerStream", group, opts)
	if err != nil {
		return nil, err
	}
	return b.stream, nil
}

type breakers struct {
	group    *breaker.Group
	key      Key
	failures codeSet
}

func newBreakers(name string, group *breaker.Group, opts []Option) (*breakers, error) {
	if group == nil {
		return nil, configErrorf("%s: nil *breaker.Group", name)
	}
	o, err := newOptions(kindBreaker, opts)
	if err != nil {
		return nil, err
	}
	return &breakers{group: group, key: o.key, failures: o.failures}, nil
}

func (b *breakers) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	p, err := b.group.Get(b.key(ctx, cc.Target(), method)).Allow()
	if err != nil {
		return localRejection(codes.Unavailable, "circuit breaker open", err)
	}
	err = invoker(ctx, method, req, reply, cc, opts...)
	p.Done(outcome(err, b.failures))
	return err
}

func (b *breakers) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	p, err := b.group.Get(b.key(ctx, cc.Target(), method)).Allow()
	if err != nil {
		return nil, localRejection(codes.Unavailable, "circuit breaker open", err)
	}
	f := &breakerFinish{p: p, failures: b.failures}
	cs, err := streamer(ctx, desc, cc, method, append(opts[:len(opts):len(opts)], grpc.OnFinish(f.done))...)
	if err != nil {
		f.done(err) // grpc-go has usually called it already; done runs once
		return nil, err
	}
	return cs, nil
}

// breakerFinish ends a stream's Permit exactly once: grpc-go's OnFinish and
// a failed open may both report it, from different goroutines.
type breakerFinish struct {
	once     atomic.Bool
	p        breaker.Permit
	failures codeSet
}

func (f *breakerFinish) done(err error) {
	if f.once.CompareAndSwap(false, true) {
		f.p.Done(outcome(err, f.failures))
	}
}
