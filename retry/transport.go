package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// drainLimit bounds how much of a discarded response body is read so that
// its connection can be reused; a longer body is closed unread.
const drainLimit = 64 << 10

// Transport is an http.RoundTripper that retries idempotent requests with a
// Retrier. Create it with NewTransport. It is safe for concurrent use.
type Transport struct {
	next           http.RoundTripper
	retrier        *Retrier
	statuses       map[int]bool
	attemptTimeout time.Duration
}

// TransportOption configures a Transport.
type TransportOption func(*Transport)

// RetryStatuses replaces the response status codes that are retried (by
// default 429, 502, 503 and 504).
func RetryStatuses(codes ...int) TransportOption {
	return func(t *Transport) {
		t.statuses = make(map[int]bool, len(codes))
		for _, c := range codes {
			t.statuses[c] = true
		}
	}
}

// ErrAttemptTimeout marks the error of an attempt that ran out of the time
// WithAttemptTimeout gives it. Such an error also matches
// context.DeadlineExceeded, yet it is retried by default: only the caller's
// own context ending stops the loop.
var ErrAttemptTimeout = errors.New("retry: attempt timed out")

// WithAttemptTimeout gives each attempt its own deadline, d after the attempt
// starts (and never later than the caller's). The deadline covers the whole
// exchange, reading the response body included, until the body is closed or
// read to its end, as http.Client.Timeout does for a whole request. An
// attempt that runs out of time fails with an error matching
// ErrAttemptTimeout, which is retried like any transport error; a response
// that returned in time but whose body is read too slowly fails that read
// with the context error instead (the response is already the caller's).
//
// The deadline also applies to a request that is sent only once (POST
// without Idempotency-Key, a body without GetBody). d = 0 (the default) sets
// no per-attempt deadline. A negative d is an error:
// every RoundTrip then fails with an error naming the value.
func WithAttemptTimeout(d time.Duration) TransportOption {
	return func(t *Transport) { t.attemptTimeout = d }
}

// NewTransport returns a Transport that sends requests through next (nil
// means http.DefaultTransport) and retries them with r (nil means a Retrier
// with the default Config).
//
// A request is retried only if it is idempotent: its method is GET, HEAD,
// OPTIONS, TRACE, PUT or DELETE, or it carries an Idempotency-Key header
// (so POST and PATCH are sent once unless keyed). A request with a body is
// retried only if it has GetBody, which replays the body; otherwise it is
// sent once. Attempts are retried on transport errors (not when the caller's
// context ended) and on the retry status codes; a Retry-After header on such
// a response (delta-seconds or HTTP-date) is honoured as an After hint,
// capped at the Backoff's Cap.
//
// Each attempt sends a clone of the request; the caller's request is never
// modified. Every response that is not returned is drained (up to 64 KiB)
// and closed before the wait. When attempts run out on a retry status, the
// last response is returned unchanged with a nil error, as the
// http.RoundTripper contract asks; a transport error is returned wrapped as
// Do wraps it (matching ErrExhausted and the cause).
func NewTransport(next http.RoundTripper, r *Retrier, opts ...TransportOption) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	if r == nil {
		r, _ = New(Config{}) // the zero Config is valid
	}
	t := &Transport{next: next, retrier: r}
	RetryStatuses(http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout)(t)
	for _, o := range opts {
		o(t)
	}
	return t
}

// StatusError is the error a Transport attempt reports to the Retrier (and
// so to Config.Retryable and Config.OnRetry) for a response with a retry
// status code. RoundTrip itself never returns it: it returns the response.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("retry: HTTP status %d %s", e.Code, http.StatusText(e.Code))
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.attemptTimeout < 0 {
		if req.Body != nil {
			_ = req.Body.Close() // the RoundTripper contract, even on error
		}
		return nil, fmt.Errorf("retry: WithAttemptTimeout %v must be >= 0", t.attemptTimeout)
	}
	if !t.retriable(req) {
		if t.attemptTimeout > 0 {
			return t.send(req.Context(), req, req.Body)
		}
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	var last *http.Response
	first := true
	attempt := func() error {
		body := req.Body
		if !first && req.Body != nil && req.Body != http.NoBody {
			var err error
			if body, err = req.GetBody(); err != nil {
				return Permanent(fmt.Errorf("retry: GetBody: %w", err))
			}
		}
		first = false
		resp, err := t.send(ctx, req, body)
		if err != nil {
			return err
		}
		last = resp
		if !t.statuses[resp.StatusCode] {
			return nil
		}
		serr := &StatusError{Code: resp.StatusCode}
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return After(serr, d)
		}
		return serr
	}
	discard := func() {
		if last != nil {
			drainClose(last.Body)
			last = nil
		}
	}
	r := t.retrier
	r.calls.Add(1)
	err := attempt()
	if err == nil {
		if r.budget != nil {
			r.budget.Success()
		}
		return last, nil
	}
	err = r.retry(ctx, func(context.Context) error { return attempt() }, err, discard)
	if last != nil {
		// A retry status with no retry left (or not retryable by Config):
		// the response itself, which the caller must close.
		return last, nil
	}
	return nil, err
}

// send sends one attempt through next: a clone of req with body, under the
// per-attempt deadline if one is set.
func (t *Transport) send(ctx context.Context, req *http.Request, body io.ReadCloser) (*http.Response, error) {
	if t.attemptTimeout <= 0 {
		out := req.Clone(ctx)
		out.Body = body
		return t.next.RoundTrip(out)
	}
	actx, cancel := context.WithTimeout(ctx, t.attemptTimeout)
	out := req.Clone(actx)
	out.Body = body
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		timedOut := ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		if timedOut {
			return nil, fmt.Errorf("%w after %v: %w", ErrAttemptTimeout, t.attemptTimeout, err)
		}
		return nil, err
	}
	if resp.Body == nil {
		cancel()
		return resp, nil
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody ends an attempt's context when its body is closed or read to
// its end, so the attempt deadline covers reading the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.cancel()
	}
	return n, err
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (t *Transport) retriable(req *http.Request) bool {
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

func drainClose(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, drainLimit)
	_ = body.Close()
}
