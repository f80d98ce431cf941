package shard

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Weighted shares are within 1% (absolute) of w/Σw over 10^6 keys.
func TestRendezvousWeightedShares(t *testing.T) {
	keys := testKeys()
	weights := map[string]float64{"a": 1, "b": 2, "c": 3, "d": 4}
	r, err := NewRendezvous([]string{"a", "b", "c", "d"}, RendezvousConfig{Weights: weights})
	require.NoError(t, err)
	load := loads(r, keys)
	for m, w := range weights {
		assert.InDelta(t, w/10, float64(load[m])/float64(len(keys)), 0.01, "member %s", m)
	}
}

func TestRendezvousUniformShares(t *testing.T) {
	keys := testKeys()
	r, err := NewRendezvous(names("node-", 10), RendezvousConfig{})
	require.NoError(t, err)
	// A multinomial with 10^5 expected per member has sd ≈ 300 (0.3%).
	assert.LessOrEqual(t, maxOverMean(loads(r, keys), 10, len(keys)), 1.015)
}

// Removing a member moves only its keys; adding one moves only keys to it.
func TestRendezvousMovement(t *testing.T) {
	keys := testKeys()[:200_000]
	for _, weights := range []map[string]float64{nil, {"node-3": 3, "node-5": 0.5}} {
		r, err := NewRendezvous(names("node-", 10), RendezvousConfig{Weights: weights})
		require.NoError(t, err)
		without, err := r.Without("node-3")
		require.NoError(t, err)
		for m := range Moves(r, without, seq(keys)) {
			require.Equal(t, "node-3", m.From, "key %s moved from a surviving member", m.Key)
		}
		with, err := r.With("node-10")
		require.NoError(t, err)
		frac, targets := movedTo(r, with, keys)
		assert.Equal(t, map[string]int{"node-10": targets["node-10"]}, targets)
		assert.Positive(t, frac)
	}
}

// referenceOwner applies the documented placement rule by a plain linear scan:
// score = Hash(k)·(Hash(m)|1) mod 2^64, highest wins; on a tie of the score's
// high bits (above the ⌈log2 n⌉ rank bits) the smaller name wins.
func referenceOwner(members []string, key string) string {
	sorted := slices.Sorted(slices.Values(members))
	var mask uint64
	for mask < uint64(len(sorted)-1) {
		mask = mask<<1 | 1
	}
	best, top := "", uint64(0)
	for i, m := range sorted {
		score := Hash(key) * (Hash(m) | 1) &^ mask
		if i == 0 || score > top {
			best, top = m, score
		}
	}
	return best
}

func TestRendezvousFollowsDocumentedRule(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 10, 16, 17, 100} {
		members := names("node-", n)
		r, err := NewRendezvous(members, RendezvousConfig{})
		require.NoError(t, err)
		for _, k := range testKeys()[:20_000] {
			require.Equal(t, referenceOwner(members, k), r.Locate(k), "n=%d key %s", n, k)
		}
	}
}

// The placement is part of the API (see Stability in the package doc): these
// answers must never change.
func TestRendezvousKnownAnswers(t *testing.T) {
	r, err := NewRendezvous(names("node-", 10), RendezvousConfig{})
	require.NoError(t, err)
	got := make([]string, 0, 8)
	for i, k := range []string{"", "a", "user:42", "tenant-7", "key-0", "key-1", "key-2", "key-999999"} {
		got = append(got, r.Locate(k))
		assert.Equal(t, rendezvousKnown[i], referenceOwner(names("node-", 10), k), "rule for %q", k)
	}
	assert.Equal(t, rendezvousKnown, got)

	w, err := NewRendezvous([]string{"east", "west", "north"}, RendezvousConfig{Weights: map[string]float64{"east": 2}})
	require.NoError(t, err)
	assert.Equal(t, []string{"east", "north", "west"}, w.LocateN("tenant-7", 3))
}

var rendezvousKnown = []string{"node-1", "node-0", "node-6", "node-2", "node-1", "node-5", "node-6", "node-1"}

func TestRendezvousBalanceAndSecondChoice(t *testing.T) {
	keys := testKeys()
	r, err := NewRendezvous(names("node-", 100), RendezvousConfig{})
	require.NoError(t, err)
	// 10^4 expected per member, sd 1%: max/mean ≤ 1.05 is > 4.5 sd.
	assert.LessOrEqual(t, maxOverMean(loads(r, keys), 100, len(keys)), 1.05)

	// The runner-up (the owner if the first choice left) is uniform over the
	// others too: replicas spread as evenly as primaries.
	r10, err := NewRendezvous(names("node-", 10), RendezvousConfig{})
	require.NoError(t, err)
	second := map[string]int{}
	pairs := map[[2]string]int{}
	for _, k := range keys[:500_000] {
		top := r10.LocateN(k, 2)
		require.Equal(t, r10.Locate(k), top[0])
		second[top[1]]++
		pairs[[2]string{top[0], top[1]}]++
	}
	assert.LessOrEqual(t, maxOverMean(second, 10, 500_000), 1.03)
	assert.Len(t, pairs, 90, "every ordered pair of members occurs")
	for p, c := range pairs {
		// 500,000/90 ≈ 5,556 expected, sd ≈ 74: ±10% is > 7 sd.
		assert.InEpsilon(t, 500_000.0/90, float64(c), 0.10, "pair %v", p)
	}
}
