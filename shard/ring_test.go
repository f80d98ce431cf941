package shard

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With 160 virtual nodes and 10 members, max/mean ≤ 1.25 over 10^6 keys (the
// arc-length spread √((n−1)/(nV+1)) ≈ 7.5% puts the expected max/mean near
// 1.1); adding an 11th moves 8–11% of keys, all to it (ideal 1/11 ≈ 9.09%).
func TestRingBalanceAndMovement(t *testing.T) {
	keys := testKeys()
	r, err := NewRing(names("node-", 10), RingConfig{})
	require.NoError(t, err)
	ratio := maxOverMean(loads(r, keys), 10, len(keys))
	assert.LessOrEqual(t, ratio, 1.25, "max/mean")

	r11, err := r.With("node-10")
	require.NoError(t, err)
	frac, targets := movedTo(r, r11, keys)
	assert.GreaterOrEqual(t, frac, 0.08)
	assert.LessOrEqual(t, frac, 0.11)
	assert.Equal(t, map[string]int{"node-10": targets["node-10"]}, targets, "every moved key goes to the new member")

	back, err := r11.Without("node-10")
	require.NoError(t, err)
	assert.Zero(t, MovedFraction(r, back, seq(keys[:10000])), "Without undoes With")
}

func TestRingWeights(t *testing.T) {
	keys := testKeys()[:200_000]
	r, err := NewRing([]string{"a", "b", "c"}, RingConfig{VirtualNodes: 1000, Weights: map[string]float64{"c": 2}})
	require.NoError(t, err)
	load := loads(r, keys)
	share := float64(load["c"]) / float64(len(keys))
	// Ideal 0.5; with 1000–2000 points per member the sd of a share is ~2.5%.
	assert.InDelta(t, 0.5, share, 0.05)
	assert.Len(t, r.points, 4000)
}
