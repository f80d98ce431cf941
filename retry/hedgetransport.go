package retry

import (
	"context"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/internal/httpbody"
)

// HedgeTransport is an http.RoundTripper that hedges idempotent requests:
// when a response is slow to come, it sends the request again and returns
// whichever good response arrives first. Create it with NewHedgeTransport.
// It is safe for concurrent use.
type HedgeTransport struct {
	next           http.RoundTripper
	cfg            HedgeConfig
	statuses       statusSet
	attemptTimeout time.Duration
}

// NewHedgeTransport returns a HedgeTransport that sends requests through
// next (nil means http.DefaultTransport) and hedges them as cfg says (see
// Hedge). An invalid cfg or option is an error matching ErrInvalidConfig.
// It takes WithRetryStatuses (responses with those codes lose; by default
// 429, 502, 503 and 504) and WithAttemptTimeout (each attempt's own
// deadline, covering its response body; by default none).
//
// Only requests that may be sent twice are hedged: the idempotent methods
// (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) or an Idempotency-Key header,
// with no body or a body that GetBody replays. Any other request is sent
// once.
//
// A hedged request sends its first attempt at once and another every Delay
// while no attempt has won, up to MaxHedges more (each allowed by the
// Budget, if any). An attempt wins with a response whose status is not a
// retry status; a transport error or a retry status loses. Then:
//   - the winner's response is returned with its body intact; its attempt's
//     context stays alive until the body is read to its end or closed;
//   - every other attempt is cancelled, and RoundTrip waits for each to
//     return: no goroutine outlives it, and every losing response is
//     drained (up to 64 KiB) and closed;
//   - if every attempt loses, RoundTrip returns the first-started attempt's
//     response (a retry status, nil error) or its error;
//   - if the caller's context ends first, an error matching ctx.Err() and
//     context.Cause(ctx), and no response.
func NewHedgeTransport(next http.RoundTripper, cfg HedgeConfig, opts ...Option) (*HedgeTransport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if next == nil {
		next = http.DefaultTransport
	}
	var o transportOptions
	if err := o.apply(opts); err != nil {
		return nil, err
	}
	return &HedgeTransport{next: next, cfg: cfg.normalize(), statuses: o.statuses, attemptTimeout: o.attemptTimeout}, nil
}

// RoundTrip implements http.RoundTripper.
func (t *HedgeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
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
	h := hedge[*http.Response]{
		cfg:     t.cfg,
		discard: discardResponse,
		fn: func(actx context.Context, i int) (*http.Response, error) {
			return t.attempt(actx, req, i)
		},
	}
	if t.cfg.Observer != nil {
		h.req = request{method: methodOf(req), host: req.URL.Host}
	}
	resp, cancel, err := h.run(ctx)
	if err == nil {
		httpbody.OnEnd(resp, ctx, nil, func(error) { cancel() })
		return resp, nil
	}
	if resp != nil && ctx.Err() == nil {
		// Every attempt lost; the first-started one lost with this retry
		// status, which is the answer.
		httpbody.OnEnd(resp, ctx, nil, func(error) { cancel() })
		return resp, nil
	}
	discardResponse(resp)
	cancel()
	return nil, err
}

// attempt sends hedged attempt number i (0 first) under actx. Every attempt but the first
// replays the body through GetBody: the first may use req.Body, which no
// other attempt then touches. A retry status loses: the response is
// returned with a *StatusError.
func (t *HedgeTransport) attempt(actx context.Context, req *http.Request, i int) (*http.Response, error) {
	body := req.Body
	if i > 0 && body != nil && body != http.NoBody {
		var err error
		if body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	resp, err := send(t.next, actx, req, body, t.attemptTimeout)
	if err != nil {
		return nil, err
	}
	if t.statuses.has(resp.StatusCode) {
		return resp, &StatusError{Code: resp.StatusCode, Header: resp.Header}
	}
	return resp, nil
}

func discardResponse(resp *http.Response) {
	if resp != nil {
		httpbody.Drain(resp.Body, drainLimit)
	}
}
