package bulwarkgrpc_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"github.com/bulwark-go/bulwark/retry"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

func TestShedUnaryRejectsWithPushback(t *testing.T) {
	tests := []struct {
		name         string
		opts         []bulwarkgrpc.Option
		wantPushback string // "" means no trailer
	}{
		{"default pushback", nil, "100"},
		{"configured pushback", []bulwarkgrpc.Option{bulwarkgrpc.WithPushback(1500 * time.Millisecond)}, "1500"},
		{"no pushback", []bulwarkgrpc.Option{bulwarkgrpc.WithPushback(0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entered, release := make(chan struct{}, 1), make(chan struct{})
			shed, err := bulwarkgrpc.ShedUnary(newBulkhead(t, 1), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			srv := &testsvc.Server{Unary: blocking(entered, release)}
			run := testsvc.Start(t, srv, grpc.ChainUnaryInterceptor(shed))
			cc := dial(t, run.Addr)
			ctx := ctxT(t)
			first := make(chan error, 1)
			go func() {
				_, err := testsvc.Call(ctx, cc, "first")
				first <- err
			}()
			<-entered
			var trailer metadata.MD
			_, err = testsvc.Call(ctx, cc, "second", grpc.Trailer(&trailer))
			wantCode(t, err, codes.ResourceExhausted, "bulwark: server overloaded, call shed", "full")
			if got := trailer.Get(bulwarkgrpc.PushbackKey); tt.wantPushback == "" && len(got) != 0 || tt.wantPushback != "" && (len(got) != 1 || got[0] != tt.wantPushback) {
				t.Fatalf("pushback trailer %q, want %q", got, tt.wantPushback)
			}
			close(release)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if got := srv.Calls(); got != 1 {
				t.Fatalf("handler ran %d times, want 1 (the shed call never reaches it)", got)
			}
		})
	}
}

func TestShedUnaryAdaptive(t *testing.T) {
	a, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{Algorithm: bulkhead.Gradient2, InitialLimit: 1, MinLimit: 1, MaxLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	shed, err := bulwarkgrpc.ShedUnary(a)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv := &testsvc.Server{Unary: blocking(entered, release)}
	run := testsvc.Start(t, srv, grpc.ChainUnaryInterceptor(shed))
	cc := dial(t, run.Addr)
	ctx := ctxT(t)
	first := make(chan error, 1)
	go func() {
		_, err := testsvc.Call(ctx, cc, "first")
		first <- err
	}()
	<-entered
	_, err = testsvc.Call(ctx, cc, "second")
	wantCode(t, err, codes.ResourceExhausted, "server overloaded")
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.InFlight != 0 || st.Admitted != 1 || st.Rejected != 1 {
		t.Fatalf("adaptive stats %+v, want 1 admitted, 1 rejected, none in flight", st)
	}
}

func TestShedStreamBoundsOpenStreams(t *testing.T) {
	bh := newBulkhead(t, 1)
	shed, err := bulwarkgrpc.ShedStream(bh)
	if err != nil {
		t.Fatal(err)
	}
	srv := &testsvc.Server{}
	run := testsvc.Start(t, srv, grpc.ChainStreamInterceptor(shed))
	cc := dial(t, run.Addr)
	ctx := ctxT(t)
	s1, err := testsvc.OpenStream(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Send("a"); err != nil {
		t.Fatal(err)
	}
	if v, err := s1.Recv(); err != nil || v != "a" { // the handler is running
		t.Fatalf("Recv = %q, %v", v, err)
	}
	s2, err := testsvc.OpenStream(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Recv()
	wantCode(t, err, codes.ResourceExhausted, "server overloaded")
	if got := s2.Trailer().Get(bulwarkgrpc.PushbackKey); len(got) != 1 || got[0] != "100" {
		t.Fatalf("pushback trailer %q, want [100]", got)
	}
	_ = s1.CloseSend()
	if _, err := s1.Recv(); err != io.EOF {
		t.Fatalf("Recv after CloseSend = %v, want io.EOF", err)
	}
}

func TestRateLimitUnary(t *testing.T) {
	lim := rate.NewLimiter(rate.Every(time.Hour), 1) // one call, then one an hour
	rl, err := bulwarkgrpc.RateLimitUnary(lim)
	if err != nil {
		t.Fatal(err)
	}
	srv := &testsvc.Server{}
	run := testsvc.Start(t, srv, grpc.ChainUnaryInterceptor(rl))
	cc := dial(t, run.Addr)
	ctx := ctxT(t)
	if _, err := testsvc.Call(ctx, cc, "first"); err != nil {
		t.Fatal(err)
	}
	var trailer metadata.MD
	_, err = testsvc.Call(ctx, cc, "second", grpc.Trailer(&trailer))
	wantCode(t, err, codes.ResourceExhausted, "bulwark: rate limit exceeded, call refused", "retry in")
	got := trailer.Get(bulwarkgrpc.PushbackKey)
	if len(got) != 1 {
		t.Fatalf("pushback trailer %q, want one value", got)
	}
	ms, perr := strconv.ParseInt(got[0], 10, 64)
	if perr != nil || ms <= int64(59*time.Minute/time.Millisecond) || ms > int64(time.Hour/time.Millisecond) {
		t.Fatalf("pushback %q ms, want the next token, just under an hour away", got[0])
	}
	if d, ok := bulwarkgrpc.RetryDelay(err); !ok || d < 59*time.Minute {
		t.Fatalf("RetryDelay = %v, %v; want about an hour", d, ok)
	}
	if got := srv.Calls(); got != 1 {
		t.Fatalf("handler ran %d times, want 1", got)
	}
}

// allowN is a RateLimiter that admits n calls and knows no next moment.
type allowN struct{ n chan struct{} }

func (a allowN) Allow() bool {
	select {
	case <-a.n:
		return true
	default:
		return false
	}
}

func TestRateLimitStream(t *testing.T) {
	lim := allowN{make(chan struct{}, 1)}
	lim.n <- struct{}{}
	rl, err := bulwarkgrpc.RateLimitStream(lim, bulwarkgrpc.WithPushback(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	run := testsvc.Start(t, &testsvc.Server{}, grpc.ChainStreamInterceptor(rl))
	cc := dial(t, run.Addr)
	ctx := ctxT(t)
	for i, want := range []codes.Code{codes.OK, codes.ResourceExhausted} {
		s, err := testsvc.OpenStream(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.CloseSend()
		_, err = recvAll(s)
		wantCode(t, err, want)
		if i == 1 {
			if got := s.Trailer().Get(bulwarkgrpc.PushbackKey); len(got) != 1 || got[0] != "250" {
				t.Fatalf("pushback trailer %q, want [250]", got)
			}
		}
	}
}

// TestShedThenRetryHonoursPushback runs the client and server halves
// together: the server sheds with a pushback, and the client's retry waits
// for it before its next attempt.
func TestShedThenRetryHonoursPushback(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	shed, err := bulwarkgrpc.ShedUnary(newBulkhead(t, 1), bulwarkgrpc.WithPushback(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	srv := &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		if in == "hold" {
			return blocking(entered, release)(ctx, in)
		}
		return in, nil
	}}
	run := testsvc.Start(t, srv, grpc.ChainUnaryInterceptor(shed))
	var delays []time.Duration
	r := newRetrier(t, retry.Config{MaxAttempts: 2, Observer: func(e retry.Event) {
		if e.Kind == retry.EventRetry {
			delays = append(delays, e.Delay)
			close(release) // the held call ends while the client waits
		}
	}})
	ri, err := bulwarkgrpc.RetryUnary(r, bulwarkgrpc.WithRetryCodes(codes.Unavailable, codes.ResourceExhausted))
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(ri))
	ctx := ctxT(t)
	held := make(chan error, 1)
	go func() {
		_, err := testsvc.Call(ctx, dial(t, run.Addr), "hold")
		held <- err
	}()
	<-entered
	out, err := testsvc.Call(ctx, cc, "retried")
	if err != nil || out != "retried" {
		t.Fatalf("Call = %q, %v; want success on the retry", out, err)
	}
	if len(delays) != 1 || delays[0] != 30*time.Millisecond {
		t.Fatalf("retry delays %v, want [30ms] (the pushback)", delays)
	}
	if err := <-held; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
