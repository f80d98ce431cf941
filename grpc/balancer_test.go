package bulwarkgrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulwark-go/bulwark/balance"
	bulwarkgrpc "github.com/bulwark-go/bulwark/grpc"
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"github.com/bulwark-go/bulwark/shard"
	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/health" // client-side health checking
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fleetServer is one backend of a test fleet: it answers with its name,
// and fails with Unavailable while failing is set.
type fleetServer struct {
	name    string
	failing atomic.Bool
	srv     *testsvc.Server
	run     *testsvc.Running
}

func startFleet(t *testing.T, n int) ([]*fleetServer, []string) {
	t.Helper()
	fleet := make([]*fleetServer, n)
	addrs := make([]string, n)
	for i := range fleet {
		f := &fleetServer{name: fmt.Sprintf("s%d", i)}
		f.srv = &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
			if f.failing.Load() {
				return "", status.Error(codes.Unavailable, "injected: "+f.name+" is failing")
			}
			return f.name, nil
		}}
		f.run = testsvc.Start(t, f.srv)
		fleet[i], addrs[i] = f, f.run.Addr
	}
	return fleet, addrs
}

// warmUp calls until every named server has answered, so that every
// connection is ready; it fails t after 1000 calls.
func warmUp(t *testing.T, cc *grpc.ClientConn, names ...string) {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; i < 1000 && len(seen) < len(names); i++ {
		out, err := testsvc.Call(ctxT(t), cc, "warm-up")
		if err == nil {
			seen[out] = true
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Fatalf("server %s never answered during warm-up (seen %v)", n, seen)
		}
	}
}

func TestBalancerEjectsFailingServer(t *testing.T) {
	for _, name := range []string{bulwarkgrpc.P2CBalancer, bulwarkgrpc.PeakEWMABalancer, bulwarkgrpc.ConsistentHashBalancer} {
		t.Run(name, func(t *testing.T) {
			fleet, addrs := startFleet(t, 3)
			cfg := `{"ejectAfter": 3}`
			if name == bulwarkgrpc.ConsistentHashBalancer {
				cfg = `{"ejectAfter": 3, "hashKey": "x-user"}`
			}
			cc := dialFleet(t, addrs, fmt.Sprintf(`{"loadBalancingConfig": [{%q: %s}]}`, name, cfg))
			warmUp(t, cc, "s0", "s1", "s2")
			bad := fleet[1]
			badBefore := bad.srv.Calls()
			bad.failing.Store(true)

			const calls = 200
			errs := 0
			share := map[string]int{}
			for i := 0; i < calls; i++ {
				ctx := ctxT(t)
				if name == bulwarkgrpc.ConsistentHashBalancer {
					ctx = metadata.AppendToOutgoingContext(ctx, "x-user", fmt.Sprint("user-", i%20))
				}
				out, err := testsvc.Call(ctx, cc, "x")
				if err != nil {
					wantCode(t, err, codes.Unavailable, "s1 is failing")
					errs++
					continue
				}
				share[out]++
			}
			// P2C and consistent hashing send the failing server calls until
			// it is ejected; PeakEWMA may stop sooner, since each failure
			// also costs the server FailurePenalty in its latency estimate.
			got := bad.srv.Calls() - badBefore
			if got > 3 || name != bulwarkgrpc.PeakEWMABalancer && got != 3 {
				t.Fatalf("the failing server got %d calls, want 3 (ejected after 3 failures in a row)", got)
			}
			if int64(errs) != got {
				t.Fatalf("%d calls failed, want %d (the failing server's)", errs, got)
			}
			if share["s0"]+share["s2"] != calls-errs {
				t.Fatalf("traffic after ejection %v, want all of it on s0 and s2", share)
			}
			// P2C balances the two by in-flight calls and the ring by key,
			// so both get some. PeakEWMA may rightly send everything to the
			// one whose latency estimate is lower: these sequential calls
			// leave the other's estimate as warm-up left it, and it decays
			// over DecayTime (10 s), far longer than the test runs.
			if name != bulwarkgrpc.PeakEWMABalancer && (share["s0"] == 0 || share["s2"] == 0) {
				t.Fatalf("traffic after ejection %v, want it on both s0 and s2", share)
			}
		})
	}
}

func TestBalancerDoneReleasesLoad(t *testing.T) {
	entered := make(chan string, 4)
	release := map[string]chan struct{}{"a": make(chan struct{}, 4), "b": make(chan struct{}, 4)}
	var addrs []string
	names := map[string]string{}
	for _, n := range []string{"a", "b"} {
		run := testsvc.Start(t, &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
			if in == "warm-up" {
				return n, nil
			}
			entered <- n
			select {
			case <-release[n]:
				return n, nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}})
		addrs = append(addrs, run.Addr)
		names[run.Addr] = n
	}
	cc := dialFleet(t, addrs, `{"loadBalancingConfig": [{"bulwark_p2c": {}}]}`)
	warmUp(t, cc, "a", "b")
	ctx := ctxT(t)
	results := make(chan error, 3)
	call := func() string {
		go func() {
			_, err := testsvc.Call(ctx, cc, "held")
			results <- err
		}()
		return <-entered
	}
	first := call()
	second := call()
	if second == first {
		t.Fatalf("second call went to %s with one call in flight there, want the idle server", first)
	}
	release[first] <- struct{}{} // the first call's Done frees its server
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	if third := call(); third != first {
		t.Fatalf("third call went to %s, want %s (its only call has finished)", third, first)
	}
	release["a"] <- struct{}{}
	release["b"] <- struct{}{}
	for i := 0; i < 2; i++ {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
}

func TestConsistentHashAffinity(t *testing.T) {
	_, addrs := startFleet(t, 3)
	names := map[string]string{addrs[0]: "s0", addrs[1]: "s1", addrs[2]: "s2"}
	cc := dialFleet(t, addrs, `{"loadBalancingConfig": [{"bulwark_consistent_hash": {"hashKey": "X-User"}}]}`)
	warmUp(t, cc, "s0", "s1", "s2")
	ring, err := shard.NewRing(addrs, shard.RingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]bool{}
	for k := 0; k < 30; k++ {
		key := fmt.Sprint("user-", k)
		want := names[ring.Locate(key)]
		owners[want] = true
		for i := 0; i < 3; i++ { // sequential: loads stay balanced, no spill
			ctx := metadata.AppendToOutgoingContext(ctxT(t), "x-user", key)
			out, err := testsvc.Call(ctx, cc, "x")
			if err != nil {
				t.Fatal(err)
			}
			if out != want {
				t.Fatalf("key %s went to %s, want its ring owner %s", key, out, want)
			}
		}
	}
	if len(owners) < 2 {
		t.Fatalf("30 keys owned by %v, want them spread", owners)
	}
}

func TestBalancerSkipsUnhealthyServer(t *testing.T) {
	fleet, addrs := startFleet(t, 3)
	fleet[1].run.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	cc := dialFleet(t, addrs, `{"loadBalancingConfig": [{"bulwark_peak_ewma": {}}], "healthCheckConfig": {"serviceName": ""}}`)
	warmUp(t, cc, "s0", "s2")
	for i := 0; i < 50; i++ {
		if _, err := testsvc.Call(ctxT(t), cc, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if got := fleet[1].srv.Calls(); got != 0 {
		t.Fatalf("the NOT_SERVING server got %d calls, want 0", got)
	}
}

func TestBalancerParseConfig(t *testing.T) {
	tests := []struct {
		name, balancer, json string
		wantErr              string // "" means valid
	}{
		{"empty", bulwarkgrpc.P2CBalancer, `{}`, ""},
		{"every field", bulwarkgrpc.PeakEWMABalancer, `{"ejectAfter": 2, "ejectFor": "1s", "maxEjectFor": "10s", "maxEjectedPercent": 30, "panicPercent": 20, "slowStart": "5s", "decayTime": "2s", "failurePenalty": "1s"}`, ""},
		{"hash key", bulwarkgrpc.ConsistentHashBalancer, `{"hashKey": "x-user", "loadFactor": 1.5, "replicas": 100}`, ""},
		{"unknown field", bulwarkgrpc.P2CBalancer, `{"ejectAftr": 2}`, `unknown field "ejectAftr"`},
		{"bad duration", bulwarkgrpc.P2CBalancer, `{"ejectFor": "soon"}`, `ejectFor "soon" not a duration`},
		{"invalid value", bulwarkgrpc.P2CBalancer, `{"ejectAfter": -1}`, `EjectAfter -1`},
		{"load factor below 1", bulwarkgrpc.ConsistentHashBalancer, `{"hashKey": "k", "loadFactor": 0.5}`, `LoadFactor 0.5`},
		{"hash key missing", bulwarkgrpc.ConsistentHashBalancer, `{}`, `hashKey missing`},
		{"hash key elsewhere", bulwarkgrpc.P2CBalancer, `{"hashKey": "k"}`, `applies to bulwark_consistent_hash only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parser := balancer.Get(tt.balancer).(balancer.ConfigParser)
			_, err := parser.ParseConfig(json.RawMessage(tt.json))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseConfig(%s) = %v, want nil", tt.json, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseConfig(%s) = %v, want an error containing %q", tt.json, err, tt.wantErr)
			}
			if !errors.Is(err, bulwarkgrpc.ErrInvalidConfig) && !errors.Is(err, balance.ErrInvalidConfig) {
				t.Fatalf("ParseConfig error %v matches neither ErrInvalidConfig", err)
			}
		})
	}
}
