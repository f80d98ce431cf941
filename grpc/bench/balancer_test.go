package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/bulwark-go/bulwark/grpc" // registers the bulwark balancers
	"github.com/bulwark-go/bulwark/grpc/internal/testsvc"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/balancer/leastrequest" // registers least_request_experimental
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// The fleet: fleetSize servers answering after fastDelay, one of them after
// slowDelay, called by workers concurrent callers.
const (
	fleetSize = 5
	fastDelay = 1 * time.Millisecond
	slowDelay = 20 * time.Millisecond
	workers   = 32
)

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BenchmarkBalancerSlowServer sends the same load through each balancer to
// the same fleet and reports the p50 and p99 call latency and the share of
// calls the slow server received (fair share: 1/fleetSize = 20%).
func BenchmarkBalancerSlowServer(b *testing.B) {
	var addrs []resolver.Address
	var slowCalls atomic.Int64
	for i := 0; i < fleetSize; i++ {
		delay, counter := fastDelay, (*atomic.Int64)(nil)
		if i == 0 {
			delay, counter = slowDelay, &slowCalls
		}
		run := testsvc.Start(b, &testsvc.Server{Unary: func(ctx context.Context, in string) (string, error) {
			if counter != nil && in != "warm-up" {
				counter.Add(1)
			}
			return in, sleepCtx(ctx, delay)
		}})
		addrs = append(addrs, resolver.Address{Addr: run.Addr})
	}
	for _, name := range []string{"round_robin", "least_request_experimental", "bulwark_p2c", "bulwark_peak_ewma"} {
		b.Run(name, func(b *testing.B) {
			res := manual.NewBuilderWithScheme("bench")
			res.InitialState(resolver.State{Addresses: addrs})
			cc, err := grpc.NewClient("bench:///fleet",
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithResolvers(res),
				grpc.WithDefaultServiceConfig(fmt.Sprintf(`{"loadBalancingConfig": [{%q: {}}]}`, name)))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			ctx := context.Background()
			for i := 0; i < 4*fleetSize; i++ { // connect to every server
				if _, err := testsvc.Call(ctx, cc, "warm-up", grpc.WaitForReady(true)); err != nil {
					b.Fatal(err)
				}
			}
			slowBefore := slowCalls.Load()
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < workers; w++ {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						start := time.Now()
						if _, err := testsvc.Call(ctx, cc, "x"); err != nil {
							b.Error(err)
							return
						}
						lat[i] = time.Since(start)
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
			b.ReportMetric(100*float64(slowCalls.Load()-slowBefore)/float64(b.N), "slow-%")
		})
	}
}
