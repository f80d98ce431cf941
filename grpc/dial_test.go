package bulwarkgrpc_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// dial connects to one address over loopback TCP and closes the connection
// when t ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// dialFleet connects to several addresses through a manual resolver with
// the given service config.
func dialFleet(t testing.TB, addrs []string, serviceConfig string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	r := manual.NewBuilderWithScheme("fleet")
	state := resolver.State{}
	for _, a := range addrs {
		state.Addresses = append(state.Addresses, resolver.Address{Addr: a})
	}
	r.InitialState(state)
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(serviceConfig),
	}, opts...)
	cc, err := grpc.NewClient("fleet:///test", opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// failing returns a unary handler that fails with code the first n calls
// (every call for n < 0), optionally with a pushback trailer, then echoes.
func failing(code codes.Code, n int, pushback string) func(ctx context.Context, in string) (string, error) {
	var calls atomic.Int64
	return func(ctx context.Context, in string) (string, error) {
		if c := calls.Add(1); n < 0 || c <= int64(n) {
			if pushback != "" {
				_ = grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", pushback))
			}
			return "", status.Errorf(code, "injected %v", code)
		}
		return in, nil
	}
}

func wantCode(t testing.TB, err error, want codes.Code, msgParts ...string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, want)
	}
	for _, p := range msgParts {
		if !strings.Contains(st.Message(), p) {
			t.Fatalf("message %q does not contain %q", st.Message(), p)
		}
	}
}
