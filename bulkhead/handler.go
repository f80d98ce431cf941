package bulkhead

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwark-go/bulwark"
)

// shedBody is the short text body of a 503 sent by Handler.
const shedBody = "503 service overloaded, retry later\n"

// Handler is an http.Handler that admits each request through a Limiter
// before running the next handler: server-side load shedding. Build it with
// NewHandler.
//
// A rejected request gets 503 Service Unavailable with a Retry-After header
// and a short text body, and the next handler never runs for it. A request
// whose context has already ended is answered the same way (the client is
// gone). The Permit is finished when the next handler returns: with the
// request context's error, so a finished request is a latency sample, a
// request whose deadline passed a drop and a cancelled one ignored (see
// Permit.Done). If the next handler panics the Permit is finished as ignored
// and the panic goes on.
//
// A Handler is safe for concurrent use.
type Handler struct {
	next       http.Handler
	limiter    Limiter
	retryAfter time.Duration
}

// HandlerOption configures a Handler; see NewHandler.
type HandlerOption func(*Handler) error

// WithRetryAfter sets the Retry-After of a shed request when the limiter
// cannot say when it will admit again; d must be a whole number of seconds,
// at least 1 s (the header counts whole seconds). The default is 1 s: a
// limiter that sheds frees a slot within about one service time, so the
// header's smallest value is long enough to spread retries and short enough
// not to idle a recovered server. A rate-limited rejection that knows its
// next admission (a *RateLimitedError) uses that moment instead, rounded up
// to whole seconds.
func WithRetryAfter(d time.Duration) HandlerOption {
	return func(h *Handler) error {
		if d < time.Second || d%time.Second != 0 {
			return configErrorf("WithRetryAfter(%v) not a whole number of seconds >= 1s", d)
		}
		h.retryAfter = d
		return nil
	}
}

// NewHandler returns a Handler that admits each request through l before
// running next. A nil next or a nil l is an error wrapping
// ErrInvalidConfig, as is an invalid option.
func NewHandler(next http.Handler, l Limiter, opts ...HandlerOption) (*Handler, error) {
	if next == nil {
		return nil, configErrorf("NewHandler next handler is nil")
	}
	if nilLimiter(l) {
		return nil, configErrorf("NewHandler limiter is nil")
	}
	h := &Handler{next: next, limiter: l, retryAfter: time.Second}
	for _, opt := range opts {
		if err := opt(h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// ServeHTTP admits r, runs the next handler and finishes the Permit, or
// sheds r with 503.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := h.limiter.Acquire(ctx)
	if err != nil {
		h.shed(w, err)
		return
	}
	defer p.Done(context.Canceled) // no-op after the Done below; runs if next panics
	h.next.ServeHTTP(w, r)
	p.Done(ctx.Err())
}

func (h *Handler) shed(w http.ResponseWriter, err error) {
	wait := h.retryAfter
	if at, ok := bulwark.RetryAt(err); ok {
		wait = max(time.Until(at), time.Second)
	}
	hdr := w.Header()
	hdr.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10))
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(shedBody))
}

// nilLimiter reports whether l is nil, also as a nil pointer of this
// package's limiter types inside a non-nil interface.
func nilLimiter(l Limiter) bool {
	switch l := l.(type) {
	case nil:
		return true
	case *Bulkhead:
		return l == nil
	case *Adaptive:
		return l == nil
	}
	return false
}
