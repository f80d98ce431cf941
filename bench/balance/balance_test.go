// Package balancebench compares bulwark's pickers with two peers' P2C
// balancers and with the floor, an atomic round robin over a slice (no
// in-flight accounting, no health, no Done):
//
//   - go-kratos/kratos v2 selector/p2c: the p2c selector over its EWMA
//     nodes (selector/node/ewma), used through Selector.Select and the
//     returned DoneFunc, as a kratos client does;
//   - zeromicro/go-zero's p2c_ewma balancer (zrpc/internal/balancer/p2c): an
//     internal package, so it is reached the way gRPC reaches it, through
//     the balancer registry, with a stand-in ClientConn whose SubConns are
//     all READY; the benchmark calls the resulting picker's Pick and the
//     PickResult's Done, which is what gRPC does per RPC.
//
// Every contender does the same per-request work: pick a node, then report
// a successful outcome. Anything a contender allocates per request is its
// own (kratos and go-zero return a Done closure per pick); the benchmark
// allocates nothing per iteration.
//
// liblb (github.com/lafikl/liblb) is not available from the module proxy
// used here, so it is not measured.
package balancebench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/go-kratos/kratos/v2/selector"
	kratosp2c "github.com/go-kratos/kratos/v2/selector/p2c"
	"github.com/zeromicro/go-zero/core/logx"
	_ "github.com/zeromicro/go-zero/zrpc" // registers go-zero's p2c_ewma balancer with gRPC
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
)

func init() { logx.Disable() } // go-zero's picker logs its stats every minute

func hosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d:80", i/250, i%250)
	}
	return out
}

// pickDone is one request's worth of balancing: pick, then report success.
type pickDone func() string

// floor is the cheapest possible picker: what every real picker is
// measured against.
type floor struct {
	nodes []string
	next  atomic.Uint64
}

func (f *floor) pick() string { return f.nodes[(f.next.Add(1)-1)%uint64(len(f.nodes))] }

func bulwark[P balance.Picker[string]](p P, err error) pickDone {
	if err != nil {
		panic(err)
	}
	return func() string {
		permit, _ := p.Pick()
		permit.Done(nil)
		return permit.Node
	}
}

// kratos is kratos's p2c selector (EWMA nodes) over nodes.
func kratos(nodes []string) pickDone {
	sel := kratosp2c.New()
	ns := make([]selector.Node, len(nodes))
	for i, addr := range nodes {
		ns[i] = selector.NewNode("http", addr, nil)
	}
	sel.Apply(ns)
	ctx := context.Background()
	return func() string {
		n, done, err := sel.Select(ctx)
		if err != nil {
			panic(err)
		}
		done(ctx, selector.DoneInfo{})
		return n.Address()
	}
}

// goZero is go-zero's p2c_ewma picker over nodes, built by gRPC's base
// balancer with every SubConn READY.
func goZero(nodes []string) pickDone {
	builder := balancer.Get("p2c_ewma")
	if builder == nil {
		panic("go-zero's p2c_ewma balancer is not registered")
	}
	cc := &stubClientConn{}
	b := builder.Build(cc, balancer.BuildOptions{})
	addrs := make([]resolver.Address, len(nodes))
	for i, n := range nodes {
		addrs[i] = resolver.Address{Addr: n}
	}
	if err := b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Addresses: addrs}}); err != nil {
		panic(err)
	}
	for _, sc := range cc.subConns {
		sc.listener(balancer.SubConnState{ConnectivityState: connectivity.Ready})
	}
	picker := cc.picker
	addrOf := make(map[balancer.SubConn]string, len(nodes))
	for _, sc := range cc.subConns {
		addrOf[sc] = sc.addr
	}
	if len(addrOf) != len(nodes) {
		panic("go-zero: not every SubConn was created")
	}
	info := balancer.PickInfo{FullMethodName: "/bench.Service/Call", Ctx: context.Background()}
	return func() string {
		res, err := picker.Pick(info)
		if err != nil {
			panic(err)
		}
		res.Done(balancer.DoneInfo{})
		return addrOf[res.SubConn]
	}
}

// stubClientConn is the part of gRPC's ClientConn a base balancer uses.
type stubClientConn struct {
	balancer.ClientConn // embedded for the interface's unexported method; never called
	subConns            []*stubSubConn
	picker              balancer.Picker
}

func (c *stubClientConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	sc := &stubSubConn{addr: addrs[0].Addr, listener: opts.StateListener}
	c.subConns = append(c.subConns, sc)
	return sc, nil
}
func (c *stubClientConn) UpdateState(s balancer.State)                         { c.picker = s.Picker }
func (c *stubClientConn) RemoveSubConn(balancer.SubConn)                       {}
func (c *stubClientConn) UpdateAddresses(balancer.SubConn, []resolver.Address) {}
func (c *stubClientConn) ResolveNow(resolver.ResolveNowOptions)                {}
func (c *stubClientConn) Target() string                                       { return "bench" }

type stubSubConn struct {
	balancer.SubConn // embedded for the interface's unexported method; never called
	addr             string
	listener         func(balancer.SubConnState)
}

func (s *stubSubConn) Connect()  {}
func (s *stubSubConn) Shutdown() {}

type contender struct {
	name string
	fn   pickDone
}

// contenders are the rows of BenchmarkPickDone: the floor, bulwark's
// simpler pickers, then P2C and PeakEWMA each beside the two peers (the
// peers' P2C balancers both score nodes by an EWMA of latency, so they are
// the counterpart of both).
func contenders(n int) []contender {
	nodes := hosts(n)
	f := &floor{nodes: nodes}
	return []contender{
		{"floor", f.pick},
		{"RoundRobin/bulwark", bulwark(balance.NewRoundRobin(nodes, balance.Config{}))},
		{"LeastLoaded/bulwark", bulwark(balance.NewLeastLoaded(nodes, balance.Config{}))},
		{"P2C/bulwark", bulwark(balance.NewP2C(nodes, balance.Config{}))},
		{"P2C/kratos", kratos(nodes)},
		{"P2C/go-zero", goZero(nodes)},
		{"PeakEWMA/bulwark", bulwark(balance.NewPeakEWMA(nodes, balance.Config{}))},
		{"PeakEWMA/kratos", kratos(nodes)},
		{"PeakEWMA/go-zero", goZero(nodes)},
	}
}

var sink string

// BenchmarkPickDone is one pick plus its Done (for the floor, one pick) over
// 10 nodes from one goroutine.
func BenchmarkPickDone(b *testing.B) {
	for _, c := range contenders(10) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var s string
			for b.Loop() {
				s = c.fn()
			}
			sink = s
		})
	}
}

// BenchmarkPickDoneParallel is BenchmarkPickDone under b.RunParallel.
func BenchmarkPickDoneParallel(b *testing.B) {
	for _, c := range contenders(10) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var s string
				for pb.Next() {
					s = c.fn()
				}
				_ = s
			})
		})
	}
}

var sinkD time.Duration

// BenchmarkClock is the cost of one monotonic clock reading on this machine:
// PeakEWMA takes two per request (Pick and Done), so this bounds it.
func BenchmarkClock(b *testing.B) {
	base := time.Now()
	for b.Loop() {
		sinkD += time.Since(base)
	}
}
