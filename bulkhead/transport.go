package bulkhead

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/bulwark-go/bulwark/internal/httpbody"
)

// Transport is an http.RoundTripper that admits each request through a
// Limiter before sending it: client-side concurrency limiting. Build it with
// NewTransport.
//
// A request holds its Permit from admission until its response ends: the
// first of the body read to EOF, a read error and Close (or the round trip
// failing), so a caller that reads bodies slowly is limited too. A response
// whose status is one of the drop statuses (by default 429 and 503: the
// server says it is overloaded) finishes the Permit with Dropped, so an
// Adaptive limiter lowers its limit; any other response finishes it with
// Done(nil), a latency sample.
//
// A rejected request fails with an error wrapping the rejection
// (errors.Is(err, ErrRejected) and errors.Is(err, bulwark.ErrNotAttempted)
// hold, and bulwark.RetryAt finds a rate limiter's next admission) without
// touching the network, and its body is closed as the RoundTripper contract
// requires. The request is never modified.
//
// A Transport is safe for concurrent use.
type Transport struct {
	next       http.RoundTripper
	limiter    Limiter
	dropStatus []int
}

// TransportOption configures a Transport; see NewTransport.
type TransportOption func(*Transport) error

// WithDropStatus sets the response status codes that finish a request's
// Permit as dropped (an overload signal for an Adaptive limiter) instead of
// as a sample. Each code must lie in [100, 599]. The default is 429 Too Many
// Requests and 503 Service Unavailable; WithDropStatus() with no code makes
// every response a sample.
func WithDropStatus(codes ...int) TransportOption {
	return func(t *Transport) error {
		for _, c := range codes {
			if c < 100 || c > 599 {
				return configErrorf("WithDropStatus(%d) outside [100,599]", c)
			}
		}
		t.dropStatus = slices.Clone(codes)
		return nil
	}
}

// NewTransport returns a Transport sending the requests l admits through
// next. A nil next means http.DefaultTransport; a nil l is an error wrapping
// ErrInvalidConfig, as is an invalid option.
func NewTransport(next http.RoundTripper, l Limiter, opts ...TransportOption) (*Transport, error) {
	if next == nil {
		next = http.DefaultTransport
	}
	if nilLimiter(l) {
		return nil, configErrorf("NewTransport limiter is nil")
	}
	t := &Transport{next: next, limiter: l, dropStatus: []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}}
	for _, opt := range opts {
		if err := opt(t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// errDropStatus is the outcome handed to httpbody.OnEnd for a response with
// a drop status: the Permit ends with Dropped.
var errDropStatus = errors.New("bulkhead: drop status")

// RoundTrip admits req and sends it through the next RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, err := t.limiter.Acquire(req.Context())
	if err != nil {
		httpbody.CloseRequest(req)
		return nil, fmt.Errorf("bulkhead: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		p.Done(err)
		return nil, err
	}
	var outcome error
	if slices.Contains(t.dropStatus, resp.StatusCode) {
		outcome = errDropStatus
	}
	httpbody.OnEnd(resp, req.Context(), outcome, func(err error) {
		if err == errDropStatus {
			p.Dropped()
			return
		}
		p.Done(err)
	})
	return resp, nil
}
