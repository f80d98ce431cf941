package balance

import (
	"fmt"
	"testing"
)

type pickerFactory struct {
	name string
	new  func(nodes []string) (Picker[string], error)
}

var benchPickers = []pickerFactory{
	{"RoundRobin", func(n []string) (Picker[string], error) { return NewRoundRobin(n, Config{}) }},
	{"WeightedRoundRobin", func(n []string) (Picker[string], error) { return NewWeightedRoundRobin(weighted(n), Config{}) }},
	{"Random", func(n []string) (Picker[string], error) { return NewRandom(n, Config{}) }},
	{"WeightedRandom", func(n []string) (Picker[string], error) { return NewWeightedRandom(weighted(n), Config{}) }},
	{"LeastLoaded", func(n []string) (Picker[string], error) { return NewLeastLoaded(n, Config{}) }},
	{"P2C", func(n []string) (Picker[string], error) { return NewP2C(n, Config{}) }},
	{"PeakEWMA", func(n []string) (Picker[string], error) { return NewPeakEWMA(n, Config{}) }},
	{"PeakEWMA-SlowFactor", func(n []string) (Picker[string], error) { return NewPeakEWMA(n, Config{SlowFactor: 5}) }},
	{"Consistent", func(n []string) (Picker[string], error) { return NewConsistent(n, Config{}) }},
}

// weighted gives node i weight i%3+1.
func weighted(nodes []string) []Weighted[string] {
	ws := make([]Weighted[string], len(nodes))
	for i, n := range nodes {
		ws[i] = Weighted[string]{Node: n, Weight: i%3 + 1}
	}
	return ws
}

func hosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d:80", i/250, i%250)
	}
	return out
}

// BenchmarkPickDone measures one Pick plus its Done, the whole per-request
// cost of a picker.
func BenchmarkPickDone(b *testing.B) {
	for _, pf := range benchPickers {
		for _, n := range []int{10, 100} {
			p, err := pf.new(hosts(n))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/nodes=%d", pf.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					l, _ := p.Pick()
					l.Done(nil)
				}
			})
			b.Run(fmt.Sprintf("%s/nodes=%d/parallel", pf.name, n), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						l, _ := p.Pick()
						l.Done(nil)
					}
				})
			})
		}
	}
}

// BenchmarkPickKeyDone measures Consistent's keyed path.
func BenchmarkPickKeyDone(b *testing.B) {
	keys := hosts(1024)
	for _, n := range []int{10, 100} {
		c, err := NewConsistent(hosts(n), Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l, _ := c.PickKey(keys[i&1023])
				l.Done(nil)
				i++
			}
		})
	}
}

// BenchmarkUpdate swaps between two 100-node sets sharing 90 nodes.
func BenchmarkUpdate(b *testing.B) {
	all := hosts(110)
	sets := [][]string{all[:100], all[10:]}
	p, err := NewP2C(sets[0], Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := p.Update(sets[i&1]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPickDoneObserver is BenchmarkPickDone with an Observer set: a
// Pick and Done that change no node's state report nothing and cost the
// same.
func BenchmarkPickDoneObserver(b *testing.B) {
	var events int
	cfg := Config{Observer: func(Event) { events++ }}
	for _, pf := range []pickerFactory{
		{"RoundRobin", func(n []string) (Picker[string], error) { return NewRoundRobin(n, cfg) }},
		{"P2C", func(n []string) (Picker[string], error) { return NewP2C(n, cfg) }},
		{"PeakEWMA", func(n []string) (Picker[string], error) { return NewPeakEWMA(n, cfg) }},
	} {
		p, err := pf.new(hosts(10))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(pf.name+"/nodes=10", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l, _ := p.Pick()
				l.Done(nil)
			}
		})
	}
	if events != 0 {
		b.Fatalf("%d events without a state change", events)
	}
}
