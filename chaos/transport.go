package chaos

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/internal/httpbody"
)

// Transport is an http.RoundTripper that injects faults into the requests
// it sends: client-side chaos. Create it with NewTransport. It is safe for
// concurrent use.
type Transport struct {
	next      http.RoundTripper
	injectors []*Injector
}

// NewTransport returns a Transport that sends requests through next (nil
// means http.DefaultTransport) after the injectors, in order, have had their
// say. For each request, each switched-on Injector decides on its own
// whether its fault strikes: Latency waits and passes the request on,
// Truncate lets it through and cuts the response body, and Error, Status,
// Reset and Hang end the request there, so the injectors after them do not
// see it. When several Truncate faults strike, the shortest cut wins.
//
// A request ended by a fault is never sent; its body is closed, as the
// http.RoundTripper contract asks. The caller's request is never modified.
//
// At least one injector is required, and none may be nil; the error
// matches ErrInvalidConfig.
func NewTransport(next http.RoundTripper, injectors ...*Injector) (*Transport, error) {
	if err := checkInjectors("NewTransport", injectors); err != nil {
		return nil, err
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &Transport{next: next, injectors: injectors}, nil
}

func checkInjectors(fn string, injectors []*Injector) error {
	if len(injectors) == 0 {
		return configErrorf("%s without an Injector", fn)
	}
	for i, in := range injectors {
		if in == nil {
			return configErrorf("%s injector %d is nil", fn, i)
		}
	}
	return nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cut := int64(-1) // the shortest Truncate that struck, or -1
	for _, in := range t.injectors {
		if !in.on.Load() {
			continue
		}
		d, ok := in.strike(req.Context(), req)
		if !ok {
			continue
		}
		switch in.fault.kind {
		case kindLatency:
			if err := in.wait(req.Context(), d); err != nil {
				httpbody.CloseRequest(req)
				return nil, err
			}
		case kindTruncate:
			if cut < 0 || in.fault.n < cut {
				cut = in.fault.n
			}
		case kindHang:
			err := in.hang(req.Context())
			httpbody.CloseRequest(req)
			return nil, err
		case kindStatus:
			httpbody.CloseRequest(req)
			return statusResponse(in.fault, req), nil
		default: // Error, Reset
			httpbody.CloseRequest(req)
			return nil, in.err
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || cut < 0 {
		return resp, err
	}
	truncate(resp, cut)
	return resp, nil
}

// statusResponse is the response a Status fault answers with, as if from the
// server: status line, Retry-After, a short text body.
func statusResponse(f Fault, req *http.Request) *http.Response {
	text := f.statusText()
	h := http.Header{
		"Content-Type":   {"text/plain; charset=utf-8"},
		"Content-Length": {strconv.Itoa(len(text))},
	}
	if f.retryAfter > 0 {
		h["Retry-After"] = []string{strconv.FormatInt(int64(f.retryAfter/time.Second), 10)}
	}
	var body io.ReadCloser = http.NoBody
	if req.Method != http.MethodHead {
		body = io.NopCloser(strings.NewReader(text))
	}
	return &http.Response{
		Status:        strconv.Itoa(f.code) + " " + http.StatusText(f.code),
		StatusCode:    f.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          body,
		ContentLength: int64(len(text)),
		Request:       req,
	}
}

// truncate cuts resp's body after n bytes, unless it is known to be no
// longer than n.
func truncate(resp *http.Response, n int64) {
	if resp.Body == nil || resp.Body == http.NoBody || (resp.ContentLength >= 0 && resp.ContentLength <= n) {
		return
	}
	resp.Body = &truncatedBody{rc: resp.Body, left: n}
}

// truncatedBody passes through the first left bytes of rc; then it reports
// io.ErrUnexpectedEOF (with ErrInjected) if rc had more, io.EOF if not, so a
// body that fits is untouched. Like the body it wraps, it is read by one
// goroutine at a time; Close may come from another.
type truncatedBody struct {
	rc   io.ReadCloser
	left int64
	end  error // sticky result once left is spent and the probe has run
}

func (b *truncatedBody) Read(p []byte) (int, error) {
	if b.end != nil {
		return 0, b.end
	}
	if b.left == 0 {
		b.end = b.probe()
		return 0, b.end
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if err != nil {
		b.end = err
	}
	return n, err
}

// probe reads one byte past the cut to learn whether the body went on.
func (b *truncatedBody) probe() error {
	var one [1]byte
	for {
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return errTruncated
		}
		if err != nil {
			return err // io.EOF: the body fitted
		}
	}
}

func (b *truncatedBody) Close() error { return b.rc.Close() }

// CloseIdleConnections closes the idle connections of the wrapped
// RoundTripper, if it has any (http.Client.CloseIdleConnections calls it).
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
