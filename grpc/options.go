package bulwarkgrpc

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
)

// Option configures an interceptor. Each option applies to the constructors
// its doc names; given to another, or with a value out of range, it makes the
// constructor return an error matching ErrInvalidConfig (never an error at
// call time, never a silent clamp).
type Option func(*options) error

// kind names the constructor an options value is being built for.
type kind uint8

const (
	kindRetry kind = 1 << iota
	kindHedge
	kindBreaker
	kindBulkhead
	kindServer
)

func (k kind) String() string {
	switch k {
	case kindRetry:
		return "RetryUnary/RetryStream"
	case kindHedge:
		return "HedgeUnary"
	case kindBreaker:
		return "BreakerUnary/BreakerStream"
	case kindBulkhead:
		return "BulkheadUnary/BulkheadStream"
	default:
		return "the server interceptors"
	}
}

type options struct {
	kind        kind
	retryCodes  codeSet
	failures    codeSet
	dropCodes   codeSet
	key         Key
	pushback    time.Duration
	streamLimit int
}

func newOptions(k kind, opts []Option) (*options, error) {
	o := &options{
		kind:        k,
		retryCodes:  codesOf(codes.Unavailable),
		failures:    defaultFailures,
		dropCodes:   codesOf(codes.ResourceExhausted, codes.Unavailable),
		key:         ByMethod,
		pushback:    DefaultPushback,
		streamLimit: DefaultStreamBuffer,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, configErrorf("nil Option given to %v", k)
		}
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *options) only(name string, kinds kind) error {
	if o.kind&kinds == 0 {
		return configErrorf("%s does not apply to %v", name, o.kind)
	}
	return nil
}

// WithRetryCodes replaces the status codes on which an attempt is retried
// (RetryUnary, RetryStream) or loses to another attempt (HedgeUnary). The
// default is Unavailable alone: the one code gRPC guarantees is safe to
// retry, since it means the call did not take effect (the gRPC status-code
// guide; gRFC A6 leaves the list to the service owner). Add
// ResourceExhausted for servers that shed load with pushback, such as
// ShedUnary. Each code must be an error code (not OK, at most
// Unauthenticated); no code at all retries nothing but local rejections and
// attempt timeouts.
func WithRetryCodes(cs ...codes.Code) Option {
	return func(o *options) error {
		if err := o.only("WithRetryCodes", kindRetry|kindHedge); err != nil {
			return err
		}
		if err := checkCodes("WithRetryCodes", cs); err != nil {
			return err
		}
		o.retryCodes = codesOf(cs...)
		return nil
	}
}

// WithFailureCodes replaces the status codes that count as a failure of the
// dependency for a breaker (BreakerUnary, BreakerStream); the default is
// DefaultFailureCodes. Canceled is never a failure: it is the caller's own
// doing.
func WithFailureCodes(cs ...codes.Code) Option {
	return func(o *options) error {
		if err := o.only("WithFailureCodes", kindBreaker); err != nil {
			return err
		}
		if err := checkCodes("WithFailureCodes", cs); err != nil {
			return err
		}
		o.failures = codesOf(cs...) &^ codesOf(codes.Canceled)
		return nil
	}
}

// WithDropCodes replaces the status codes that finish a client-side
// bulkhead's Permit as dropped (BulkheadUnary, BulkheadStream): the server
// signalled overload, and an adaptive limiter lowers its limit. The default
// is ResourceExhausted and Unavailable, the gRPC counterparts of HTTP 429 and
// 503. DeadlineExceeded always counts as a drop.
func WithDropCodes(cs ...codes.Code) Option {
	return func(o *options) error {
		if err := o.only("WithDropCodes", kindBulkhead); err != nil {
			return err
		}
		if err := checkCodes("WithDropCodes", cs); err != nil {
			return err
		}
		o.dropCodes = codesOf(cs...)
		return nil
	}
}

// Key chooses which breaker of a group a call uses, from the connection's
// target (ClientConn.Target, such as "dns:///orders:443") and the full
// method name ("/orders.v1.Orders/Get"). It runs on every call: return a
// string you already hold (both arguments are) to keep the call free of
// allocations.
type Key func(ctx context.Context, target, method string) string

// ByMethod keys one breaker per method: a method whose server side is
// broken opens its own breaker while the service's other methods go on.
// It is the default. Give each ClientConn its own interceptor (and group)
// so that the same method of two targets does not share a breaker.
func ByMethod(_ context.Context, _, method string) string { return method }

// ByTarget keys one breaker per target: any failing method opens the
// breaker for the whole service, as a per-host HTTP breaker does.
func ByTarget(_ context.Context, target, _ string) string { return target }

// WithKey sets how BreakerUnary and BreakerStream choose a breaker of their
// group; the default is ByMethod. A nil key is an error.
func WithKey(key Key) Option {
	return func(o *options) error {
		if err := o.only("WithKey", kindBreaker); err != nil {
			return err
		}
		if key == nil {
			return configErrorf("WithKey(nil)")
		}
		o.key = key
		return nil
	}
}

// DefaultPushback is the retry pushback a shedding server sends when its
// limiter cannot say when it will admit again: about a few service times of
// a typical RPC, long enough to spread the retries of clients shed together,
// short enough not to idle a server that has recovered. It equals the first
// retry's ceiling of retry's default backoff (100 ms).
const DefaultPushback = 100 * time.Millisecond

// WithPushback sets the pushback (the PushbackKey trailer) that the server
// interceptors send with a rejection when the limiter does not know when it
// will admit again (a rate limiter that does know, such as a *rate.Limiter,
// sets the trailer to that moment instead). The default is DefaultPushback;
// 0 sends no pushback trailer, so a client falls back on its own backoff. A
// negative d is an error (a client reads a negative pushback as "do not
// retry", which a server shedding load should not say).
func WithPushback(d time.Duration) Option {
	return func(o *options) error {
		if err := o.only("WithPushback", kindServer); err != nil {
			return err
		}
		if d < 0 {
			return configErrorf("WithPushback(%v) negative", d)
		}
		o.pushback = d
		return nil
	}
}

// DefaultStreamBuffer is how many sent messages RetryStream keeps for replay
// before it gives up on retrying a stream.
const DefaultStreamBuffer = 64

// WithStreamBuffer sets how many messages RetryStream buffers for replay
// while a stream has received no response yet; a stream that sends more
// before its first response is no longer retried (gRFC A6 bounds its retry
// buffer likewise). The default is DefaultStreamBuffer; n must be at least 1.
func WithStreamBuffer(n int) Option {
	return func(o *options) error {
		if err := o.only("WithStreamBuffer", kindRetry); err != nil {
			return err
		}
		if n < 1 {
			return configErrorf("WithStreamBuffer(%d) below 1", n)
		}
		o.streamLimit = n
		return nil
	}
}
