package bulwarkgrpc_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/breaker"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newGroup(t testing.TB, cfg breaker.Config) *breaker.Group {
	t.Helper()
	g, err := breaker.NewGroup(cfg, breaker.GroupConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestBreakerUnaryRejectionStatus(t *testing.T) {
	srv := &testsvc.Server{Unary: failing(codes.Internal, -1, "")}
	run := testsvc.Start(t, srv)
	const openFor = time.Minute
	group := newGroup(t, breaker.Config{ConsecutiveFailures: 2, OpenFor: openFor})
	bi, err := bulwarkgrpc.BreakerUnary(group)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(bi))
	ctx := ctxT(t)
	for i := 0; i < 2; i++ {
		_, err := testsvc.Call(ctx, cc, "hi")
		wantCode(t, err, codes.Internal)
	}
	_, err = testsvc.Call(ctx, cc, "hi")
	wantCode(t, err, codes.Unavailable, "bulwark: circuit breaker open", testsvc.UnaryMethod, "open until", "retry in")
	if !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, bulwark.ErrNotAttempted) {
		t.Fatalf("error %v does not match breaker.ErrOpen and bulwark.ErrNotAttempted", err)
	}
	at, ok := bulwark.RetryAt(err)
	if !ok || time.Until(at) <= 0 || time.Until(at) > openFor {
		t.Fatalf("bulwark.RetryAt = %v, %v; want within the next %v", at, ok, openFor)
	}
	d, ok := bulwarkgrpc.RetryDelay(err)
	if !ok || d <= 0 || d > openFor {
		t.Fatalf("RetryDelay = %v, %v; want in (0, %v]", d, ok, openFor)
	}
	// The status alone, as it would cross the wire, still carries the delay.
	st, _ := status.FromError(err)
	if d2, ok := bulwarkgrpc.RetryDelay(st.Err()); !ok || d2 != d {
		t.Fatalf("RetryDelay of the bare status = %v, %v; want %v", d2, ok, d)
	}
	if got := srv.Calls(); got != 2 {
		t.Fatalf("server saw %d calls, want 2", got)
	}
}

func TestBreakerUnaryAnswersAreSuccesses(t *testing.T) {
	srv := &testsvc.Server{Unary: failing(codes.NotFound, -1, "")}
	run := testsvc.Start(t, srv)
	group := newGroup(t, breaker.Config{ConsecutiveFailures: 2})
	bi, err := bulwarkgrpc.BreakerUnary(group)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(bi))
	for i := 0; i < 5; i++ {
		_, err := testsvc.Call(ctxT(t), cc, "hi")
		wantCode(t, err, codes.NotFound)
	}
	if st := group.Get(testsvc.UnaryMethod).State(); st != breaker.Closed {
		t.Fatalf("breaker %v after NotFound answers, want closed", st)
	}
}

func TestBreakerKeys(t *testing.T) {
	tests := []struct {
		name           string
		key            bulwarkgrpc.Key
		streamRejected bool
	}{
		{"ByMethod keeps other methods going", bulwarkgrpc.ByMethod, false},
		{"ByTarget stops the whole target", bulwarkgrpc.ByTarget, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &testsvc.Server{Unary: failing(codes.Unavailable, -1, "")}
			run := testsvc.Start(t, srv)
			group := newGroup(t, breaker.Config{ConsecutiveFailures: 1, OpenFor: time.Hour})
			bu, err := bulwarkgrpc.BreakerUnary(group, bulwarkgrpc.WithKey(tt.key))
			if err != nil {
				t.Fatal(err)
			}
			bs, err := bulwarkgrpc.BreakerStream(group, bulwarkgrpc.WithKey(tt.key))
			if err != nil {
				t.Fatal(err)
			}
			cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(bu), grpc.WithStreamInterceptor(bs))
			ctx := ctxT(t)
			_, err = testsvc.Call(ctx, cc, "hi") // trips the breaker
			wantCode(t, err, codes.Unavailable, "injected")
			_, err = testsvc.OpenStream(ctx, cc)
			if tt.streamRejected {
				wantCode(t, err, codes.Unavailable, "circuit breaker open")
			} else if err != nil {
				t.Fatalf("OpenStream = %v, want a stream (its own breaker)", err)
			}
		})
	}
}

func TestBreakerStreamCountsFinalStatus(t *testing.T) {
	srv := &testsvc.Server{Stream: func(ctx context.Context, recv func() (string, error), send func(string) error) error {
		if err := send("one"); err != nil {
			return err
		}
		return status.Error(codes.Unavailable, "injected stream failure")
	}}
	run := testsvc.Start(t, srv)
	group := newGroup(t, breaker.Config{ConsecutiveFailures: 2, OpenFor: time.Hour})
	bs, err := bulwarkgrpc.BreakerStream(group)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithStreamInterceptor(bs))
	ctx := ctxT(t)
	for i := 0; i < 2; i++ {
		s, err := testsvc.OpenStream(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recvAll(s); status.Code(err) != codes.Unavailable {
			t.Fatalf("stream ended with %v, want Unavailable", err)
		}
	}
	_, err = testsvc.OpenStream(ctx, cc)
	wantCode(t, err, codes.Unavailable, "circuit breaker open")
	if got := srv.Calls(); got != 2 {
		t.Fatalf("server saw %d streams, want 2", got)
	}
	st := group.Get(testsvc.StreamMethod).Stats()
	if st.Failures != 2 {
		t.Fatalf("breaker counted %d failures, want 2 (one per stream)", st.Failures)
	}
}

func TestBreakerStreamCancelledIsIgnored(t *testing.T) {
	srv := &testsvc.Server{Stream: func(ctx context.Context, recv func() (string, error), send func(string) error) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	run := testsvc.Start(t, srv)
	group := newGroup(t, breaker.Config{ConsecutiveFailures: 1, OpenFor: time.Hour})
	bs, err := bulwarkgrpc.BreakerStream(group)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithStreamInterceptor(bs))
	ctx, cancel := context.WithCancel(ctxT(t))
	s, err := testsvc.OpenStream(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Recv(); status.Code(err) != codes.Canceled && err != io.EOF {
		t.Fatalf("Recv after cancel = %v, want Canceled", err)
	}
	b := group.Get(testsvc.StreamMethod)
	if st := b.Stats(); st.Failures != 0 || b.State() != breaker.Closed {
		t.Fatalf("after a cancelled stream: %d failures, state %v; want 0, closed", st.Failures, b.State())
	}
}
