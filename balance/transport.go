package balance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
)

// ErrServerStatus is the error a Transport reports to Lease.Done for a
// response with status ≥ 500 (the caller still receives the response).
var ErrServerStatus = errors.New("balance: server error status")

// Transport is client-side load balancing for http.Client: each request goes
// to a node chosen by a Picker. It is an http.RoundTripper, safe for
// concurrent use.
type Transport[N comparable] struct {
	next   http.RoundTripper
	picker Picker[N]
	target func(u *url.URL, node N)
}

// NewTransport returns a RoundTripper that sends each request to a node of
// p, where nodes are "host:port" strings: it picks a node, sends a clone of
// the request with URL.Host set to the node (scheme, path and query kept;
// the Host header too if the caller set req.Host, otherwise it follows the
// node), and ends the Lease when the response body is read to EOF or closed,
// so the node's load and latency include the body read. Transport errors and
// statuses ≥ 500 are failures; a request whose context was cancelled by the
// caller is neither, while an expired context deadline counts as a failure
// (the node was too slow for the caller). next nil means http.DefaultTransport.
//
// With a Consistent picker, requests go through Pick (random key, bounded
// load); use PickKey directly for affinity.
func NewTransport(next http.RoundTripper, p Picker[string]) *Transport[string] {
	return newTransport(next, p, func(u *url.URL, node string) { u.Host = node })
}

// NewURLTransport is NewTransport for nodes given as base URLs: the request
// takes the node's scheme and host (its path is not joined).
func NewURLTransport(next http.RoundTripper, p Picker[*url.URL]) *Transport[*url.URL] {
	return newTransport(next, p, func(u *url.URL, node *url.URL) {
		u.Scheme, u.Host = node.Scheme, node.Host
	})
}

func newTransport[N comparable](next http.RoundTripper, p Picker[N], target func(*url.URL, N)) *Transport[N] {
	if next == nil {
		next = http.DefaultTransport
	}
	return &Transport[N]{next: next, picker: p, target: target}
}

// RoundTrip implements http.RoundTripper. If no node can be picked it
// closes the request body and returns the Pick error (ErrNoNodes).
func (t *Transport[N]) RoundTrip(req *http.Request) (*http.Response, error) {
	lease, err := t.picker.Pick()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("balance: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	out := req.Clone(req.Context())
	t.target(out.URL, lease.Node)
	if req.Host == "" || req.Host == req.URL.Host {
		out.Host = ""
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		if cerr := req.Context().Err(); cerr != nil {
			err = cerr // the caller's cancellation is not the node's fault
		}
		lease.Done(err)
		return nil, err
	}
	var outcome error
	if resp.StatusCode >= 500 {
		outcome = ErrServerStatus
	}
	resp.Body = &leaseBody[N]{ReadCloser: resp.Body, lease: lease, outcome: outcome, req: req}
	return resp, nil
}

// leaseBody ends the Lease at the first of EOF, a read error or Close.
// Read and Close may race (Close aborts a Read), hence the atomic flag.
type leaseBody[N comparable] struct {
	io.ReadCloser
	lease   Lease[N]
	outcome error
	req     *http.Request
	done    atomic.Bool
}

func (b *leaseBody[N]) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.finish(b.outcome)
	case err != nil:
		if cerr := b.req.Context().Err(); cerr != nil {
			b.finish(cerr)
		} else {
			b.finish(err)
		}
	}
	return n, err
}

func (b *leaseBody[N]) Close() error {
	err := b.ReadCloser.Close()
	b.finish(b.outcome)
	return err
}

func (b *leaseBody[N]) finish(err error) {
	if b.done.CompareAndSwap(false, true) {
		b.lease.Done(err)
	}
}
