package bulwarkgrpc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"github.com/bulwark-go/bulwark/retry"
	"google.golang.org/grpc/codes"
)

func TestConstructorErrors(t *testing.T) {
	r := newRetrier(t, retry.Config{})
	g := newGroup(t, breaker.Config{})
	bh := newBulkhead(t, 1)
	methods := []string{testsvc.UnaryMethod}
	hedge := retry.HedgeConfig{Delay: time.Millisecond}
	errOf := func(_ any, err error) error { return err }
	tests := []struct {
		name    string
		err     error
		wantMsg string
		retryIs bool // matches retry.ErrInvalidConfig instead
	}{
		{"nil retrier", errOf(bulwarkgrpc.RetryUnary(nil)), "bulwarkgrpc: RetryUnary: nil *retry.Retrier", false},
		{"nil retrier stream", errOf(bulwarkgrpc.RetryStream(nil)), "RetryStream: nil *retry.Retrier", false},
		{"nil group", errOf(bulwarkgrpc.BreakerUnary(nil)), "BreakerUnary: nil *breaker.Group", false},
		{"nil group stream", errOf(bulwarkgrpc.BreakerStream(nil)), "BreakerStream: nil *breaker.Group", false},
		{"nil limiter", errOf(bulwarkgrpc.BulkheadUnary(nil)), "BulkheadUnary: nil bulkhead.Limiter", false},
		{"nil limiter stream", errOf(bulwarkgrpc.BulkheadStream(nil)), "BulkheadStream: nil bulkhead.Limiter", false},
		{"nil shed limiter", errOf(bulwarkgrpc.ShedUnary(nil)), "ShedUnary: nil bulkhead.Limiter", false},
		{"nil shed stream limiter", errOf(bulwarkgrpc.ShedStream(nil)), "ShedStream: nil bulkhead.Limiter", false},
		{"nil rate limiter", errOf(bulwarkgrpc.RateLimitUnary(nil)), "RateLimitUnary: nil bulkhead.RateLimiter", false},
		{"nil rate limiter stream", errOf(bulwarkgrpc.RateLimitStream(nil)), "RateLimitStream: nil bulkhead.RateLimiter", false},
		{"nil option", errOf(bulwarkgrpc.RetryUnary(r, nil)), "nil Option given to RetryUnary/RetryStream", false},
		{"OK is not a retry code", errOf(bulwarkgrpc.RetryUnary(r, bulwarkgrpc.WithRetryCodes(codes.OK))), "WithRetryCodes(OK) not an error code in [1,16]", false},
		{"code out of range", errOf(bulwarkgrpc.BreakerUnary(g, bulwarkgrpc.WithFailureCodes(codes.Code(17)))), "WithFailureCodes(Code(17)) not an error code", false},
		{"drop code out of range", errOf(bulwarkgrpc.BulkheadUnary(bh, bulwarkgrpc.WithDropCodes(codes.Code(99)))), "WithDropCodes(Code(99))", false},
		{"nil key", errOf(bulwarkgrpc.BreakerUnary(g, bulwarkgrpc.WithKey(nil))), "WithKey(nil)", false},
		{"negative pushback", errOf(bulwarkgrpc.ShedUnary(bh, bulwarkgrpc.WithPushback(-time.Second))), "WithPushback(-1s) negative", false},
		{"stream buffer zero", errOf(bulwarkgrpc.RetryStream(r, bulwarkgrpc.WithStreamBuffer(0))), "WithStreamBuffer(0) below 1", false},
		{"option for another constructor", errOf(bulwarkgrpc.BreakerUnary(g, bulwarkgrpc.WithPushback(time.Second))), "WithPushback does not apply to BreakerUnary/BreakerStream", false},
		{"retry codes on a server", errOf(bulwarkgrpc.ShedUnary(bh, bulwarkgrpc.WithRetryCodes(codes.Unavailable))), "WithRetryCodes does not apply to the server interceptors", false},
		{"no hedged methods", errOf(bulwarkgrpc.HedgeUnary(hedge, nil)), "HedgeUnary: no methods", false},
		{"bad method name", errOf(bulwarkgrpc.HedgeUnary(hedge, []string{"Echo.Unary"})), `method "Echo.Unary" not a full method name`, false},
		{"method without a method", errOf(bulwarkgrpc.HedgeUnary(hedge, []string{"/bulwark.test.Echo/"})), `method "/bulwark.test.Echo/" not a full method name`, false},
		{"invalid hedge config", errOf(bulwarkgrpc.HedgeUnary(retry.HedgeConfig{MaxHedges: 101}, methods)), "MaxHedges 101", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(tt.err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", tt.err, tt.wantMsg)
			}
			want := bulwarkgrpc.ErrInvalidConfig
			if tt.retryIs {
				want = retry.ErrInvalidConfig
			}
			if !errors.Is(tt.err, want) {
				t.Fatalf("errors.Is(%v, %v) = false", tt.err, want)
			}
		})
	}
}

func TestConstructorsAcceptValidOptions(t *testing.T) {
	r := newRetrier(t, retry.Config{})
	g := newGroup(t, breaker.Config{})
	bh := newBulkhead(t, 1)
	a, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"retry":     errOf2(bulwarkgrpc.RetryUnary(r, bulwarkgrpc.WithRetryCodes(codes.Unavailable, codes.ResourceExhausted))),
		"stream":    errOf2(bulwarkgrpc.RetryStream(r, bulwarkgrpc.WithStreamBuffer(1))),
		"breaker":   errOf2(bulwarkgrpc.BreakerUnary(g, bulwarkgrpc.WithKey(bulwarkgrpc.ByTarget), bulwarkgrpc.WithFailureCodes(codes.Internal))),
		"bulkhead":  errOf2(bulwarkgrpc.BulkheadStream(a, bulwarkgrpc.WithDropCodes())),
		"hedge":     errOf2(bulwarkgrpc.HedgeUnary(retry.HedgeConfig{}, []string{testsvc.UnaryMethod}, bulwarkgrpc.WithRetryCodes(codes.Internal))),
		"shed":      errOf2(bulwarkgrpc.ShedStream(bh, bulwarkgrpc.WithPushback(0))),
		"ratelimit": errOf2(bulwarkgrpc.RateLimitStream(allowN{}, bulwarkgrpc.WithPushback(time.Second))),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func errOf2[T any](_ T, err error) error { return err }
