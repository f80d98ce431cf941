package bulwarkgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"github.com/bulwark-go/bulwark/retry"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// The examples call testsvc, a small echo service on loopback TCP; any
// generated client works the same way, since the interceptors and balancers
// sit in the ClientConn and grpc.Server.

// A client that retries Unavailable with a shared budget: the server fails
// twice, the third attempt answers.
func ExampleRetryUnary() {
	var calls atomic.Int64
	run, _ := testsvc.Listen(&testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		if calls.Add(1) <= 2 {
			return "", status.Error(codes.Unavailable, "warming up")
		}
		return "hello, " + in, nil
	}})
	defer run.Stop()

	budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{})
	retrier, _ := retry.New(retry.Config{MaxAttempts: 3, Budget: budget, Backoff: retry.Constant(time.Millisecond)})
	retryI, err := bulwarkgrpc.RetryUnary(retrier)
	if err != nil {
		panic(err)
	}
	conn, _ := grpc.NewClient("passthrough:///"+run.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(retryI))
	defer conn.Close()

	out, err := testsvc.Call(context.Background(), conn, "gopher")
	fmt.Println(out, err)
	fmt.Println("server calls:", calls.Load())
	// Output:
	// hello, gopher <nil>
	// server calls: 3
}

// An open breaker answers at once with Unavailable, names itself and says
// when it admits calls again; the server is not called.
func ExampleBreakerUnary() {
	var calls atomic.Int64
	run, _ := testsvc.Listen(&testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		calls.Add(1)
		return "", status.Error(codes.Internal, "broken")
	}})
	defer run.Stop()

	breakers, _ := breaker.NewGroup(breaker.Config{ConsecutiveFailures: 2, OpenFor: time.Minute}, breaker.GroupConfig{})
	breakI, err := bulwarkgrpc.BreakerUnary(breakers) // one breaker per method
	if err != nil {
		panic(err)
	}
	conn, _ := grpc.NewClient("passthrough:///"+run.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(breakI))
	defer conn.Close()

	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, err = testsvc.Call(ctx, conn, "x")
		fmt.Println(status.Code(err))
	}
	delay, _ := bulwarkgrpc.RetryDelay(err)
	fmt.Println("breaker.ErrOpen:", errors.Is(err, breaker.ErrOpen))
	fmt.Println("retry within a minute:", delay > 0 && delay <= time.Minute)
	fmt.Println("server calls:", calls.Load())
	// Output:
	// Internal
	// Internal
	// Unavailable
	// breaker.ErrOpen: true
	// retry within a minute: true
	// server calls: 2
}

// A hedged method: the first attempt is stuck, a second one sent after 10 ms
// answers, and the first is cancelled.
func ExampleHedgeUnary() {
	var calls atomic.Int64
	cancelled := make(chan struct{})
	run, _ := testsvc.Listen(&testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			close(cancelled)
			return "", ctx.Err()
		}
		return "answer from attempt 2", nil
	}})
	defer run.Stop()

	hedgeI, err := bulwarkgrpc.HedgeUnary(retry.HedgeConfig{Delay: 10 * time.Millisecond, MaxHedges: 1},
		[]string{testsvc.UnaryMethod}) // idempotent methods only
	if err != nil {
		panic(err)
	}
	conn, _ := grpc.NewClient("passthrough:///"+run.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(hedgeI))
	defer conn.Close()

	out, err := testsvc.Call(context.Background(), conn, "x")
	fmt.Println(out, err)
	<-cancelled
	fmt.Println("the first attempt was cancelled")
	// Output:
	// answer from attempt 2 <nil>
	// the first attempt was cancelled
}

// A server that admits one call an hour: the second call is refused with
// ResourceExhausted and a pushback trailer that tells the client when.
func ExampleRateLimitUnary() {
	limitI, err := bulwarkgrpc.RateLimitUnary(rate.NewLimiter(rate.Every(time.Hour), 1))
	if err != nil {
		panic(err)
	}
	run, _ := testsvc.Listen(&testsvc.Server{}, grpc.ChainUnaryInterceptor(limitI))
	defer run.Stop()
	conn, _ := grpc.NewClient("passthrough:///"+run.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()

	ctx := context.Background()
	_, err = testsvc.Call(ctx, conn, "first")
	fmt.Println(status.Code(err))
	var trailer metadata.MD
	_, err = testsvc.Call(ctx, conn, "second", grpc.Trailer(&trailer))
	fmt.Println(status.Code(err), "pushback sent:", len(trailer.Get(bulwarkgrpc.PushbackKey)) == 1)
	// Output:
	// OK
	// ResourceExhausted pushback sent: true
}

// A client over a fleet of three servers, one of which fails every call,
// balanced by bulwark_p2c with ejection after two failures in a row and a
// retry above it: every call succeeds, and the failing server sees two calls
// before it is ejected.
func Example_balancer() {
	var addrs []resolver.Address
	var badCalls atomic.Int64
	for i := 0; i < 3; i++ {
		handler := func(ctx context.Context, in string) (string, error) { return "ok", nil }
		if i == 1 {
			handler = func(ctx context.Context, in string) (string, error) {
				badCalls.Add(1)
				return "", status.Error(codes.Unavailable, "down")
			}
		}
		run, _ := testsvc.Listen(&testsvc.Server{Unary: handler})
		defer run.Stop()
		addrs = append(addrs, resolver.Address{Addr: run.Addr})
	}
	res := manual.NewBuilderWithScheme("example")
	res.InitialState(resolver.State{Addresses: addrs})

	retrier, _ := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.Constant(time.Millisecond)})
	retryI, _ := bulwarkgrpc.RetryUnary(retrier)
	conn, err := grpc.NewClient("example:///fleet",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(res),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"bulwark_p2c": {"ejectAfter": 2}}]}`),
		grpc.WithChainUnaryInterceptor(retryI))
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	// Call until the failing server has been tried and ejected (its
	// connection may come up after the others'), then 100 calls more.
	calls, failed := 0, 0
	for after := 0; after < 100; calls++ {
		if badCalls.Load() >= 2 {
			after++
		}
		if _, err := testsvc.Call(context.Background(), conn, "x", grpc.WaitForReady(true)); err != nil {
			failed++
		}
		if calls > 100_000 {
			break
		}
	}
	fmt.Printf("failed calls: %d; the failing server saw %d\n", failed, badCalls.Load())
	// Output:
	// failed calls: 0; the failing server saw 2
}
