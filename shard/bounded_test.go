package shard

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// partitionLoads counts partitions per member.
func partitionLoads(b *Bounded) map[string]int {
	out := map[string]int{}
	for p := range b.cfg.Partitions {
		out[b.Owner(p)]++
	}
	return out
}

// No member is above ceil(c·P/n), for any membership.
func TestBoundedNeverAboveBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	configs := []BoundedConfig{{}, {LoadFactor: 1.01}, {Partitions: 7, LoadFactor: 1.1}, {Partitions: 1009, LoadFactor: 2}}
	for _, cfg := range configs {
		for _, n := range []int{1, 2, 3, 7, 10, 25, 50} {
			t.Run(fmt.Sprintf("%+v n=%d", cfg, n), func(t *testing.T) {
				members := names(fmt.Sprintf("m%d-", rng.IntN(1000)), n)
				b, err := NewBounded(members, cfg)
				if cfg.Partitions != 0 && cfg.Partitions < n {
					require.ErrorIs(t, err, ErrInvalidConfig)
					return
				}
				require.NoError(t, err)
				c := b.cfg
				bound := (int(c.LoadFactor*float64(c.Partitions)) + n - 1) / n
				assert.LessOrEqual(t, b.Bound(), bound+1)
				total := 0
				for m, l := range partitionLoads(b) {
					require.LessOrEqual(t, l, b.Bound(), "member %s", m)
					total += l
				}
				assert.Equal(t, c.Partitions, total)
			})
		}
	}
}

// Adding a member moves at most twice the ideal fraction 1/(n+1),
// while members hold ≥ 10 partitions each (see the Bounded doc for fewer).
func TestBoundedMovement(t *testing.T) {
	keys := testKeys()[:100_000]
	for seed := range 5 {
		for n := 2; n <= 26; n++ {
			t.Run(fmt.Sprintf("names=%d n=%d", seed, n), func(t *testing.T) {
				b, err := NewBounded(names(fmt.Sprintf("x%d-", seed), n), BoundedConfig{})
				require.NoError(t, err)
				b2, err := b.With("newcomer")
				require.NoError(t, err)
				moved := 0
				for p := range b.cfg.Partitions {
					if b.Owner(p) != b2.Owner(p) {
						moved++
					}
				}
				ideal := 1 / float64(n+1)
				assert.LessOrEqual(t, float64(moved)/float64(b.cfg.Partitions), 2*ideal, "partitions")
				if n%8 == 2 { // keys follow partitions; check a few sizes end to end
					assert.LessOrEqual(t, MovedFraction(b, b2, seq(keys)), 2*ideal+0.01, "keys")
				}
			})
		}
	}
}

func TestBoundedLocate(t *testing.T) {
	b, err := NewBounded(names("n", 4), BoundedConfig{Partitions: 31})
	require.NoError(t, err)
	for _, k := range testKeys()[:1000] {
		require.Equal(t, b.Owner(b.Partition(k)), b.Locate(k))
	}
	assert.Equal(t, "", b.Owner(31))
	assert.Equal(t, "", b.Owner(-1))
}
