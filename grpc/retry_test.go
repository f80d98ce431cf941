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
	"github.com/bulwark-go/bulwark/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newRetrier(t testing.TB, cfg retry.Config) *retry.Retrier {
	t.Helper()
	if cfg.Backoff == nil {
		// 1 ms waits, and room up to 10 s for server pushback (the Retrier
		// caps hints at the Backoff's Cap).
		cfg.Backoff = retry.Exponential{Base: time.Millisecond, Multiplier: 1, Jitter: retry.NoJitter}
	}
	r, err := retry.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRetryUnaryOnlyConfiguredCodes(t *testing.T) {
	tests := []struct {
		name      string
		fail      codes.Code
		opts      []bulwarkgrpc.Option
		wantCalls int64
		wantCode  codes.Code
	}{
		{"Unavailable retried by default", codes.Unavailable, nil, 3, codes.OK},
		{"NotFound is an answer", codes.NotFound, nil, 1, codes.NotFound},
		{"Internal not retried by default", codes.Internal, nil, 1, codes.Internal},
		{"ResourceExhausted not retried by default", codes.ResourceExhausted, nil, 1, codes.ResourceExhausted},
		{"Internal retried when configured", codes.Internal, []bulwarkgrpc.Option{bulwarkgrpc.WithRetryCodes(codes.Internal)}, 3, codes.OK},
		{"Unavailable not retried when not configured", codes.Unavailable, []bulwarkgrpc.Option{bulwarkgrpc.WithRetryCodes(codes.Internal)}, 1, codes.Unavailable},
		{"no codes retries nothing", codes.Unavailable, []bulwarkgrpc.Option{bulwarkgrpc.WithRetryCodes()}, 1, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &testsvc.Server{Unary: failing(tt.fail, 2, "")}
			run := testsvc.Start(t, srv)
			ri, err := bulwarkgrpc.RetryUnary(newRetrier(t, retry.Config{MaxAttempts: 3}), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(ri))
			out, err := testsvc.Call(ctxT(t), cc, "hi")
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == codes.OK && out != "hi" {
				t.Fatalf("reply %q, want %q", out, "hi")
			}
			if got := srv.Calls(); got != tt.wantCalls {
				t.Fatalf("server saw %d calls, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestRetryUnaryExhaustedKeepsLastStatus(t *testing.T) {
	srv := &testsvc.Server{Unary: failing(codes.Unavailable, -1, "")}
	run := testsvc.Start(t, srv)
	ri, err := bulwarkgrpc.RetryUnary(newRetrier(t, retry.Config{MaxAttempts: 4}))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(ri))
	_, err = testsvc.Call(ctxT(t), cc, "hi")
	wantCode(t, err, codes.Unavailable, "injected Unavailable")
	if !errors.Is(err, retry.ErrExhausted) {
		t.Fatalf("errors.Is(%v, retry.ErrExhausted) = false", err)
	}
	if got := srv.Calls(); got != 4 {
		t.Fatalf("server saw %d calls, want 4", got)
	}
}

func TestRetryUnaryPushback(t *testing.T) {
	tests := []struct {
		name      string
		pushback  string
		wantCalls int64
		wantDelay time.Duration // of the first retry; 0: no retry
	}{
		{"delay honoured", "40", 2, 40 * time.Millisecond},
		{"negative means do not retry", "-1", 1, 0},
		{"malformed means do not retry", "soon", 1, 0},
		{"zero retries after the backoff", "0", 2, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &testsvc.Server{Unary: failing(codes.Unavailable, 1, tt.pushback)}
			run := testsvc.Start(t, srv)
			var delays []time.Duration
			r := newRetrier(t, retry.Config{MaxAttempts: 3, Observer: func(e retry.Event) {
				if e.Kind == retry.EventRetry {
					delays = append(delays, e.Delay)
				}
			}})
			ri, err := bulwarkgrpc.RetryUnary(r)
			if err != nil {
				t.Fatal(err)
			}
			cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(ri))
			_, err = testsvc.Call(ctxT(t), cc, "hi")
			if got := srv.Calls(); got != tt.wantCalls {
				t.Fatalf("server saw %d calls, want %d (err %v)", got, tt.wantCalls, err)
			}
			if tt.wantDelay == 0 {
				wantCode(t, err, codes.Unavailable)
				if len(delays) != 0 {
					t.Fatalf("retried with delays %v, want no retry", delays)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(delays) != 1 || delays[0] != tt.wantDelay {
				t.Fatalf("retry delays %v, want [%v]", delays, tt.wantDelay)
			}
		})
	}
}

func TestRetryUnaryBudgetRefusal(t *testing.T) {
	srv := &testsvc.Server{Unary: failing(codes.Unavailable, -1, "")}
	run := testsvc.Start(t, srv)
	// Two tokens: one failure leaves one, which is not more than half.
	budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	ri, err := bulwarkgrpc.RetryUnary(newRetrier(t, retry.Config{MaxAttempts: 5, Budget: budget}))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(ri))
	_, err = testsvc.Call(ctxT(t), cc, "hi")
	wantCode(t, err, codes.Unavailable, "bulwark: retry budget exhausted, retry not sent", "injected Unavailable")
	if !errors.Is(err, retry.ErrBudget) {
		t.Fatalf("errors.Is(%v, retry.ErrBudget) = false", err)
	}
	if got := srv.Calls(); got != 1 {
		t.Fatalf("server saw %d calls, want 1", got)
	}
}

func TestRetryUnaryLocalRejectionCostsNoBudget(t *testing.T) {
	srv := &testsvc.Server{}
	run := testsvc.Start(t, srv)
	budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ri, err := bulwarkgrpc.RetryUnary(newRetrier(t, retry.Config{MaxAttempts: 3, Budget: budget}))
	if err != nil {
		t.Fatal(err)
	}
	group, err := breaker.NewGroup(breaker.Config{OpenFor: time.Hour}, breaker.GroupConfig{})
	if err != nil {
		t.Fatal(err)
	}
	group.Get(testsvc.UnaryMethod).Trip()
	bi, err := bulwarkgrpc.BreakerUnary(group)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithChainUnaryInterceptor(ri, bi))
	before := budget.Tokens()
	_, err = testsvc.Call(ctxT(t), cc, "hi")
	wantCode(t, err, codes.Unavailable, "circuit breaker open")
	if !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, bulwark.ErrNotAttempted) {
		t.Fatalf("error %v does not match breaker.ErrOpen and bulwark.ErrNotAttempted", err)
	}
	if got := budget.Tokens(); got != before {
		t.Fatalf("budget tokens %v after local rejections, want %v", got, before)
	}
	if got := srv.Calls(); got != 0 {
		t.Fatalf("server saw %d calls, want 0", got)
	}
}

func TestRetryUnaryAttemptTimeout(t *testing.T) {
	stuck := make(chan struct{})
	first := true
	srv := &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		if first { // sequential: one attempt at a time
			first = false
			<-ctx.Done() // the attempt's own deadline ends it
			close(stuck)
			return "", ctx.Err()
		}
		return in, nil
	}}
	run := testsvc.Start(t, srv)
	ri, err := bulwarkgrpc.RetryUnary(newRetrier(t, retry.Config{MaxAttempts: 2, AttemptTimeout: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(ri))
	out, err := testsvc.Call(ctxT(t), cc, "hi")
	if err != nil || out != "hi" {
		t.Fatalf("Call = %q, %v; want hi, nil", out, err)
	}
	<-stuck
	if got := srv.Calls(); got != 2 {
		t.Fatalf("server saw %d calls, want 2", got)
	}
}

func TestRetryUnaryCallerDeadlineIsNotRetried(t *testing.T) {
	srv := &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}}
	run := testsvc.Start(t, srv)
	ri, err := bulwarkgrpc.RetryUnary(newRetrier(t, retry.Config{MaxAttempts: 3}), bulwarkgrpc.WithRetryCodes(codes.DeadlineExceeded))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(ri))
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	_, err = testsvc.Call(ctx, cc, "hi")
	wantCode(t, err, codes.DeadlineExceeded)
	if got := srv.Calls(); got != 1 {
		t.Fatalf("server saw %d calls, want 1", got)
	}
}

// streamThatFails returns a stream handler: the first n streams fail with
// Unavailable after sending sent messages; later ones echo.
func streamThatFails(n, sent int) func(ctx context.Context, recv func() (string, error), send func(string) error) error {
	streams := 0
	return func(ctx context.Context, recv func() (string, error), send func(string) error) error {
		streams++ // grpc-go serves these sequentially in the tests
		if streams <= n {
			for i := 0; i < sent; i++ {
				if err := send("partial"); err != nil {
					return err
				}
			}
			return status.Error(codes.Unavailable, "injected stream failure")
		}
		for {
			v, err := recv()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := send(v); err != nil {
				return err
			}
		}
	}
}

func recvAll(s *testsvc.Stream) ([]string, error) {
	var got []string
	for {
		v, err := s.Recv()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, v)
	}
}

func TestRetryStreamBeforeFirstMessage(t *testing.T) {
	srv := &testsvc.Server{Stream: streamThatFails(2, 0)}
	run := testsvc.Start(t, srv)
	si, err := bulwarkgrpc.RetryStream(newRetrier(t, retry.Config{MaxAttempts: 3}))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithStreamInterceptor(si))
	s, err := testsvc.OpenStream(ctxT(t), cc)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := s.Send(v); err != nil {
			t.Fatalf("Send(%q) = %v", v, err)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(s)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if want := []string{"a", "b", "c"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("received %q, want %q (replayed)", got, want)
	}
	if got := srv.Calls(); got != 3 {
		t.Fatalf("server saw %d streams, want 3", got)
	}
}

func TestRetryStreamNotAfterFirstMessage(t *testing.T) {
	srv := &testsvc.Server{Stream: streamThatFails(1, 1)}
	run := testsvc.Start(t, srv)
	si, err := bulwarkgrpc.RetryStream(newRetrier(t, retry.Config{MaxAttempts: 3}))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithStreamInterceptor(si))
	s, err := testsvc.OpenStream(ctxT(t), cc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send("a"); err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(s)
	wantCode(t, err, codes.Unavailable, "injected stream failure")
	if len(got) != 1 || got[0] != "partial" {
		t.Fatalf("received %q before the failure, want [partial]", got)
	}
	if got := srv.Calls(); got != 1 {
		t.Fatalf("server saw %d streams, want 1 (no retry after a response)", got)
	}
}

func TestRetryStreamBufferLimit(t *testing.T) {
	srv := &testsvc.Server{Stream: func(ctx context.Context, recv func() (string, error), send func(string) error) error {
		for i := 0; i < 3; i++ {
			if _, err := recv(); err != nil {
				return err
			}
		}
		return status.Error(codes.Unavailable, "injected after three messages")
	}}
	run := testsvc.Start(t, srv)
	si, err := bulwarkgrpc.RetryStream(newRetrier(t, retry.Config{MaxAttempts: 3}), bulwarkgrpc.WithStreamBuffer(2))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithStreamInterceptor(si))
	s, err := testsvc.OpenStream(ctxT(t), cc)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		_ = s.Send(v) // the third send exceeds the buffer: the stream is final
	}
	_, err = recvAll(s)
	wantCode(t, err, codes.Unavailable, "injected after three messages")
	if got := srv.Calls(); got != 1 {
		t.Fatalf("server saw %d streams, want 1 (too much sent to replay)", got)
	}
}

func TestRetryStreamOpenFailures(t *testing.T) {
	srv := &testsvc.Server{}
	run := testsvc.Start(t, srv)
	// An interceptor below the retry that fails the first two opens, as a
	// transport that cannot reach the server does.
	var opens int
	failOpen := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		opens++ // streams are opened one at a time here
		if opens <= 2 {
			return nil, status.Error(codes.Unavailable, "injected open failure")
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
	si, err := bulwarkgrpc.RetryStream(newRetrier(t, retry.Config{MaxAttempts: 3}))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithChainStreamInterceptor(si, failOpen))
	s, err := testsvc.OpenStream(ctxT(t), cc)
	if err != nil {
		t.Fatalf("OpenStream = %v, want the third open to succeed", err)
	}
	if err := s.Send("a"); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseSend()
	got, err := recvAll(s)
	if err != nil || len(got) != 1 || got[0] != "a" {
		t.Fatalf("received %q, %v; want [a]", got, err)
	}
	if opens != 3 || srv.Calls() != 1 {
		t.Fatalf("%d opens, %d streams served; want 3 and 1", opens, srv.Calls())
	}
}

func TestRetryStreamLocalRejection(t *testing.T) {
	run := testsvc.Start(t, &testsvc.Server{})
	group := newGroup(t, breaker.Config{OpenFor: time.Hour})
	group.Get(testsvc.StreamMethod).Trip()
	bs, err := bulwarkgrpc.BreakerStream(group)
	if err != nil {
		t.Fatal(err)
	}
	r := newRetrier(t, retry.Config{MaxAttempts: 3})
	si, err := bulwarkgrpc.RetryStream(r)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithChainStreamInterceptor(si, bs))
	_, err = testsvc.OpenStream(ctxT(t), cc)
	wantCode(t, err, codes.Unavailable, "circuit breaker open")
	if !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, retry.ErrExhausted) {
		t.Fatalf("error %v does not match breaker.ErrOpen and retry.ErrExhausted", err)
	}
	// The breaker refuses for an hour, beyond the backoff's cap: the retrier
	// stops at the first refusal instead of spending its attempts on it.
	if st := r.Stats(); st.NotAttempted != 1 || st.Exhausted != 1 {
		t.Fatalf("retrier saw %d local rejections, %d exhausted calls; want 1 and 1", st.NotAttempted, st.Exhausted)
	}
}
