package chaos

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Handler is an http.Handler that injects faults into the requests it
// serves: server-side chaos, for a test server or a staging backend.
// Create it with NewHandler. It is safe for concurrent use.
type Handler struct {
	next      http.Handler
	injectors []*Injector
}

// NewHandler returns a Handler that serves requests with next after the
// injectors, in order, have had their say, with the same rules as
// NewTransport: Latency waits and passes the request on, Truncate lets next
// run and cuts what it writes, and Error (500), Status, Reset and Hang
// answer for next, which then does not run, and the injectors after them do
// not see the request.
//
// At least one injector is required, and none may be nil; the error
// matches ErrInvalidConfig.
func NewHandler(next http.Handler, injectors ...*Injector) (*Handler, error) {
	if next == nil {
		return nil, configErrorf("NewHandler with a nil http.Handler")
	}
	if err := checkInjectors("NewHandler", injectors); err != nil {
		return nil, err
	}
	return &Handler{next: next, injectors: injectors}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cut := int64(-1)
	for _, in := range h.injectors {
		if !in.on.Load() {
			continue
		}
		d, ok := in.strike(r.Context(), r)
		if !ok {
			continue
		}
		switch in.fault.kind {
		case kindLatency:
			if in.wait(r.Context(), d) != nil {
				return // the client is gone
			}
		case kindTruncate:
			if cut < 0 || in.fault.n < cut {
				cut = in.fault.n
			}
		case kindHang:
			_ = in.hang(r.Context())
			return
		case kindStatus:
			writeStatus(w, in.fault)
			return
		case kindReset:
			reset(w)
			return
		default: // Error
			http.Error(w, in.fault.err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if cut < 0 {
		h.next.ServeHTTP(w, r)
		return
	}
	tw := &truncatedWriter{ResponseWriter: w, left: cut}
	h.next.ServeHTTP(tw, r)
	if tw.cut {
		abort(w)
	}
}

func writeStatus(w http.ResponseWriter, f Fault) {
	text := f.statusText()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(text)))
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(f.retryAfter/time.Second), 10))
	}
	w.WriteHeader(f.code)
	_, _ = w.Write([]byte(text))
}

// reset closes the request's TCP connection with SO_LINGER 0 (under TLS
// too, without a close_notify), so that the kernel discards unsent data and
// sends a TCP RST instead of a FIN: the client reads "connection reset by
// peer". A connection that cannot be
// hijacked (HTTP/2, a recorder) is aborted with http.ErrAbortHandler, which
// net/http turns into a closed connection or a reset stream.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc := tcpConn(conn); tc != nil {
		// Close the TCP connection itself: closing a TLS connection would
		// first send close_notify, which the client reads as a clean EOF.
		_ = tc.SetLinger(0)
		_ = tc.Close()
		return
	}
	_ = conn.Close()
}

// tcpConn finds the TCP connection under conn (under TLS too), or nil.
func tcpConn(conn net.Conn) *net.TCPConn {
	for {
		switch c := conn.(type) {
		case *net.TCPConn:
			return c
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil
		}
	}
}

// abort ends a truncated response: what was written so far goes out, then
// the connection closes without completing the body, so the client reads
// io.ErrUnexpectedEOF (a missing chunk terminator, or fewer bytes than the
// Content-Length).
func abort(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// errCut is what the wrapped handler's writes return once the cut is
// reached: the connection is, as far as it can tell, gone.
var errCut error = &injectedError{cause: errors.New("response body truncated")}

// truncatedWriter passes through the first left bytes of the body and
// refuses the rest. It keeps http.ResponseController working (Unwrap) and
// passes Flush through.
type truncatedWriter struct {
	http.ResponseWriter
	left int64
	cut  bool // the handler wrote past the cut
}

func (w *truncatedWriter) Write(p []byte) (int, error) {
	if w.cut {
		return 0, errCut
	}
	if int64(len(p)) <= w.left {
		w.left -= int64(len(p))
		return w.ResponseWriter.Write(p)
	}
	n, err := w.ResponseWriter.Write(p[:w.left])
	w.left = 0
	w.cut = true
	if err != nil {
		return n, err
	}
	return n, errCut
}

func (w *truncatedWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *truncatedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
