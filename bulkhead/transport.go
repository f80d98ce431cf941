package bulkhead

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// Transport is an http.RoundTripper that admits each request through a
// Limiter before sending it: client-side concurrency limiting. A request is
// counted in flight from admission until its response body is closed (or the
// round trip fails), so a caller that reads bodies slowly is limited too.
//
// A Transport is safe for concurrent use.
type Transport struct {
	next    http.RoundTripper
	limiter Limiter
}

// NewTransport returns a Transport sending admitted requests through next
// (nil means http.DefaultTransport).
func NewTransport(next http.RoundTripper, l Limiter) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	return &Transport{next: next, limiter: l}
}

// RoundTrip admits req and sends it through the next RoundTripper. A rejected
// request returns an error wrapping the rejection (errors.Is(err,
// ErrRejected)) without touching the network, and its body is closed as the
// RoundTripper contract requires. The request is not modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, err := t.limiter.Admit(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("bulkhead: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		p.Done(err)
		return nil, err
	}
	if resp.Body == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		// A 101 body is the raw connection (an io.ReadWriteCloser that must
		// not be wrapped); its lifetime is not a request's, so the permit
		// ends with the handshake.
		p.Done(nil)
		return resp, nil
	}
	resp.Body = &permitBody{ReadCloser: resp.Body, permit: p}
	return resp, nil
}

// permitBody finishes the permit when the response body is closed, once.
type permitBody struct {
	io.ReadCloser
	permit Permit
	closed atomic.Bool
}

func (b *permitBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.permit.Done(nil)
	}
	return err
}
