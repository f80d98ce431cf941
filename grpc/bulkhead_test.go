package bulwarkgrpc_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/bulkhead"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// blocking returns a unary handler that signals entered and waits for
// release (or its context) before echoing.
func blocking(entered chan<- struct{}, release <-chan struct{}) func(ctx context.Context, in string) (string, error) {
	return func(ctx context.Context, in string) (string, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return in, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func newBulkhead(t testing.TB, n int) *bulkhead.Bulkhead {
	t.Helper()
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: n})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBulkheadUnaryRejection(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv := &testsvc.Server{Unary: blocking(entered, release)}
	run := testsvc.Start(t, srv)
	bh := newBulkhead(t, 1)
	bi, err := bulwarkgrpc.BulkheadUnary(bh)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(bi))
	ctx := ctxT(t)
	first := make(chan error, 1)
	go func() {
		_, err := testsvc.Call(ctx, cc, "first")
		first <- err
	}()
	<-entered
	_, err = testsvc.Call(ctx, cc, "second")
	wantCode(t, err, codes.ResourceExhausted, "bulwark: bulkhead rejected the call", "full")
	if !errors.Is(err, bulkhead.ErrRejected) || !errors.Is(err, bulwark.ErrNotAttempted) {
		t.Fatalf("error %v does not match bulkhead.ErrRejected and bulwark.ErrNotAttempted", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := testsvc.Call(ctx, cc, "third"); err != nil {
		t.Fatalf("after the first call ended: %v, want a free slot", err)
	}
	if got := srv.Calls(); got != 2 {
		t.Fatalf("server saw %d calls, want 2", got)
	}
}

func TestBulkheadStreamHoldsPermitUntilStreamEnds(t *testing.T) {
	srv := &testsvc.Server{}
	run := testsvc.Start(t, srv)
	bh := newBulkhead(t, 1)
	bs, err := bulwarkgrpc.BulkheadStream(bh)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithStreamInterceptor(bs))
	ctx := ctxT(t)
	s, err := testsvc.OpenStream(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = testsvc.OpenStream(ctx, cc)
	wantCode(t, err, codes.ResourceExhausted, "bulkhead rejected the call")
	if err := s.Send("x"); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(s); err != nil {
		t.Fatal(err)
	}
	if st := bh.Stats(); st.InFlight != 0 {
		t.Fatalf("in flight after the stream ended: %d, want 0", st.InFlight)
	}
	s2, err := testsvc.OpenStream(ctx, cc)
	if err != nil {
		t.Fatalf("OpenStream after the first ended: %v", err)
	}
	_ = s2.CloseSend()
	if _, err := recvAll(s2); err != nil {
		t.Fatal(err)
	}
}

func TestBulkheadAdaptiveDropsOnOverload(t *testing.T) {
	srv := &testsvc.Server{Unary: failing(codes.ResourceExhausted, -1, "")}
	run := testsvc.Start(t, srv)
	a, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{Algorithm: bulkhead.AIMD, InitialLimit: 10, WindowSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	bi, err := bulwarkgrpc.BulkheadUnary(a)
	if err != nil {
		t.Fatal(err)
	}
	cc := dial(t, run.Addr, grpc.WithUnaryInterceptor(bi))
	for i := 0; i < 20; i++ {
		_, err := testsvc.Call(ctxT(t), cc, "hi")
		wantCode(t, err, codes.ResourceExhausted, "injected")
	}
	st := a.Stats()
	if st.Dropped != 20 {
		t.Fatalf("Dropped = %d, want 20 (every ResourceExhausted is a drop)", st.Dropped)
	}
	if st.Limit >= 10 {
		t.Fatalf("limit %d after 20 drops, want below the initial 10", st.Limit)
	}
}
