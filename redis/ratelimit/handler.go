package ratelimit

import (
	"net"
	"net/http"
	"strconv"
)

// Option configures NewHandler.
type Option func(*handlerOptions) error

type handlerOptions struct {
	key func(*http.Request) string
}

// WithKey sets the function that names the key a request is counted under
// (an API key, a tenant). The default is the client's IP address from
// RemoteAddr. A request whose key is empty is counted under "-".
func WithKey(key func(*http.Request) string) Option {
	return func(o *handlerOptions) error {
		if key == nil {
			return configErrorf("WithKey(nil)")
		}
		o.key = key
		return nil
	}
}

// Handler is the server-side middleware of NewHandler.
type Handler struct {
	next  http.Handler
	l     *Limiter
	key   func(*http.Request) string
	limit string
}

// NewHandler returns a handler that admits each request through l under
// the key WithKey names, and answers a refused one with 429 Too Many
// Requests and Retry-After (whole seconds, rounded up) without calling
// next. Every response Redis decided carries the RateLimit-Limit (the
// burst), RateLimit-Remaining and RateLimit-Reset (seconds until a full
// burst) header fields of the IETF draft "RateLimit header fields for HTTP"
// (draft-ietf-httpapi-ratelimit-headers-07, Polli and Martinez, 2023,
// https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/);
// a decision taken without Redis (Config.Unavailable) carries none, and a
// refusal taken so says Retry-After: 1.
//
// A nil next or l is an error matching ErrInvalidConfig, as is an invalid
// option.
func NewHandler(next http.Handler, l *Limiter, opts ...Option) (*Handler, error) {
	if next == nil {
		return nil, configErrorf("NewHandler next is nil")
	}
	if l == nil {
		return nil, configErrorf("NewHandler limiter is nil")
	}
	o := handlerOptions{key: remoteIP}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	return &Handler{next: next, l: l, key: o.key, limit: strconv.Itoa(l.burst)}, nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServeHTTP admits or refuses r.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := h.key(r)
	if key == "" {
		key = "-"
	}
	res, err := h.l.Allow(r.Context(), key)
	if err != nil { // the client went away
		return
	}
	hdr := w.Header()
	if !res.Local {
		hdr.Set("RateLimit-Limit", h.limit)
		hdr.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
		hdr.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(res.ResetAfter), 10))
	}
	if res.Allowed == 0 {
		retry := int64(1)
		if !res.Local {
			retry = max(1, ceilSeconds(res.RetryAfter))
		}
		hdr.Set("Retry-After", strconv.FormatInt(retry, 10))
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	}
	h.next.ServeHTTP(w, r)
}
