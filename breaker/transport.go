package breaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/internal/httpbody"
	"github.com/bulwark-go/bulwark/internal/retryafter"
)

// Transport is an http.RoundTripper that keeps one breaker per host (by
// default req.URL.Host) in a Group. It is safe for concurrent use.
//
// A request to a host whose breaker rejects it never reaches the network:
// RoundTrip closes the request body (as the RoundTripper contract requires)
// and returns an error wrapping the *OpenError, so errors.Is(err, ErrOpen)
// and errors.Is(err, bulwark.ErrNotAttempted) hold and bulwark.RetryAt(err)
// returns the end of the open period. Otherwise the response is classified
// (by default a transport error or a status ≥ 500 is a Failure; the caller's
// cancellation is ignored; a panic in the next RoundTripper is a Failure and
// goes on) and returned unchanged: Transport never reads or closes a
// response body it hands back. The outcome is recorded when the response
// headers arrive.
//
// Retry-After: when a 503 or 429 response carries Retry-After (seconds or an
// HTTP date) and the breaker is Open after recording it, the open period is
// lengthened to end no earlier than the server asked, capped by
// WithRetryAfterCap (default 1 minute). It never shortens an open period and
// never trips a breaker by itself.
type Transport struct {
	next     http.RoundTripper
	group    *Group
	key      func(*http.Request) string
	classify func(*http.Response, error) Outcome
	raCap    time.Duration
}

// Option configures NewTransport. An invalid option makes NewTransport
// return an error.
type Option func(*Transport) error

// WithClassifier sets how a round trip counts. The default is
// DefaultResponseClassify.
func WithClassifier(f func(*http.Response, error) Outcome) Option {
	return func(t *Transport) error {
		if f == nil {
			return configErrorf("WithClassifier(nil): a nil classifier")
		}
		t.classify = f
		return nil
	}
}

// WithKey sets which breaker of the group a request uses. The default is
// req.URL.Host.
func WithKey(f func(*http.Request) string) Option {
	return func(t *Transport) error {
		if f == nil {
			return configErrorf("WithKey(nil): a nil key function")
		}
		t.key = f
		return nil
	}
}

// WithRetryAfterCap caps how far a Retry-After may push the end of an open
// period; 0 disables Retry-After handling. The default is 1 minute. A
// negative cap is an error.
func WithRetryAfterCap(d time.Duration) Option {
	return func(t *Transport) error {
		if d < 0 {
			return configErrorf("WithRetryAfterCap(%v) negative", d)
		}
		t.raCap = d
		return nil
	}
}

const defaultRetryAfterCap = time.Minute

// NewTransport returns a per-host breaking RoundTripper in front of next
// (nil means http.DefaultTransport), with its breakers in group. A nil group
// or an invalid option is an error matching ErrInvalidConfig.
//
// Where it goes in a stack: innermost, below the balancing transport. A
// client that retries, bounds its concurrency and balances over a fleet
// nests them as
//
//	retry → bulkhead → balance → breaker → network
//
// because the group keys its breakers by the request's host. Below the
// balancer each request carries the backend the balancer picked, so each
// backend has its own breaker and one failing backend is cut off while the
// others keep serving. Above the balancer the request still carries the
// service's logical host, so the group would key one breaker for the whole
// fleet: one bad backend would open it for all. And below the balancer, a
// rejection by an open breaker (which matches bulwark.ErrNotAttempted and
// says when the breaker admits again) is what lets the balancer pick
// another backend and a retry not pay for an attempt that never happened.
func NewTransport(next http.RoundTripper, group *Group, opts ...Option) (*Transport, error) {
	if group == nil {
		return nil, configErrorf("NewTransport group nil: want a *Group from NewGroup")
	}
	if next == nil {
		next = http.DefaultTransport
	}
	t := &Transport{next: next, group: group, key: hostKey, classify: DefaultResponseClassify, raCap: defaultRetryAfterCap}
	for _, o := range opts {
		if o == nil {
			return nil, configErrorf("NewTransport: a nil Option")
		}
		if err := o(t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func hostKey(r *http.Request) string { return r.URL.Host }

// DefaultResponseClassify counts a transport error or a status ≥ 500 as a
// Failure, a cancelled request as Ignore, and anything else as Success.
func DefaultResponseClassify(resp *http.Response, err error) Outcome {
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		return Ignore
	case err != nil, resp == nil:
		return Failure
	case resp.StatusCode >= 500:
		return Failure
	}
	return Success
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := t.key(req)
	b := t.group.Get(key)
	p, err := b.Allow()
	if err != nil {
		httpbody.CloseRequest(req)
		return nil, fmt.Errorf("breaker: %s %s: %w", req.Method, key, err)
	}
	defer p.donePanicked()
	resp, err := t.next.RoundTrip(req)
	o := t.classify(resp, err)
	if o == Failure && req.Context().Err() == context.Canceled {
		o = Ignore
	}
	b.record(p.take(), o, err)
	if resp != nil && t.raCap > 0 && (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) {
		if d, ok := retryafter.Parse(resp.Header.Get("Retry-After"), time.Now()); ok {
			b.holdOpen(min(d, t.raCap))
		}
	}
	return resp, err
}
