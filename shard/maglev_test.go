package shard

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Eisenbud et al., NSDI 2016, Table 1: M = 7, (offset, skip) = (3,4), (0,2), (3,1).
func TestMaglevPaperTable1(t *testing.T) {
	perms := []permutation{{3, 4}, {0, 2}, {3, 1}}
	t.Run("preference lists", func(t *testing.T) {
		want := [][]uint64{{3, 0, 4, 1, 5, 2, 6}, {0, 2, 4, 6, 1, 3, 5}, {3, 4, 5, 6, 0, 1, 2}}
		for i, p := range perms {
			got := make([]uint64, 7)
			for j, c := 0, p.offset; j < 7; j, c = j+1, advance(c, p.skip, 7) {
				got[j] = c
			}
			assert.Equal(t, want[i], got, "B%d", i+1)
		}
	})
	t.Run("before", func(t *testing.T) {
		// B2 B1 B2 B1 B3 B3 B1, backends numbered from 0 here.
		assert.Equal(t, []int32{1, 0, 1, 0, 2, 2, 0}, populate(perms, nil, 7))
	})
	t.Run("after removing B2", func(t *testing.T) {
		// B1 B1 B1 B1 B3 B3 B3: only slot 6 changes owner between survivors.
		got := populate([]permutation{perms[0], perms[2]}, nil, 7)
		assert.Equal(t, []int32{0, 0, 0, 0, 1, 1, 1}, got)
	})
}

func TestMaglevEntriesFloorCeil(t *testing.T) {
	tests := []struct{ members, size int }{{3, 7}, {10, 65537}, {100, 65537}, {1000, 65537}, {13, 1009}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d M=%d", tt.members, tt.size), func(t *testing.T) {
			g, err := NewMaglev(names("backend-", tt.members), MaglevConfig{TableSize: tt.size})
			require.NoError(t, err)
			entries := g.Entries()
			require.Len(t, entries, tt.members)
			lo, hi := tt.size/tt.members, (tt.size+tt.members-1)/tt.members
			for m, c := range entries {
				require.True(t, c == lo || c == hi, "%s owns %d entries, want %d or %d", m, c, lo, hi)
			}
		})
	}
}

// Envoy's Maglev documentation: weights 1 and 2 give 21,846 and 43,691 of
// 65,537 entries, i.e. the 1:2 split to within one entry per member per round.
func TestMaglevWeights(t *testing.T) {
	g, err := NewMaglev([]string{"A", "B"}, MaglevConfig{Weights: map[string]float64{"B": 2}})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"A": 21846, "B": 43691}, g.Entries())

	g3, err := NewMaglev([]string{"x", "y", "z"}, MaglevConfig{TableSize: 10007,
		Weights: map[string]float64{"x": 1, "y": 2, "z": 3}})
	require.NoError(t, err)
	rounds := 10007 / 3 // the heaviest member takes a turn every round
	for m, c := range g3.Entries() {
		w := map[string]float64{"x": 1, "y": 2, "z": 3}[m]
		assert.InDelta(t, 10007*w/6, float64(c), 2, "%s entries over %d rounds", m, rounds)
	}
}

// Removing 1% of 1,000 members rewrites ≤ 4% of the table between survivors
// (about 2.3% expected for this population).
func TestMaglevDisruption(t *testing.T) {
	members := names("backend-", 1000)
	g, err := NewMaglev(members, MaglevConfig{})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(8, 8))
	after := g
	removed := map[string]bool{}
	for _, i := range rng.Perm(1000)[:10] {
		removed[members[i]] = true
		after, err = after.Without(members[i])
		require.NoError(t, err)
	}
	changed := 0
	for slot, i := range g.table {
		was, now := g.members[i], after.members[after.table[slot]]
		if !removed[was] && was != now {
			changed++
		}
	}
	frac := float64(changed) / float64(len(g.table))
	t.Logf("surviving-member entries changed: %.4f", frac)
	assert.LessOrEqual(t, frac, 0.04)
	assert.Positive(t, changed, "Maglev is not perfectly stable; zero means the check is broken")
}

func TestMaglevLocateMatchesTable(t *testing.T) {
	g, err := NewMaglev(names("b", 5), MaglevConfig{TableSize: 251})
	require.NoError(t, err)
	for _, k := range testKeys()[:1000] {
		want := g.members[g.table[reduce(Hash(k), 251)]]
		require.Equal(t, want, g.Locate(k))
	}
}
