package shard

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// benchKeys are precomputed so the loops time Locate, not key formatting.
var benchKeys = func() []string {
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i*7919)
	}
	return keys
}()

// benchRouters builds every router over n members, plus each one with an
// extra member, for the movement metric.
func benchRouters(b *testing.B, n int) []struct {
	name          string
	before, after Router
} {
	b.Helper()
	members := make([]string, n)
	for i := range members {
		members[i] = fmt.Sprintf("node-%d", i)
	}
	must := func(r Router, err error) Router {
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	j := must(NewJump(members)).(*Jump)
	r := must(NewRing(members, RingConfig{})).(*Ring)
	bd := must(NewBounded(members, BoundedConfig{})).(*Bounded)
	m := must(NewMaglev(members, MaglevConfig{})).(*Maglev)
	h := must(NewRendezvous(members, RendezvousConfig{})).(*Rendezvous)
	rng := must(NewRange(evenSpans(members))).(*Range)
	return []struct {
		name          string
		before, after Router
	}{
		{"jump", j, must(j.With("extra"))},
		{"ring", r, must(r.With("extra"))},
		{"bounded", bd, must(bd.With("extra"))},
		{"maglev", m, must(m.With("extra"))},
		{"rendezvous", h, must(h.With("extra"))},
		{"range", rng, must(rng.Split(rng.spans[len(rng.spans)-1].Start+"5", "extra"))},
	}
}

// evenSpans splits the "user:" key space evenly by first digit among members.
func evenSpans(members []string) []Span {
	spans := []Span{{Start: "", Member: members[0]}}
	for i := 1; i < len(members); i++ {
		start := "user:" + strconv.Itoa(i*1000/len(members))
		if start <= spans[len(spans)-1].Start {
			continue
		}
		spans[len(spans)-1].End = start
		spans = append(spans, Span{Start: start, Member: members[i]})
	}
	return spans
}

var spreadCache sync.Map // name → [2]float64{max/mean, moved}

// spread returns max/mean load over 100,000 keys and the fraction that moves
// when one member joins (ideal 1/(n+1)), computed once per router and size.
func spread(name string, before, after Router) [2]float64 {
	if v, ok := spreadCache.Load(name); ok {
		return v.([2]float64)
	}
	load := map[string]int{}
	moved := 0
	const keys = 100_000
	for i := range keys {
		k := "spread:" + strconv.Itoa(i)
		owner := before.Locate(k)
		load[owner]++
		if after.Locate(k) != owner {
			moved++
		}
	}
	top := 0
	for _, c := range load {
		top = max(top, c)
	}
	v := [2]float64{float64(top) * float64(len(before.Members())) / keys, float64(moved) / keys}
	spreadCache.Store(name, v)
	return v
}

var sink string

func BenchmarkLocate(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, r := range benchRouters(b, n) {
			name := fmt.Sprintf("%s/members=%d", r.name, n)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				var s string
				i := 0
				for b.Loop() {
					s = r.before.Locate(benchKeys[i&4095])
					i++
				}
				sink = s
				if r.name == "range" {
					return // hand-placed spans: spread says nothing about the router
				}
				v := spread(name, r.before, r.after)
				b.ReportMetric(v[0], "max/mean")
				b.ReportMetric(v[1], "moved")
			})
		}
	}
}

func BenchmarkLocateParallel(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, r := range benchRouters(b, n) {
			b.Run(fmt.Sprintf("%s/members=%d", r.name, n), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					var s string
					i := 0
					for pb.Next() {
						s = r.before.Locate(benchKeys[i&4095])
						i++
					}
					sink = s
				})
			})
		}
	}
}

func BenchmarkNewRing(b *testing.B) {
	members := names("node-", 100)
	b.Run("members=100/vnodes=160", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewRing(members, RingConfig{VirtualNodes: 160}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkNewMaglev(b *testing.B) {
	members := names("backend-", 1000)
	b.Run("members=1000/M=65537", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewMaglev(members, MaglevConfig{TableSize: 65537}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHash(b *testing.B) {
	for _, size := range []int{8, 32, 256} {
		key := string(make([]byte, size))
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var h uint64
			for b.Loop() {
				h += Hash(key)
			}
			hashSink = h
		})
	}
}

var hashSink uint64
