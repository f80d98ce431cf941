package httpbody

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

type recorder struct {
	calls int
	err   error
}

func (r *recorder) end(err error) { r.calls++; r.err = err }

var errOutcome = errors.New("outcome")

func respWith(body io.ReadCloser) *http.Response {
	return &http.Response{StatusCode: 200, Body: body}
}

func TestEndsOnceAtEOF(t *testing.T) {
	var r recorder
	resp := respWith(io.NopCloser(strings.NewReader("hello")))
	OnEnd(resp, context.Background(), errOutcome, r.end)
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if r.calls != 1 || r.err != errOutcome {
		t.Fatalf("end called %d times with %v; want once with the outcome", r.calls, r.err)
	}
}

func TestEndsOnCloseBeforeEOF(t *testing.T) {
	var r recorder
	resp := respWith(io.NopCloser(strings.NewReader("hello")))
	OnEnd(resp, context.Background(), nil, r.end)
	_ = resp.Body.Close()
	_ = resp.Body.Close()
	if r.calls != 1 || r.err != nil {
		t.Fatalf("end called %d times with %v; want once with nil", r.calls, r.err)
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestEndsOnReadError(t *testing.T) {
	reset := errors.New("connection reset")
	var r recorder
	resp := respWith(io.NopCloser(failingReader{reset}))
	OnEnd(resp, context.Background(), nil, r.end)
	_, _ = resp.Body.Read(make([]byte, 4))
	_ = resp.Body.Close()
	if r.calls != 1 || r.err != reset {
		t.Fatalf("end called %d times with %v; want once with the read error", r.calls, r.err)
	}
}

func TestReadErrorAfterCancelIsTheCallers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var r recorder
	resp := respWith(io.NopCloser(failingReader{errors.New("use of closed connection")}))
	OnEnd(resp, ctx, nil, r.end)
	_, _ = resp.Body.Read(make([]byte, 4))
	if r.calls != 1 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("end called %d times with %v; want once with context.Canceled", r.calls, r.err)
	}
}

func TestNoBodyEndsAtOnce(t *testing.T) {
	var r recorder
	resp := respWith(http.NoBody)
	OnEnd(resp, context.Background(), errOutcome, r.end)
	if r.calls != 1 || r.err != errOutcome {
		t.Fatalf("end called %d times with %v; want once with the outcome", r.calls, r.err)
	}
}

type rwc struct {
	io.Reader
	written strings.Builder
}

func (c *rwc) Write(p []byte) (int, error) { return c.written.Write(p) }
func (c *rwc) Close() error                { return nil }

func TestSwitchingProtocolsKeepsWrite(t *testing.T) {
	var r recorder
	conn := &rwc{Reader: strings.NewReader("")}
	resp := &http.Response{StatusCode: http.StatusSwitchingProtocols, Body: conn}
	OnEnd(resp, context.Background(), nil, r.end)
	w, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatal("a 101 body lost its Write")
	}
	_, _ = w.Write([]byte("ping"))
	_ = w.Close()
	if conn.written.String() != "ping" || r.calls != 1 {
		t.Fatalf("wrote %q, end called %d times; want ping, once", conn.written.String(), r.calls)
	}
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func TestCloseRequest(t *testing.T) {
	b := &closeCounter{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", "http://127.0.0.1/", b)
	req.Body = b
	CloseRequest(req)
	CloseRequest(nil)
	if b.closed != 1 {
		t.Fatalf("closed %d times, want 1", b.closed)
	}
}
