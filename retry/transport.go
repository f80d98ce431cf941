package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/internal/httpbody"
	"github.com/bulwark-go/bulwark/internal/retryafter"
)

// drainLimit bounds how much of a discarded response body is read so that
// its connection can be reused; a longer body is closed unread.
const drainLimit = 64 << 10

// Option configures a Transport (NewTransport) or a HedgeTransport
// (NewHedgeTransport). An invalid option makes the constructor return an
// error matching ErrInvalidConfig.
type Option func(*transportOptions) error

type transportOptions struct {
	statuses       statusSet
	attemptTimeout time.Duration
	timeoutSet     bool // WithAttemptTimeout was given
}

// statusSet is a set of HTTP status codes in [100, 599], one bit each.
type statusSet [10]uint64

func (s *statusSet) add(code int) { s[code>>6] |= 1 << (code & 63) }

func (s *statusSet) has(code int) bool {
	return code >= 0 && code < 640 && s[code>>6]&(1<<(code&63)) != 0
}

// apply fills o from the defaults and opts.
func (o *transportOptions) apply(opts []Option) error {
	for _, c := range []int{http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		o.statuses.add(c)
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return err
		}
	}
	return nil
}

// WithRetryStatuses replaces the response status codes that count as a
// failed attempt: a Transport retries them and a HedgeTransport does not let
// them win. The default is 429, 502, 503 and 504. Each code must lie in
// [100, 599]; no code at all means only transport errors fail an attempt.
func WithRetryStatuses(codes ...int) Option {
	return func(o *transportOptions) error {
		var s statusSet
		for _, c := range codes {
			if c < 100 || c > 599 {
				return configErrorf("WithRetryStatuses(%d) outside [100, 599]", c)
			}
			s.add(c)
		}
		o.statuses = s
		return nil
	}
}

// WithAttemptTimeout gives each attempt its own deadline, d after the
// attempt starts and never later than the caller's, in place of the
// Retrier's Config.AttemptTimeout; d = 0 sets none. The deadline covers the
// whole exchange, reading the response body included, until the body is
// closed or read to its end (as http.Client.Timeout does for a whole
// request). An attempt that runs out of time fails with an error matching
// ErrAttemptTimeout, which is retried like any transport error; a response
// that came in time but whose body is read too slowly fails that read with
// the context error instead (the response is already the caller's).
//
// The deadline also applies to a request that is sent only once (POST
// without Idempotency-Key, a body without GetBody). A negative d is an
// error.
func WithAttemptTimeout(d time.Duration) Option {
	return func(o *transportOptions) error {
		if d < 0 {
			return configErrorf("WithAttemptTimeout(%v) negative", d)
		}
		o.attemptTimeout, o.timeoutSet = d, true
		return nil
	}
}

// Transport is an http.RoundTripper that retries idempotent requests with a
// Retrier. Create it with NewTransport. It is safe for concurrent use.
type Transport struct {
	next           http.RoundTripper
	retrier        *Retrier
	statuses       statusSet
	attemptTimeout time.Duration
}

// NewTransport returns a Transport that sends requests through next (nil
// means http.DefaultTransport) and retries them with r. A nil r or an
// invalid option is an error matching ErrInvalidConfig.
//
// A request is retried only if it is idempotent: its method is GET, HEAD,
// OPTIONS, TRACE, PUT or DELETE, or it carries an Idempotency-Key header
// (so POST and PATCH are sent once unless keyed). A request with a body is
// retried only if it has GetBody, which replays the body; otherwise it is
// sent once. Attempts are retried on transport errors (not when the caller's
// context ended) and on the retry status codes (WithRetryStatuses); a
// Retry-After header on such a response (delay-seconds or HTTP-date, RFC
// 9110 §10.2.3) is honoured as an After hint, capped at the Backoff's Cap,
// unless a balance.Transport below has taken the node that sent it out of
// rotation for that pause (balance.Permit.Pushback): then the retry goes to
// another node after its own backoff, without waiting for the first. A
// transport error that is a local rejection by a guard below (matching
// bulwark.ErrNotAttempted) costs no Budget token and is retried at once,
// or, when it names a future moment (bulwark.RetryAt), ends the request at
// once, as Do does.
//
// Each attempt sends a clone of the request; the caller's request is never
// modified. Every response that is not returned is drained (up to 64 KiB)
// and closed before the wait. What RoundTrip returns, never a response and
// an error together:
//   - a response that is not a retry status, or a retry status that is not
//     retried (Config.Retryable said no, MaxAttempts, MaxElapsed or the
//     deadline left no room, the caller's context ended): the response,
//     unchanged, with a nil error;
//   - a retry status whose retry the Budget refused: no response (it is
//     drained and closed) and an error matching ErrBudget and a
//     *StatusError carrying the response's status code and header, so the
//     caller can tell that a retry was withheld to protect the dependency;
//   - a transport error: wrapped as Do wraps it (ErrExhausted, ErrBudget,
//     or the context's error, each also matching the cause).
func NewTransport(next http.RoundTripper, r *Retrier, opts ...Option) (*Transport, error) {
	if r == nil {
		return nil, configErrorf("NewTransport with a nil *Retrier")
	}
	if next == nil {
		next = http.DefaultTransport
	}
	var o transportOptions
	if err := o.apply(opts); err != nil {
		return nil, err
	}
	if !o.timeoutSet {
		o.attemptTimeout = r.attemptTimeout
	}
	return &Transport{next: next, retrier: r, statuses: o.statuses, attemptTimeout: o.attemptTimeout}, nil
}

// StatusError is the error a Transport attempt reports to the Retrier (and
// so to Config.Retryable and as the Err of its EventRetry) for a response with a retry
// status code. RoundTrip returns it only inside an ErrBudget error (or a
// context error); otherwise it returns the response.
type StatusError struct {
	Code   int
	Header http.Header // the response's header (Retry-After, ...)
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("retry: HTTP status %d %s", e.Code, http.StatusText(e.Code))
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !idempotent(req) {
		if t.attemptTimeout > 0 {
			return send(t.next, req.Context(), req, req.Body, t.attemptTimeout)
		}
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	if ctx.Err() != nil {
		httpbody.CloseRequest(req)
		return nil, ctxStop(ctx, nil, 0, "")
	}
	var last *http.Response
	first := true
	attempt := func(context.Context) error {
		body := req.Body
		if !first && req.Body != nil && req.Body != http.NoBody {
			var err error
			if body, err = req.GetBody(); err != nil {
				return Permanent(fmt.Errorf("retry: GetBody: %w", err))
			}
		}
		first = false
		resp, err := send(t.next, ctx, req, body, t.attemptTimeout)
		if err != nil {
			return err
		}
		last = resp
		if !t.statuses.has(resp.StatusCode) {
			return nil
		}
		serr := &StatusError{Code: resp.StatusCode, Header: resp.Header}
		if retryafter.Held(resp) {
			return serr // a balancer below holds the node; the retry goes elsewhere
		}
		if d, ok := retryafter.Parse(resp.Header.Get("Retry-After"), time.Now()); ok {
			return After(serr, d)
		}
		return serr
	}
	discard := func() {
		if last != nil {
			httpbody.Drain(last.Body, drainLimit)
			last = nil
		}
	}
	r := t.retrier
	r.calls.Add()
	err := attempt(ctx)
	var tag request
	if r.obs.Enabled() {
		tag = request{method: methodOf(req), host: req.URL.Host}
	}
	if err == nil {
		if r.budget != nil {
			r.success()
		}
		if r.obs.Enabled() {
			r.emit(tag, Event{Kind: EventSuccess, Attempt: 1})
		}
		return last, nil
	}
	err = r.retry(ctx, attempt, err, discard, 0, tag)
	if last == nil {
		return nil, err
	}
	if errors.Is(err, ErrBudget) {
		discard()
		return nil, err
	}
	// A retry status with no retry left (or not retryable by Config): the
	// response itself, which the caller must close.
	return last, nil
}

// send sends one attempt: a clone of req under ctx with body, through next.
// With timeout > 0 the attempt has its own deadline, which covers the
// response body until it ends (httpbody.OnEnd: EOF, read error or Close);
// an attempt that runs out of it fails with ErrAttemptTimeout.
func send(next http.RoundTripper, ctx context.Context, req *http.Request, body io.ReadCloser, timeout time.Duration) (*http.Response, error) {
	if timeout <= 0 {
		out := req.Clone(ctx)
		out.Body = body
		return next.RoundTrip(out)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	out := req.Clone(actx)
	out.Body = body
	resp, err := next.RoundTrip(out)
	if err != nil {
		timedOut := ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		if timedOut {
			return nil, attemptTimeout(timeout, err)
		}
		return nil, err
	}
	httpbody.OnEnd(resp, actx, nil, func(error) { cancel() })
	return resp, nil
}

// methodOf returns req's method, "" meaning GET.
func methodOf(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// idempotent reports whether req may be sent more than once: an idempotent
// method (RFC 9110 §9.2.2) or an Idempotency-Key, and a body that GetBody
// can replay.
func idempotent(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != ""
}
