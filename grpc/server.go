package bulwarkgrpc

import (
	"context"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/bulkhead"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ShedUnary returns a server interceptor that sheds load: each call is
// admitted through l before its handler runs, with a fixed limit
// (*bulkhead.Bulkhead, which may also queue for a while) or an adaptive one
// (*bulkhead.Adaptive, whose limit follows the handlers' latency; Gradient2
// is the algorithm built for this). A call over the limit never reaches its
// handler and fails with
//
//	code    ResourceExhausted (the server is out of capacity, not down)
//	message bulwark: server overloaded, call shed: bulkhead: full
//	trailer grpc-retry-pushback-ms: the pushback (WithPushback, default 100 ms)
//
// so a client's retry (RetryUnary with ResourceExhausted among its codes, or
// grpc-go's own retry policy) waits at least that long. The Permit ends when
// the handler returns: a call whose deadline passed, or whose handler
// returned DeadlineExceeded, is a drop (an overload signal for an adaptive
// limit); a call whose client went away is ignored; any other outcome is a
// latency sample for an OK and ignored for an error (a fast failure says
// nothing about capacity). A handler that panics ends its Permit as ignored
// and the panic goes on. A nil l or an invalid option is an error matching
// ErrInvalidConfig.
func ShedUnary(l bulkhead.Limiter, opts ...Option) (grpc.UnaryServerInterceptor, error) {
	s, err := newShedder("ShedUnary", l, opts)
	if err != nil {
		return nil, err
	}
	return s.unary, nil
}

// ShedStream is ShedUnary for streams: a stream holds its Permit until its
// handler returns, so l bounds the streams served at once.
func ShedStream(l bulkhead.Limiter, opts ...Option) (grpc.StreamServerInterceptor, error) {
	s, err := newShedder("ShedStream", l, opts)
	if err != nil {
		return nil, err
	}
	return s.stream, nil
}

type shedder struct {
	l        bulkhead.Limiter
	pushback time.Duration
}

func newShedder(name string, l bulkhead.Limiter, opts []Option) (*shedder, error) {
	if l == nil {
		return nil, configErrorf("%s: nil bulkhead.Limiter", name)
	}
	o, err := newOptions(kindServer, opts)
	if err != nil {
		return nil, err
	}
	return &shedder{l: l, pushback: o.pushback}, nil
}

func (s *shedder) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	p, err := s.l.Acquire(ctx)
	if err != nil {
		return nil, s.reject(ctx, err, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	}
	finished := false
	defer func() {
		if !finished {
			p.Done(context.Canceled) // the handler panicked: no sample
		}
	}()
	resp, err = handler(ctx, req)
	finished = true
	finishServer(ctx, &p, err)
	return resp, err
}

func (s *shedder) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	ctx := ss.Context()
	p, err := s.l.Acquire(ctx)
	if err != nil {
		return s.reject(ctx, err, ss.SetTrailer)
	}
	finished := false
	defer func() {
		if !finished {
			p.Done(context.Canceled)
		}
	}()
	err = handler(srv, ss)
	finished = true
	finishServer(ctx, &p, err)
	return err
}

func (s *shedder) reject(ctx context.Context, err error, setTrailer func(metadata.MD)) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	setPushback(err, s.pushback, setTrailer)
	return localRejection(codes.ResourceExhausted, "server overloaded, call shed", err)
}

// setPushback sends the pushback trailer: the guard's own moment when it
// knows one, else the configured default (none when that is 0).
func setPushback(err error, def time.Duration, setTrailer func(metadata.MD)) {
	d := def
	if at, ok := bulwark.RetryAt(err); ok {
		d = max(time.Until(at), time.Millisecond)
	}
	if d > 0 {
		setTrailer(metadata.Pairs(PushbackKey, pushbackValue(d)))
	}
}

// finishServer ends a served call's Permit (see ShedUnary).
func finishServer(ctx context.Context, p *bulkhead.Permit, err error) {
	if cerr := ctx.Err(); cerr != nil {
		p.Done(cerr)
		return
	}
	if err != nil && codeOf(err) == codes.DeadlineExceeded {
		p.Done(context.DeadlineExceeded)
		return
	}
	p.Done(err)
}

// RateLimitUnary returns a server interceptor that admits calls at the rate
// l allows: any limiter with Allow() bool (bulkhead.RateLimiter), such as a
// *rate.Limiter or a limiter shared by a fleet. A call l refuses never
// reaches its handler and fails with ResourceExhausted ("bulwark: rate
// limit exceeded, call refused: …") and a pushback trailer: when the next
// token is due for a *rate.Limiter, or at RetryAt for a limiter that
// implements bulwark.RetryAter, and WithPushback's default otherwise. A nil
// l or an invalid option is an error matching ErrInvalidConfig.
func RateLimitUnary(l bulkhead.RateLimiter, opts ...Option) (grpc.UnaryServerInterceptor, error) {
	r, err := newRateLimited("RateLimitUnary", l, opts)
	if err != nil {
		return nil, err
	}
	return r.unary, nil
}

// RateLimitStream is RateLimitUnary for streams: opening a stream takes one
// token; its messages take none.
func RateLimitStream(l bulkhead.RateLimiter, opts ...Option) (grpc.StreamServerInterceptor, error) {
	r, err := newRateLimited("RateLimitStream", l, opts)
	if err != nil {
		return nil, err
	}
	return r.stream, nil
}

type rateLimited struct {
	l        bulkhead.RateLimiter
	pushback time.Duration
}

func newRateLimited(name string, l bulkhead.RateLimiter, opts []Option) (*rateLimited, error) {
	if l == nil {
		return nil, configErrorf("%s: nil bulkhead.RateLimiter", name)
	}
	o, err := newOptions(kindServer, opts)
	if err != nil {
		return nil, err
	}
	return &rateLimited{l: l, pushback: o.pushback}, nil
}

func (r *rateLimited) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !r.l.Allow() {
		return nil, r.reject(func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	}
	return handler(ctx, req)
}

func (r *rateLimited) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !r.l.Allow() {
		return r.reject(ss.SetTrailer)
	}
	return handler(srv, ss)
}

func (r *rateLimited) reject(setTrailer func(metadata.MD)) error {
	err := bulkhead.ErrRateLimited
	if at := nextToken(r.l, time.Now()); !at.IsZero() {
		err = &bulkhead.RateLimitedError{At: at}
	}
	setPushback(err, r.pushback, setTrailer)
	return localRejection(codes.ResourceExhausted, "rate limit exceeded, call refused", err)
}

// nextToken returns when l expects its next token, or zero if it cannot say.
func nextToken(l bulkhead.RateLimiter, now time.Time) time.Time {
	switch l := l.(type) {
	case *rate.Limiter:
		limit := l.Limit()
		if limit == rate.Inf || limit <= 0 {
			return time.Time{}
		}
		tokens := l.TokensAt(now)
		if tokens >= 1 {
			return now
		}
		return now.Add(time.Duration((1 - tokens) / float64(limit) * float64(time.Second)))
	case bulwark.RetryAter:
		return l.RetryAt()
	}
	return time.Time{}
}
