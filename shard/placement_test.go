package shard

import (
	"hash/fnv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// placementRouters builds one router of each hashing kind over fixed members,
// weights and removals, so that every placement rule (including Jump's remap of
// removed slots, Bounded's partition ring and Maglev's weighted population)
// takes part in TestPlacementKnownAnswers.
func placementRouters(t *testing.T) map[string]Replicated {
	t.Helper()
	must := func(r Replicated, err error) Replicated {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	m := names("node-", 7)
	j := must(NewJump(m)).(*Jump)
	j = must(j.Without("node-2")).(*Jump)
	j = must(j.Without("node-5")).(*Jump)
	return map[string]Replicated{
		"jump":       j,
		"ring":       must(NewRing(m, RingConfig{Weights: map[string]float64{"node-3": 1.5}})),
		"bounded":    must(NewBounded(m, BoundedConfig{})),
		"maglev":     must(NewMaglev(m, MaglevConfig{TableSize: 1009, Weights: map[string]float64{"node-1": 2}})),
		"rendezvous": must(NewRendezvous(m, RendezvousConfig{})),
	}
}

// Placements are part of the API (see Stability in the package doc): the owner
// and the first three replicas of 100,000 keys, folded into an FNV-1a digest,
// must never change, nor the owners of a few named keys.
func TestPlacementKnownAnswers(t *testing.T) {
	tests := []struct {
		router string
		digest uint64
		owners []string // of "", "user:42", "key-7"
	}{
		{"jump", 0x4e68f29ff29faee3, []string{"node-3", "node-6", "node-0"}},
		{"ring", 0x8fd4b801d642b483, []string{"node-4", "node-0", "node-6"}},
		{"bounded", 0xf8a4f5f99c76d317, []string{"node-1", "node-6", "node-0"}},
		{"maglev", 0x87811c29c3ad0564, []string{"node-5", "node-4", "node-3"}},
		{"rendezvous", 0xfced34c0cb34ebf1, []string{"node-1", "node-6", "node-5"}},
	}
	routers := placementRouters(t)
	for _, tt := range tests {
		t.Run(tt.router, func(t *testing.T) {
			r := routers[tt.router]
			f := fnv.New64a()
			for _, k := range testKeys()[:100_000] {
				f.Write([]byte(r.Locate(k)))
				for _, m := range r.LocateN(k, 3) {
					f.Write([]byte(m))
				}
				f.Write([]byte{0})
			}
			assert.Equal(t, tt.digest, f.Sum64(), "digest of Locate and LocateN(k, 3)")
			var owners []string
			for _, k := range []string{"", "user:42", "key-7"} {
				owners = append(owners, r.Locate(k))
			}
			assert.Equal(t, tt.owners, owners)
		})
	}
}
