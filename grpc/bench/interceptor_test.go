package bench

import (
	"context"
	"testing"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"github.com/bulwark-go/bulwark/retry"
	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafegrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// interceptorCase is one client stack: the same guards from bulwark and
// from failsafe-go, configured alike (3 attempts on the retryable codes, a
// default breaker, a bulkhead of 1024).
type interceptorCase struct {
	name  string
	chain []grpc.UnaryClientInterceptor
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func interceptorCases() []interceptorCase {
	bwRetry := func() grpc.UnaryClientInterceptor {
		r := must(retry.New(retry.Config{MaxAttempts: 3, Budget: must(retry.NewTokenBudget(retry.TokenBudgetConfig{}))}))
		return must(bulwarkgrpc.RetryUnary(r))
	}
	bwBreaker := func() grpc.UnaryClientInterceptor {
		return must(bulwarkgrpc.BreakerUnary(must(breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{}))))
	}
	bwBulkhead := func() grpc.UnaryClientInterceptor {
		return must(bulwarkgrpc.BulkheadUnary(must(bulkhead.New(bulkhead.Config{MaxConcurrent: 1024}))))
	}
	fsRetry := func() failsafe.Policy[any] {
		return failsafegrpc.NewRetryPolicyBuilder[any]().WithMaxAttempts(3).Build()
	}
	fsBreaker := func() failsafe.Policy[any] { return circuitbreaker.NewWithDefaults[any]() }
	fsBulkhead := func() failsafe.Policy[any] { return fsbulkhead.New[any](1024) }
	fs := func(p ...failsafe.Policy[any]) []grpc.UnaryClientInterceptor {
		return []grpc.UnaryClientInterceptor{failsafegrpc.NewUnaryClientInterceptor(p...)}
	}
	return []interceptorCase{
		{"none", nil},
		{"retry/bulwark", []grpc.UnaryClientInterceptor{bwRetry()}},
		{"retry/failsafe", fs(fsRetry())},
		{"breaker/bulwark", []grpc.UnaryClientInterceptor{bwBreaker()}},
		{"breaker/failsafe", fs(fsBreaker())},
		{"bulkhead/bulwark", []grpc.UnaryClientInterceptor{bwBulkhead()}},
		{"bulkhead/failsafe", fs(fsBulkhead())},
		{"stack/bulwark", []grpc.UnaryClientInterceptor{bwRetry(), bwBreaker(), bwBulkhead()}},
		{"stack/failsafe", fs(fsRetry(), fsBreaker(), fsBulkhead())},
	}
}

func dial(b *testing.B, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	b.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	return cc
}

// BenchmarkUnaryOverhead is the interceptor chain alone around an invoker
// that answers at once: the cost each library adds to a call, and its
// allocations, without the network's noise.
func BenchmarkUnaryOverhead(b *testing.B) {
	cc := dial(b, "127.0.0.1:1") // never connected: the invoker below answers
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return nil
	}
	req, reply := wrapperspb.String("x"), new(wrapperspb.StringValue)
	for _, c := range interceptorCases() {
		b.Run(c.name, func(b *testing.B) {
			call := chain(c.chain, invoker)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := call(ctx, testsvc.UnaryMethod, req, reply, cc); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// chain composes interceptors around final once, so that calling the result
// costs only what the interceptors cost.
func chain(is []grpc.UnaryClientInterceptor, final grpc.UnaryInvoker) grpc.UnaryInvoker {
	inv := final
	for i := len(is) - 1; i >= 0; i-- {
		ic, next := is[i], inv
		inv = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			return ic(ctx, method, req, reply, cc, next, opts...)
		}
	}
	return inv
}

// BenchmarkUnaryCall is a real unary call over loopback TCP to one server
// (the same server for every case) through each client stack.
func BenchmarkUnaryCall(b *testing.B) {
	run := testsvc.Start(b, &testsvc.Server{})
	for _, c := range interceptorCases() {
		b.Run(c.name, func(b *testing.B) {
			cc := dial(b, run.Addr, grpc.WithChainUnaryInterceptor(c.chain...))
			ctx := context.Background()
			if _, err := testsvc.Call(ctx, cc, "warm-up"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := testsvc.Call(ctx, cc, "x"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
