package bulwarkgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"github.com/bulwark-go/bulwark/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// slowFirst returns a handler whose first call waits for its context to
// end (and reports that on cancelled) while later calls answer at once with
// "hedge:" + input.
func slowFirst(cancelled chan<- error) func(ctx context.Context, in string) (string, error) {
	var calls atomic.Int64
	return func(ctx context.Context, in string) (string, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			cancelled <- ctx.Err()
			return "", ctx.Err()
		}
		return "hedge:" + in, nil
	}
}

func TestHedgeUnaryCancelsTheLoser(t *testing.T) {
	cancelled := make(chan error, 1)
	srv := &testsvc.Server{Unary: slowFirst(cancelled)}
	run := testsvc.Start(t, srv)
	hi, err := bulwarkgrpc.HedgeUnary(retry.HedgeConfig{Delay: 20 * time.Millisecond, MaxHedges: 1}, []string{testsvc.UnaryMethod})
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(hi))
	out, err := testsvc.Call(ctxT(t), cc, "x")
	if err != nil || out != "hedge:x" {
		t.Fatalf("Call = %q, %v; want the hedge's answer", out, err)
	}
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the losing attempt's server context ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // a safety net, not a timing decision
		t.Fatal("the losing attempt was never cancelled on the server")
	}
	if got := srv.Calls(); got != 2 {
		t.Fatalf("server saw %d calls, want 2", got)
	}
}

func TestHedgeUnaryOnlyListedMethods(t *testing.T) {
	srv := &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		select { // slower than the hedge delay, yet never hedged
		case <-time.After(50 * time.Millisecond):
			return in, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}}
	run := testsvc.Start(t, srv)
	hi, err := bulwarkgrpc.HedgeUnary(retry.HedgeConfig{Delay: time.Millisecond, MaxHedges: 3}, []string{"/bulwark.test.Echo/Other"})
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(hi))
	if _, err := testsvc.Call(ctxT(t), cc, "x"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls(); got != 1 {
		t.Fatalf("server saw %d calls of an unlisted method, want 1", got)
	}
}

func TestHedgeUnaryAnswerWins(t *testing.T) {
	// Every attempt answers NotFound at once: the first answer is returned,
	// no hedge is needed.
	srv := &testsvc.Server{Unary: failing(codes.NotFound, -1, "")}
	run := testsvc.Start(t, srv)
	hi, err := bulwarkgrpc.HedgeUnary(retry.HedgeConfig{Delay: time.Hour, MaxHedges: 1}, []string{testsvc.UnaryMethod})
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(hi))
	_, err = testsvc.Call(ctxT(t), cc, "x")
	wantCode(t, err, codes.NotFound)
	if got := srv.Calls(); got != 1 {
		t.Fatalf("server saw %d calls, want 1", got)
	}
}

func TestHedgeUnaryAllLose(t *testing.T) {
	srv := &testsvc.Server{Unary: failing(codes.Unavailable, -1, "")}
	run := testsvc.Start(t, srv)
	hi, err := bulwarkgrpc.HedgeUnary(retry.HedgeConfig{Delay: 0, MaxHedges: 2}, []string{testsvc.UnaryMethod})
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(hi))
	_, err = testsvc.Call(ctxT(t), cc, "x")
	wantCode(t, err, codes.Unavailable, "injected")
	if got := srv.Calls(); got != 3 {
		t.Fatalf("server saw %d calls, want 3", got)
	}
	if _, ok := status.FromError(err); !ok {
		t.Fatalf("%v is not a status", err)
	}
}

func TestHedgeUnaryOutputOptionsComeFromTheWinner(t *testing.T) {
	var calls atomic.Int64
	srv := &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		n := calls.Add(1)
		_ = grpc.SetHeader(ctx, metadata.Pairs("attempt", fmt.Sprint(n)))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("attempt", fmt.Sprint(n)))
		if n == 1 {
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "winner", nil
	}}
	run := testsvc.Start(t, srv)
	hi, err := bulwarkgrpc.HedgeUnary(retry.HedgeConfig{Delay: 10 * time.Millisecond, MaxHedges: 1}, []string{testsvc.UnaryMethod})
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(hi))
	var header, trailer metadata.MD
	var finished []error
	out, err := testsvc.Call(ctxT(t), cc, "x", grpc.Header(&header), grpc.Trailer(&trailer),
		grpc.OnFinish(func(err error) { finished = append(finished, err) }))
	if err != nil || out != "winner" {
		t.Fatalf("Call = %q, %v", out, err)
	}
	if got := header.Get("attempt"); len(got) != 1 || got[0] != "2" {
		t.Fatalf("header attempt = %q, want [2] (the winner's)", got)
	}
	if got := trailer.Get("attempt"); len(got) != 1 || got[0] != "2" {
		t.Fatalf("trailer attempt = %q, want [2] (the winner's)", got)
	}
	if len(finished) != 1 || finished[0] != nil {
		t.Fatalf("OnFinish called with %v, want once with nil", finished)
	}
}
