package shard

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 8: weighted shares within 1% (absolute) of w/Σw over 10^6 keys.
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

// Issue 8: removing a member moves only its keys; adding one moves only keys to it.
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
