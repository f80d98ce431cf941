package balance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/internal/httpbody"
	"github.com/bulwark-go/bulwark/internal/retryafter"
)

// ErrServerStatus is the error a Transport reports to Permit.Done for a
// response with status ≥ 500 (the caller still receives the response).
var ErrServerStatus = errors.New("balance: server error status")

// Transport is client-side load balancing for http.Client: each request goes
// to a node chosen by a Picker. It is an http.RoundTripper, safe for
// concurrent use.
type Transport[N comparable] struct {
	next   http.RoundTripper
	pick   func(*http.Request) (Permit[N], error)
	target func(u *url.URL, node N)
	raCap  time.Duration // WithRetryAfterCap; 0 ignores Retry-After
}

// Option configures NewTransport and NewURLTransport.
type Option func(*options)

type options struct {
	key      func(*http.Request) string
	keySet   bool
	raCap    time.Duration
	raCapSet bool
}

// defaultRetryAfterCap bounds the pause a Retry-After may ask of a node.
const defaultRetryAfterCap = time.Minute

// WithKey routes every request by key(req) through the picker's PickKey
// (the picker must be a KeyPicker, such as Consistent): requests with the
// same key go to the same node while loads are balanced. Without it a
// Consistent picker gets random keys (bounded-load spreading, no affinity).
// A nil key, or a picker without PickKey, is an error of NewTransport.
func WithKey(key func(req *http.Request) string) Option {
	return func(o *options) { o.key, o.keySet = key, true }
}

// WithRetryAfterCap bounds the pause a node may ask for with Retry-After on
// a 503 or 429 response (see Permit.Pushback); the pause is also capped by
// the picker's Config.MaxEjectFor. 0 ignores Retry-After: such a response
// is then an ordinary failure (503) or success (429). The default is 1
// minute; a negative cap is an error of NewTransport.
func WithRetryAfterCap(d time.Duration) Option {
	return func(o *options) { o.raCap, o.raCapSet = d, true }
}

// NewTransport returns a RoundTripper that sends each request to a node of
// p, where nodes are "host:port" strings: it picks a node, sends a clone of
// the request with URL.Host set to the node (scheme, path and query kept;
// the Host header too if the caller set req.Host, otherwise it follows the
// node), and ends the Permit at the first of EOF, a read error or Close of
// the response body, so the node's load and latency include the body read.
//
// Outcomes: transport errors and statuses ≥ 500 are failures; a request
// whose context was cancelled by the caller is neither success nor
// failure, while an expired context deadline counts as a failure (the node
// was too slow for the caller); an error from next that matches
// bulwark.ErrNotAttempted (an open breaker below, say) makes the node
// unavailable until bulwark.RetryAt(err), or for Config.UnavailableFor, and
// the request goes to another node at once (see RoundTrip). A 503 or 429
// response with Retry-After ejects its node for the pause it asks
// (Permit.Pushback, capped by WithRetryAfterCap and Config.MaxEjectFor) and
// is returned marked, so that a retry.Transport above goes elsewhere rather
// than wait. When no node can be picked,
// RoundTrip closes the request body and returns the Pick error
// (ErrNoNodes; an *UnavailableError when every node is unavailable, whose
// RetryAt says when one returns).
//
// The nesting order, outside in, is retry → bulkhead → balance → breaker:
//
//	rt := breaker.NewTransport(network, breakers) // one breaker per host
//	rt = balance.NewTransport(rt, picker)          // picks the host
//	rt = bulkhead.NewTransport(rt, limit)          // bounds the whole client
//	rt = retry.NewTransport(rt, retrier)           // each attempt picks anew
//
// Retry is outermost so that each attempt goes through the balancer again
// and lands on a fresh node; the bulkhead bounds the client's concurrency
// whatever the node. The breaker goes below the balancer because a
// per-host breaker keys on the request's host, and only below the balancer
// is that the picked node: above it every request still carries the
// service's name ("backend"), so the breakers would be one breaker for the
// whole fleet, opened by one bad node and then refusing calls to the good
// ones. Below the balancer each node's breaker sees only that node's calls,
// and its rejections reach the balancer through the error, which takes the
// node out of the rotation until the breaker's open period ends.
//
// next nil means http.DefaultTransport. A nil p or an invalid option is an
// error matching ErrInvalidConfig. With a Consistent picker, requests go
// through Pick (random key, bounded load) unless WithKey is given.
func NewTransport(next http.RoundTripper, p Picker[string], opts ...Option) (*Transport[string], error) {
	return newTransport(next, p, func(u *url.URL, node string) { u.Host = node }, "NewTransport", opts)
}

// NewURLTransport is NewTransport for nodes given as base URLs: the request
// takes the node's scheme and host (its path is not joined).
func NewURLTransport(next http.RoundTripper, p Picker[*url.URL], opts ...Option) (*Transport[*url.URL], error) {
	return newTransport(next, p, func(u *url.URL, node *url.URL) {
		u.Scheme, u.Host = node.Scheme, node.Host
	}, "NewURLTransport", opts)
}

func newTransport[N comparable](next http.RoundTripper, p Picker[N], target func(*url.URL, N), name string, opts []Option) (*Transport[N], error) {
	if isNil(p) {
		return nil, configErrorf("%s picker is nil", name)
	}
	var o options
	for _, opt := range opts {
		if opt == nil {
			return nil, configErrorf("%s option is nil", name)
		}
		opt(&o)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	t := &Transport[N]{next: next, target: target, raCap: defaultRetryAfterCap}
	if o.raCapSet {
		if o.raCap < 0 {
			return nil, configErrorf("WithRetryAfterCap(%v) negative", o.raCap)
		}
		t.raCap = o.raCap
	}
	switch {
	case !o.keySet:
		t.pick = func(*http.Request) (Permit[N], error) { return p.Pick() }
	case o.key == nil:
		return nil, configErrorf("WithKey(nil): the key function is nil")
	default:
		kp, ok := p.(KeyPicker[N])
		if !ok {
			return nil, configErrorf("WithKey: picker %T has no PickKey", p)
		}
		key := o.key
		t.pick = func(req *http.Request) (Permit[N], error) { return kp.PickKey(key(req)) }
	}
	return t, nil
}

// isNil reports whether p is nil or a nil pointer in an interface.
func isNil(p any) bool {
	if p == nil {
		return true
	}
	v := reflect.ValueOf(p)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// maxRefusals bounds how many nodes one RoundTrip tries after local
// rejections. Each refused node is held unavailable, so the picks move on and
// end with an *UnavailableError once every node is held; the bound only
// guards against holds that expire while the loop runs.
const maxRefusals = 16

// RoundTrip implements http.RoundTripper. If no node can be picked it
// closes the request body and returns the Pick error.
//
// When a guard below refuses the request locally (an error matching
// bulwark.ErrNotAttempted: nothing reached the network), the node is held
// unavailable and the request goes to another node within the same
// RoundTrip, provided its body can be replayed (no body, or GetBody). So a
// retry layer above sees a node's open breaker neither as a failed attempt
// nor as a reason to wait: only when every node refuses does it get the
// *UnavailableError, whose RetryAt names the earliest return.
func (t *Transport[N]) RoundTrip(req *http.Request) (*http.Response, error) {
	body := req.Body
	for refused := 0; ; refused++ {
		permit, err := t.pick(req)
		if err != nil {
			if body != nil {
				_ = body.Close()
			}
			return nil, fmt.Errorf("balance: %s %s: %w", req.Method, req.URL.Redacted(), err)
		}
		resp, err := t.send(req, body, permit)
		if err == nil || refused == maxRefusals || !errors.Is(err, bulwark.ErrNotAttempted) || req.Context().Err() != nil {
			return resp, err
		}
		if body, err = rewind(req, err); err != nil {
			return nil, err
		}
	}
}

// rewind returns a fresh copy of req's body for another node after a local
// rejection (which closed the previous one), or refused when the body cannot
// be replayed.
func rewind(req *http.Request, refused error) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	if req.GetBody == nil {
		return nil, refused
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("balance: %s %s: replaying the body for another node: %w", req.Method, req.URL.Redacted(), err)
	}
	return body, nil
}

// send sends one copy of req, with body, to the permit's node and ends the
// permit with the outcome.
func (t *Transport[N]) send(req *http.Request, body io.ReadCloser, permit Permit[N]) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = body
	t.target(out.URL, permit.Node)
	if req.Host == "" || req.Host == req.URL.Host {
		out.Host = ""
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		outcome := err
		if cerr := req.Context().Err(); cerr != nil {
			outcome = cerr // the caller's cancellation is not the node's fault
		}
		permit.Done(outcome)
		return nil, err
	}
	var outcome error
	if resp.StatusCode >= 500 {
		outcome = ErrServerStatus
	}
	t.pushback(resp, out, &permit)
	httpbody.OnEnd(resp, req.Context(), outcome, permit.Done)
	return resp, nil
}

// pushback honours a 503 or 429 response's Retry-After by taking the node
// out of rotation for the pause it asks (Permit.Pushback), and marks the
// response so that a retry layer above goes elsewhere instead of waiting.
func (t *Transport[N]) pushback(resp *http.Response, out *http.Request, permit *Permit[N]) {
	if t.raCap == 0 || (resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests) {
		return
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return
	}
	d, ok := retryafter.Parse(v, time.Now())
	if ok && permit.Pushback(min(d, t.raCap)) {
		retryafter.MarkHeld(resp, out)
	}
}
