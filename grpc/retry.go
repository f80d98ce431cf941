package bulwarkgrpc

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// RetryUnary returns a client interceptor that retries unary calls with r:
// its attempts, backoff, budget and per-attempt timeout
// (retry.Config.AttemptTimeout: each attempt gets its own deadline, never
// later than the call's, and is sent to the server as that attempt's
// grpc-timeout). An attempt is retried when
//
//   - its status code is one of WithRetryCodes (Unavailable by default),
//     after max(backoff, the server's pushback) when the server sent a
//     PushbackKey trailer (the pushback capped at the Backoff's Cap, as
//     the Retrier caps every server hint), and not at all when the
//     pushback says not to;
//   - it ran out of its own attempt timeout (not the call's deadline);
//   - a guard below refused it locally (an error matching
//     bulwark.ErrNotAttempted, such as BreakerUnary's or BulkheadUnary's
//     rejection): at once, without backoff, and at no cost to the budget.
//
// Any other status is the answer and is returned unchanged. When retries
// stop, the caller gets the last attempt's status (its code, message and
// details); in this process the error also matches retry.ErrExhausted. When
// the budget refused the retry, the status keeps the last attempt's code and
// its message says "bulwark: retry budget exhausted, retry not sent: …", and
// errors.Is(err, retry.ErrBudget) holds: a client that sees this knows its
// own budget, not the server, stopped the call.
//
// Place it first (outermost) in grpc.WithChainUnaryInterceptor, so that
// every attempt goes through the breaker and bulkhead again and, below them
// all, through the balancer, which picks a node anew for each attempt.
// A nil r or an invalid option is an error matching ErrInvalidConfig.
func RetryUnary(r *retry.Retrier, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	ri, err := newRetrier("RetryUnary", r, opts)
	if err != nil {
		return nil, err
	}
	return ri.unary, nil
}

// RetryStream returns a client interceptor that retries streams with r, but
// only before the stream's first response message: after that the caller
// has seen part of the answer, and a replay could not be hidden from it
// (gRFC A6 commits a stream at the same point). Until then the stream
// keeps the messages sent (up to WithStreamBuffer) and its CloseSend, and a
// retry opens a new stream and replays them; a send that finds the stream
// broken is buffered and reported as nil, since the status that decides the
// retry comes with RecvMsg, as grpc-go's ClientStream documents. The rules
// for what is retried are those of RetryUnary.
//
// Two differences from unary calls: retry.Config.AttemptTimeout does not
// apply (a stream lives as long as its caller's context), and a stream that
// succeeds at once does not credit the budget (only streams that were
// retried report their outcome). A failure to open the stream and a
// failure before its first message each start a retry run of their own. An
// OnFinish call option given to the stream runs once per attempt, since
// grpc-go runs it as each attempt's stream ends (RetryUnary runs it once).
func RetryStream(r *retry.Retrier, opts ...Option) (grpc.StreamClientInterceptor, error) {
	ri, err := newRetrier("RetryStream", r, opts)
	if err != nil {
		return nil, err
	}
	return ri.stream, nil
}

type retrier struct {
	r           *retry.Retrier
	codes       codeSet
	streamLimit int
}

func newRetrier(name string, r *retry.Retrier, opts []Option) (*retrier, error) {
	if r == nil {
		return nil, configErrorf("%s: nil *retry.Retrier", name)
	}
	o, err := newOptions(kindRetry, opts)
	if err != nil {
		return nil, err
	}
	return &retrier{r: r, codes: o.retryCodes, streamLimit: o.streamLimit}, nil
}

func (ri *retrier) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	// The caller's OnFinish callbacks run once, for the call as a whole.
	var onFinish []func(error)
	for _, o := range opts {
		if f, ok := o.(grpc.OnFinishCallOption); ok {
			onFinish = append(onFinish, f.OnFinish)
		}
	}
	if onFinish != nil {
		opts = slices.DeleteFunc(slices.Clone(opts), func(o grpc.CallOption) bool {
			_, ok := o.(grpc.OnFinishCallOption)
			return ok
		})
	}
	var trailer metadata.MD
	callOpts := append(opts[:len(opts):len(opts)], grpc.Trailer(&trailer))
	err := ri.r.Do(ctx, func(actx context.Context) error {
		trailer = nil
		err := invoker(actx, method, req, reply, cc, callOpts...)
		return ri.classify(ctx, actx, err, trailer)
	})
	err = finalStatus(ctx, err)
	for _, f := range onFinish {
		f(err)
	}
	return err
}

// classify marks an attempt's error for the Retrier: local rejections,
// attempt timeouts and the caller's own end pass as they are (the Retrier
// has its rules for each); a code that is not retryable, or a pushback that
// says no, becomes Permanent; a pushback delay becomes retry.After.
func (ri *retrier) classify(ctx, actx context.Context, err error, trailer metadata.MD) error {
	if err == nil || errors.Is(err, bulwark.ErrNotAttempted) || ctx.Err() != nil {
		return err
	}
	if actx != ctx && (actx.Err() != nil || codeOf(err) == codes.DeadlineExceeded) {
		// The attempt's own deadline, which is tighter than the call's (the
		// caller's has not passed): the Retrier retries it. The server may
		// report it a moment before the client's timer fires.
		return err
	}
	wait, stop, present := pushback(trailer)
	if stop || !ri.codes.has(codeOf(err)) {
		return retry.Permanent(err)
	}
	if present {
		return retry.After(err, wait)
	}
	return err
}

type grpcStatus interface{ GRPCStatus() *status.Status }

// finalStatus turns what Retrier.Do returned into the status the caller
// gets (see RetryUnary).
func finalStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(grpcStatus); ok {
		return err // an answer, or a local rejection, unchanged
	}
	if err == io.EOF {
		return err
	}
	var last grpcStatus
	hasLast := errors.As(err, &last)
	switch {
	case ctx.Err() != nil:
		st := status.FromContextError(ctx.Err())
		if hasLast {
			st = status.New(st.Code(), st.Message()+" (bulwark: the call ended during retries; last attempt: "+last.GRPCStatus().Message()+")")
		}
		return &statusError{st: st, err: err}
	case !hasLast:
		return &statusError{st: status.New(codes.Unknown, err.Error()), err: err}
	case errors.Is(err, retry.ErrBudget):
		p := last.GRPCStatus().Proto()
		p.Message = "bulwark: retry budget exhausted, retry not sent: " + p.Message
		return &statusError{st: status.FromProto(p), err: err}
	default:
		return &statusError{st: last.GRPCStatus(), err: err}
	}
}

func (ri *retrier) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s := &retryStream{ri: ri, ctx: ctx, desc: desc, cc: cc, method: method, streamer: streamer}
	s.opts = append(opts[:len(opts):len(opts)], grpc.Trailer(&s.trailer))
	cs, err := streamer(ctx, desc, cc, method, s.opts...)
	if err != nil {
		if err := s.recover(err, nil); err != nil {
			return nil, err
		}
		return s, nil
	}
	s.cur = cs
	return s, nil
}

// retryStream is a ClientStream that can be replaced by a new attempt until
// its first response message arrives. mu guards cur, sent, closeSent and
// broken while uncommitted; once committed is set, cur never changes again
// and SendMsg and RecvMsg use it without the lock. Sends hold mu while
// uncommitted, so a retry (in RecvMsg) replays exactly the messages sent.
type retryStream struct {
	ri       *retrier
	ctx      context.Context
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption
	trailer  metadata.MD // the current attempt's trailer; read by RecvMsg's goroutine only

	committed atomic.Bool
	mu        sync.Mutex
	cur       grpc.ClientStream
	sent      []any
	closeSent bool
	broken    bool // a send found cur ended: later sends are only buffered
}

func (s *retryStream) current() grpc.ClientStream {
	if s.committed.Load() {
		return s.cur
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *retryStream) commit() {
	s.mu.Lock()
	s.committed.Store(true)
	s.sent = nil
	s.mu.Unlock()
}

func (s *retryStream) Header() (metadata.MD, error) { return s.current().Header() }
func (s *retryStream) Trailer() metadata.MD         { return s.current().Trailer() }
func (s *retryStream) Context() context.Context     { return s.current().Context() }

func (s *retryStream) SendMsg(m any) error {
	if s.committed.Load() {
		return s.cur.SendMsg(m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.committed.Load() && len(s.sent) >= s.ri.streamLimit {
		s.committed.Store(true) // too much to replay: this stream is final
		s.sent = nil
	}
	if s.committed.Load() {
		return s.cur.SendMsg(m)
	}
	s.sent = append(s.sent, m)
	if s.broken {
		return nil
	}
	if err := s.cur.SendMsg(m); err != nil {
		if err != io.EOF {
			return err
		}
		s.broken = true // the status, and the retry, come with RecvMsg
	}
	return nil
}

func (s *retryStream) CloseSend() error {
	if s.committed.Load() {
		return s.cur.CloseSend()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeSent = true
	if s.broken {
		return nil
	}
	return s.cur.CloseSend()
}

func (s *retryStream) RecvMsg(m any) error {
	if s.committed.Load() {
		return s.cur.RecvMsg(m)
	}
	err := s.current().RecvMsg(m)
	if err == nil || err == io.EOF {
		s.commit()
		return err
	}
	if s.committed.Load() {
		return err
	}
	return s.recover(err, m)
}

// recover runs a retry run after a failed attempt (firstErr): it opens new
// streams, replays what was sent and, when m is not nil, waits for the
// first response into m.
func (s *retryStream) recover(firstErr error, m any) error {
	first := true
	var eof bool
	err := s.ri.r.Do(s.ctx, func(context.Context) error {
		if first {
			first = false
			return s.ri.classify(s.ctx, s.ctx, firstErr, s.trailer)
		}
		s.trailer = nil
		// The stream lives in the caller's context, not the attempt's,
		// which ends when this function returns.
		cs, err := s.streamer(s.ctx, s.desc, s.cc, s.method, s.opts...)
		if err != nil {
			return s.ri.classify(s.ctx, s.ctx, err, nil)
		}
		s.replay(cs)
		if m == nil {
			return nil
		}
		err = cs.RecvMsg(m)
		if err == nil || err == io.EOF {
			eof = err == io.EOF
			s.commit()
			return nil
		}
		return s.ri.classify(s.ctx, s.ctx, err, s.trailer)
	})
	if err != nil {
		return finalStatus(s.ctx, err)
	}
	if eof {
		return io.EOF
	}
	return nil
}

// replay makes cs the current stream and sends it what the caller sent.
func (s *retryStream) replay(cs grpc.ClientStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.broken = cs, false
	for _, msg := range s.sent {
		if err := cs.SendMsg(msg); err != nil {
			s.broken = true // RecvMsg reports the status
			return
		}
	}
	if s.closeSent {
		_ = cs.CloseSend()
	}
}
