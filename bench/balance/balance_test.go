// Package balancebench compares bulwark's pickers with the floor, an atomic
// round robin over a slice (no in-flight accounting, no health, no Done).
// liblb (github.com/lafikl/liblb), the only standalone Go balancer library,
// is not available from the module proxy used here, so it is not measured.
package balancebench

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/balance"
)

func hosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d:80", i/250, i%250)
	}
	return out
}

// floor is the cheapest possible picker: what every real picker is
// measured against.
type floor struct {
	nodes []string
	next  atomic.Uint64
}

func (f *floor) pick() string { return f.nodes[(f.next.Add(1)-1)%uint64(len(f.nodes))] }

type pickDone func() string

func bulwark[P interface {
	Pick() (balance.Lease[string], error)
}](p P, err error) pickDone {
	if err != nil {
		panic(err)
	}
	return func() string {
		l, _ := p.Pick()
		l.Done(nil)
		return l.Node
	}
}

func contenders(n int) []struct {
	name string
	fn   pickDone
} {
	nodes := hosts(n)
	f := &floor{nodes: nodes}
	return []struct {
		name string
		fn   pickDone
	}{
		{"floor", f.pick},
		{"bulwark-roundrobin", bulwark(balance.NewRoundRobin(nodes, balance.Config{}))},
		{"bulwark-p2c", bulwark(balance.NewP2C(nodes, balance.Config{}))},
		{"bulwark-leastloaded", bulwark(balance.NewLeastLoaded(nodes, balance.Config{}))},
		{"bulwark-peakewma", bulwark(balance.NewPeakEWMA(nodes, balance.Config{}))},
	}
}

var sink string

// BenchmarkPick is one Pick plus its Done (for the floor, one pick) with 10
// nodes, single goroutine and RunParallel.
func BenchmarkPick(b *testing.B) {
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

func BenchmarkPickParallel(b *testing.B) {
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
