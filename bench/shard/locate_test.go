package shardbench

import (
	"fmt"
	"strconv"
	"testing"
)

var keys = func() []string {
	k := make([]string, 4096)
	for i := range k {
		k[i] = "user:" + strconv.Itoa(i*7919)
	}
	return k
}()

var sink string

// BenchmarkLocate/<lib>/members=N: one key lookup, keys precomputed.
func BenchmarkLocate(b *testing.B) {
	for _, n := range []int{10, 100} {
		members := memberNames(n)
		for _, c := range contestants {
			l := c.build(members)
			b.Run(fmt.Sprintf("%s/members=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				var s string
				i := 0
				for b.Loop() {
					s = l.Locate(keys[i&4095])
					i++
				}
				sink = s
			})
		}
	}
}

// BenchmarkLocateParallel is BenchmarkLocate from every P at once: it shows
// locks (buraksezer's RWMutex, stathat's) that the single-goroutine run hides.
func BenchmarkLocateParallel(b *testing.B) {
	members := memberNames(10)
	for _, c := range contestants {
		l := c.build(members)
		b.Run(c.name+"/members=10", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var s string
				i := 0
				for pb.Next() {
					s = l.Locate(keys[i&4095])
					i++
				}
				sink = s
			})
		})
	}
}
