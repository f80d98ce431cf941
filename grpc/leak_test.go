package bulwarkgrpc_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"github.com/bulwark-go/bulwark/retry"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// TestNoGoroutineLeaks runs every interceptor and a bulwark balancer over a
// small fleet — retried, hedged, rejected, shed and cancelled calls and
// streams — then closes the connection and stops the servers, and checks
// that no goroutine is left.
func TestNoGoroutineLeaks(t *testing.T) {
	defer goleak.VerifyNone(t)

	var n atomic.Int64
	flaky := func(ctx context.Context, in string) (string, error) {
		switch i := n.Add(1); {
		case i%5 == 0:
			return "", status.Error(codes.Unavailable, "injected")
		case i%7 == 0:
			select { // slow enough to be hedged
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return in, nil
	}
	shed, err := bulwarkgrpc.ShedUnary(newBulkhead(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	shedS, err := bulwarkgrpc.ShedStream(newBulkhead(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	var runs []*testsvc.Running
	state := resolver.State{}
	for i := 0; i < 3; i++ {
		run, err := testsvc.Listen(&testsvc.Server{Unary: flaky}, grpc.ChainUnaryInterceptor(shed), grpc.ChainStreamInterceptor(shedS))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
		state.Addresses = append(state.Addresses, resolver.Address{Addr: run.Addr})
	}

	r := newRetrier(t, retry.Config{MaxAttempts: 3})
	group := newGroup(t, breaker.Config{})
	limit, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(i any, err error) any {
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	unary := []grpc.UnaryClientInterceptor{
		must(bulwarkgrpc.RetryUnary(r)).(grpc.UnaryClientInterceptor),
		must(bulwarkgrpc.HedgeUnary(retry.HedgeConfig{Delay: 5 * time.Millisecond}, []string{testsvc.UnaryMethod})).(grpc.UnaryClientInterceptor),
		must(bulwarkgrpc.BreakerUnary(group)).(grpc.UnaryClientInterceptor),
		must(bulwarkgrpc.BulkheadUnary(limit)).(grpc.UnaryClientInterceptor),
	}
	stream := []grpc.StreamClientInterceptor{
		must(bulwarkgrpc.RetryStream(r)).(grpc.StreamClientInterceptor),
		must(bulwarkgrpc.BreakerStream(group)).(grpc.StreamClientInterceptor),
		must(bulwarkgrpc.BulkheadStream(limit)).(grpc.StreamClientInterceptor),
	}
	res := manual.NewBuilderWithScheme("leak")
	res.InitialState(state)
	cc, err := grpc.NewClient("leak:///fleet",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(res),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"bulwark_peak_ewma": {}}]}`),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 25; i++ {
				_, _ = testsvc.Call(ctx, cc, fmt.Sprint(i))
				sctx, scancel := context.WithCancel(ctx)
				s, err := testsvc.OpenStream(sctx, cc)
				if err == nil {
					_ = s.Send("x")
					if i%2 == 0 {
						_ = s.CloseSend()
						_, _ = recvAll(s)
					} else {
						_, _ = s.Recv()
					}
				}
				scancel() // odd streams end by cancellation
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		run.Stop()
	}
}
