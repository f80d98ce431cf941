// Package shardbench compares bulwark/shard routers with peer libraries: Locate
// speed (BenchmarkLocate/<lib>) and the spread/movement table (TestSpreadTable).
package shardbench

import (
	"strconv"
	"unsafe"

	"github.com/bulwark-go/bulwark/shard"
	buraksezer "github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
	dgryskijump "github.com/dgryski/go-jump"
	rendezvous "github.com/dgryski/go-rendezvous"
	lithammer "github.com/lithammer/go-jump-consistent-hash"
	"github.com/serialx/hashring"
	stathat "github.com/stathat/consistent"
)

// locator is what every contestant is reduced to: key in, member name out.
type locator interface{ Locate(key string) string }

type locateFunc func(string) string

func (f locateFunc) Locate(k string) string { return f(k) }

// contestant builds one library's router over members.
type contestant struct {
	name  string
	build func(members []string) locator
}

func memberNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "node-" + strconv.Itoa(i)
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Every peer hashes keys with xxhash64, as shard does, so the comparison is of
// the routing structure, not of the hash function.
var contestants = []contestant{
	{"bulwark-jump", func(m []string) locator { return must(shard.NewJump(m)) }},
	{"bulwark-ring", func(m []string) locator { return must(shard.NewRing(m, shard.RingConfig{})) }},
	{"bulwark-bounded", func(m []string) locator { return must(shard.NewBounded(m, shard.BoundedConfig{})) }},
	{"bulwark-maglev", func(m []string) locator { return must(shard.NewMaglev(m, shard.MaglevConfig{})) }},
	{"bulwark-rendezvous", func(m []string) locator { return must(shard.NewRendezvous(m, shard.RendezvousConfig{})) }},
	{"buraksezer-consistent", newBuraksezer},
	{"stathat-consistent", newStathat},
	{"serialx-hashring", func(m []string) locator {
		r := hashring.New(m)
		return locateFunc(func(k string) string { n, _ := r.GetNode(k); return n })
	}},
	{"dgryski-go-jump", func(m []string) locator {
		return locateFunc(func(k string) string { return m[dgryskijump.Hash(xxhash.Sum64String(k), len(m))] })
	}},
	{"lithammer-jump", func(m []string) locator {
		n := int32(len(m))
		return locateFunc(func(k string) string { return m[lithammer.Hash(xxhash.Sum64String(k), n)] })
	}},
	{"dgryski-go-rendezvous", func(m []string) locator {
		r := rendezvous.New(m, xxhash.Sum64String)
		return locateFunc(r.Lookup)
	}},
	{"maglev-reference", func(m []string) locator { return newMaglevReference(m, 65537) }},
}

type burakMember string

func (m burakMember) String() string { return string(m) }

type xxHasher struct{}

func (xxHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// burakLocator hands LocateKey the key's bytes without copying (LocateKey
// only reads them), so the benchmark times LocateKey as if the caller already
// held a []byte: a plain []byte(k) would escape into the Hasher interface and
// add an allocation that is not the library's.
type burakLocator struct{ c *buraksezer.Consistent }

func (b burakLocator) Locate(k string) string {
	return b.c.LocateKey(unsafe.Slice(unsafe.StringData(k), len(k))).String()
}

func newBuraksezer(m []string) locator {
	members := make([]buraksezer.Member, len(m))
	for i, name := range m {
		members[i] = burakMember(name)
	}
	// The package's documented example configuration, with xxhash.
	return burakLocator{buraksezer.New(members, buraksezer.Config{
		PartitionCount: 271, ReplicationFactor: 20, Load: 1.25, Hasher: xxHasher{},
	})}
}

func newStathat(m []string) locator {
	c := stathat.New()
	c.Set(m)
	return locateFunc(func(k string) string {
		n, err := c.Get(k)
		if err != nil {
			panic(err)
		}
		return n
	})
}

// maglevReference is the plainest Maglev: the paper's Pseudocode 1 with
// (offset, skip) from two xxhash seeds, and lookup table[h mod M]. It stands
// in for dgryski/go-maglev, which the module proxy here does not serve.
type maglevReference struct {
	members []string
	table   []int
}

func newMaglevReference(members []string, m int) *maglevReference {
	n := len(members)
	offset, skip, next := make([]int, n), make([]int, n), make([]int, n)
	for i, name := range members {
		offset[i] = int(xxhash.Sum64String(name) % uint64(m))
		skip[i] = int(xxhash.Sum64String(name+"#skip")%uint64(m-1)) + 1
	}
	table := make([]int, m)
	for i := range table {
		table[i] = -1
	}
	for filled := 0; filled < m; {
		for i := 0; i < n && filled < m; i++ {
			c := (offset[i] + next[i]*skip[i]) % m
			for table[c] >= 0 {
				next[i]++
				c = (offset[i] + next[i]*skip[i]) % m
			}
			table[c] = i
			next[i]++
			filled++
		}
	}
	return &maglevReference{members: members, table: table}
}

func (g *maglevReference) Locate(k string) string {
	return g.members[g.table[xxhash.Sum64String(k)%uint64(len(g.table))]]
}
