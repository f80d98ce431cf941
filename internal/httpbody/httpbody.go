// Package httpbody holds the module's HTTP body plumbing: the response-body
// wrapper that ends a permit, a lease or an attempt, and the request-body
// close a RoundTripper owes when it refuses a request.
package httpbody

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
)

// OnEnd wraps resp.Body so that end is called exactly once, at the first of:
//
//   - a Read returning io.EOF: end(outcome);
//   - a Read returning another error: end(ctx.Err()) when ctx has ended (the
//     caller gave up, which is not the server's fault), else end(that error);
//   - Close: end(outcome), also when the body was not read to its end (a
//     caller that stops reading early has not observed a failure).
//
// This one rule holds for every bulwark transport, so a permit's slot, a
// node's in-flight count and an attempt's timer all cover reading the body
// and are released by whichever of these comes first. Read and Close may
// race (Close aborts a blocked Read); end still runs once.
//
// A nil resp.Body (or http.NoBody) ends at once with outcome. The body of a
// 101 Switching Protocols response is the raw connection, an
// io.ReadWriteCloser: the wrapper keeps Write so callers can still use it.
func OnEnd(resp *http.Response, ctx context.Context, outcome error, end func(error)) {
	if resp.Body == nil || resp.Body == http.NoBody {
		end(outcome)
		return
	}
	b := &body{ReadCloser: resp.Body, ctx: ctx, outcome: outcome, end: end}
	if rw, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &rwBody{body: b, w: rw}
		return
	}
	resp.Body = b
}

type body struct {
	io.ReadCloser
	ctx     context.Context
	outcome error
	end     func(error)
	ended   atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case err == io.EOF:
		b.finish(b.outcome)
	case b.ctx.Err() != nil:
		b.finish(b.ctx.Err())
	default:
		b.finish(err)
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.finish(b.outcome)
	return err
}

func (b *body) finish(err error) {
	if b.ended.CompareAndSwap(false, true) {
		b.end(err)
	}
}

// rwBody is a body that also writes, for 101 responses.
type rwBody struct {
	*body
	w io.Writer
}

func (b *rwBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// CloseRequest closes req.Body, as a RoundTripper must when it returns
// without sending the request (the http.RoundTripper contract:
// "RoundTrip must always close the body, including on errors").
func CloseRequest(req *http.Request) {
	if req != nil && req.Body != nil {
		_ = req.Body.Close()
	}
}

// Drain reads at most limit bytes of a response body that will be discarded
// and closes it, so that its connection can be reused; a longer body is
// closed unread.
func Drain(rc io.ReadCloser, limit int64) {
	if rc == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, rc, limit)
	_ = rc.Close()
}
