package bulkhead

import (
	"net/http"
)

// retryAfterSeconds is the Retry-After sent with a shed request. A limiter
// that sheds frees a slot within about one service time, so one second (the
// header's smallest whole value) is long enough to spread retries and short
// enough not to idle a recovered server.
const retryAfterSeconds = "1"

// shedBody is the short text body of a 503 sent by Handler.
const shedBody = "503 service overloaded, retry later\n"

// Handler returns an http.Handler that admits each request through l before
// running next: server-side load shedding. A rejected request gets 503 Service
// Unavailable with "Retry-After: 1" and a short text body, and next never runs
// for it. A request whose context has already ended is answered the same way
// (the client is gone; next is not run). The permit is finished when next
// returns: as a sample, or ignored if the request's context was cancelled.
//
// The returned handler is safe for concurrent use.
func Handler(l Limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := l.Admit(r.Context())
		if err != nil {
			shed(w)
			return
		}
		finished := false
		defer func() {
			if !finished { // next panicked (http.ErrAbortHandler included)
				p.Done(r.Context().Err())
			}
		}()
		next.ServeHTTP(w, r)
		finished = true
		p.Done(r.Context().Err())
	})
}

func shed(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Retry-After", retryAfterSeconds)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(shedBody))
}
