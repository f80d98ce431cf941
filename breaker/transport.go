package breaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Transport is an http.RoundTripper that keeps one breaker per host (by
// default req.URL.Host) in a Group. It is safe for concurrent use.
//
// A request to a host whose breaker rejects it never reaches the network:
// RoundTrip closes the request body (as the RoundTripper contract requires)
// and returns an error wrapping the *OpenError, so errors.Is(err, ErrOpen)
// holds. Otherwise the response is classified (by default a transport error
// or a status ≥ 500 is a Failure; the caller's cancellation is ignored) and
// returned unchanged: Transport never reads or closes a response body it
// hands back.
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

// TransportOption configures NewTransport.
type TransportOption func(*Transport)

// WithClassifier sets how a round trip counts. The default is
// DefaultResponseClassify.
func WithClassifier(f func(*http.Response, error) Outcome) TransportOption {
	return func(t *Transport) { t.classify = f }
}

// WithKey sets which breaker of the group a request uses. The default is
// req.URL.Host.
func WithKey(f func(*http.Request) string) TransportOption {
	return func(t *Transport) { t.key = f }
}

// WithRetryAfterCap caps how far a Retry-After may push the end of an open
// period; 0 disables Retry-After handling. The default is 1 minute.
func WithRetryAfterCap(d time.Duration) TransportOption {
	return func(t *Transport) { t.raCap = max(d, 0) }
}

const defaultRetryAfterCap = time.Minute

// NewTransport returns a per-host breaking RoundTripper in front of next
// (nil means http.DefaultTransport), with its breakers in g (nil means a new
// Group of Config{} and GroupConfig{}).
func NewTransport(next http.RoundTripper, g *Group, opts ...TransportOption) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	if g == nil {
		g, _ = NewGroup(Config{}, GroupConfig{}) // zero configs are valid
	}
	t := &Transport{next: next, group: g, key: hostKey, classify: DefaultResponseClassify, raCap: defaultRetryAfterCap}
	for _, o := range opts {
		o(t)
	}
	return t
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
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("breaker: %s %s: %w", req.Method, key, err)
	}
	resp, err := t.next.RoundTrip(req)
	o := t.classify(resp, err)
	if o == Failure && req.Context().Err() == context.Canceled {
		o = Ignore
	}
	b.record(p, o)
	if resp != nil && t.raCap > 0 && (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			b.holdOpen(min(d, t.raCap))
		}
	}
	return resp, err
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). A date in the past is a zero wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(365*24*time.Hour/time.Second) {
			secs = int64(365 * 24 * time.Hour / time.Second) // beyond any cap; avoids overflow
		}
		return time.Duration(secs) * time.Second, true
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(when.Sub(now), 0), true
}
