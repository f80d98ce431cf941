package bulwarkgrpc

import (
	"context"
	"testing"

	"github.com/bulwark-go/bulwark/balance"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeSubConn stands in for a ready connection; Pick only hands it back.
type fakeSubConn struct {
	balancer.SubConn
	name string
}

func testPicker(t testing.TB) (*picker, *balance.P2C[string]) {
	t.Helper()
	p2c, err := balance.NewP2C([]string{"a", "b", "c"}, balance.Config{EjectAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	conns := map[string]balancer.SubConn{}
	for _, n := range []string{"a", "b", "c"} {
		conns[n] = &fakeSubConn{name: n}
	}
	return &picker{pool: p2c, conns: conns}, p2c
}

func TestPickAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	p, _ := testPicker(t)
	info := balancer.PickInfo{FullMethodName: "/s/m", Ctx: context.Background()}
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := p.Pick(info)
		if err != nil {
			t.Fatal(err)
		}
		r.Done(balancer.DoneInfo{BytesSent: true, BytesReceived: true})
	})
	if allocs != 0 {
		t.Fatalf("Pick and Done allocate %v times, want 0", allocs)
	}
}

func TestPickDoneOutcomes(t *testing.T) {
	tests := []struct {
		name         string
		info         balancer.DoneInfo
		wantFailures int64
		wantInFlight int64
	}{
		{"OK", balancer.DoneInfo{BytesSent: true}, 0, 0},
		{"answer", balancer.DoneInfo{Err: status.Error(codes.NotFound, "x"), BytesSent: true}, 0, 0},
		{"cancelled", balancer.DoneInfo{Err: status.Error(codes.Canceled, "x"), BytesSent: true}, 0, 0},
		{"unavailable", balancer.DoneInfo{Err: status.Error(codes.Unavailable, "x"), BytesSent: true}, 1, 0},
		{"deadline", balancer.DoneInfo{Err: status.Error(codes.DeadlineExceeded, "x"), BytesSent: true}, 1, 0},
		{"not sent", balancer.DoneInfo{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, p2c := testPicker(t)
			r, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
			if err != nil {
				t.Fatal(err)
			}
			node := r.SubConn.(*fakeSubConn).name
			var inFlight int64
			for _, n := range p2c.Stats().Nodes {
				inFlight += n.InFlight
			}
			if inFlight != 1 {
				t.Fatalf("in flight after Pick = %d, want 1", inFlight)
			}
			r.Done(tt.info)
			for _, n := range p2c.Stats().Nodes {
				if n.Node == node && (n.Failures != tt.wantFailures || n.InFlight != tt.wantInFlight) {
					t.Fatalf("node %s: %d failures, %d in flight; want %d, %d", node, n.Failures, n.InFlight, tt.wantFailures, tt.wantInFlight)
				}
			}
		})
	}
}
