package shard

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMovesAndFraction(t *testing.T) {
	before, err := NewRange([]Span{{"", "m", "a"}, {"m", "", "b"}})
	require.NoError(t, err)
	after, err := before.Split("t", "c")
	require.NoError(t, err)
	keys := []string{"apple", "melon", "tomato", "zucchini", "berry"}

	got := slices.Collect(Moves(before, after, seq(keys)))
	want := []Move{{Key: "tomato", From: "b", To: "c"}, {Key: "zucchini", From: "b", To: "c"}}
	assert.Equal(t, want, got)
	assert.InDelta(t, 2.0/5, MovedFraction(before, after, seq(keys)), 1e-12)
	assert.Zero(t, MovedFraction(before, after, seq(nil)), "empty sample")

	n := 0
	for range Moves(before, after, seq(keys)) {
		n++
		break
	}
	assert.Equal(t, 1, n, "stopping early stops the sequence")
}

// Any two routers compose: a plan from a ring to a rendezvous router.
func TestMovesAcrossRouterKinds(t *testing.T) {
	keys := testKeys()[:10_000]
	ring, err := NewRing([]string{"a", "b"}, RingConfig{})
	require.NoError(t, err)
	hrw, err := NewRendezvous([]string{"a", "b"}, RendezvousConfig{})
	require.NoError(t, err)
	n := 0
	for m := range Moves(ring, hrw, seq(keys)) {
		require.Equal(t, ring.Locate(m.Key), m.From)
		require.Equal(t, hrw.Locate(m.Key), m.To)
		require.NotEqual(t, m.From, m.To)
		n++
	}
	assert.InDelta(t, float64(n)/float64(len(keys)), MovedFraction(ring, hrw, seq(keys)), 1e-12)
	assert.InDelta(t, 0.5, float64(n)/float64(len(keys)), 0.1, "two unrelated maps disagree on about half")
}
