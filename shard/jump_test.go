package shard

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJumpLocateIsJumpHash(t *testing.T) {
	members := names("s", 17)
	j, err := NewJump(members)
	require.NoError(t, err)
	for _, k := range testKeys()[:5000] {
		require.Equal(t, members[JumpHash(Hash(k), 17)], j.Locate(k))
	}
}

func TestJumpMembership(t *testing.T) {
	keys := testKeys()[:200_000]
	j, err := NewJump(names("s", 10))
	require.NoError(t, err)

	t.Run("append moves only to the new member", func(t *testing.T) {
		j11, err := j.With("s10")
		require.NoError(t, err)
		frac, targets := movedTo(j, j11, keys)
		assert.InDelta(t, 1.0/11, frac, 0.005)
		assert.Equal(t, map[string]int{"s10": targets["s10"]}, targets)
		back, err := j11.Without("s10")
		require.NoError(t, err)
		assert.Equal(t, j.slots, back.slots, "Without undoes With")
	})

	t.Run("arbitrary removal moves only its keys, evenly", func(t *testing.T) {
		j9, err := j.Without("s4")
		require.NoError(t, err)
		assert.Equal(t, []string{"s0", "s1", "s2", "s3", "s5", "s6", "s7", "s8", "s9"}, j9.Members())
		frac, targets := movedTo(j, j9, keys)
		assert.InDelta(t, 0.1, frac, 0.005)
		for m := range Moves(j, j9, seq(keys)) {
			require.Equal(t, "s4", m.From)
		}
		assert.Len(t, targets, 9, "the removed keys spread over all survivors")
		assert.LessOrEqual(t, maxOverMean(loads(j9, keys), 9, len(keys)), 1.03)

		t.Run("second removal, then refill", func(t *testing.T) {
			j8, err := j9.Without("s7")
			require.NoError(t, err)
			for m := range Moves(j9, j8, seq(keys)) {
				require.Equal(t, "s7", m.From)
			}
			refilled, err := j8.With("fresh")
			require.NoError(t, err)
			assert.Equal(t, "fresh", refilled.slots[4], "With takes the lowest removed slot")
			for m := range Moves(j8, refilled, seq(keys)) {
				require.Equal(t, "fresh", m.To)
			}
		})
	})

	t.Run("all but one removed", func(t *testing.T) {
		r := j
		for _, m := range names("s", 9) {
			r, err = r.Without(m)
			require.NoError(t, err)
		}
		for _, k := range keys[:1000] {
			require.Equal(t, "s9", r.Locate(k))
		}
	})
}

// Without undoes the With before it even when With refilled a removed slot at
// the end of the slot list: removing the newcomer must give back the router
// from before, not one in which the survivors' keys are shuffled.
func TestJumpWithoutUndoesRefill(t *testing.T) {
	keys := testKeys()[:100_000]
	j, err := NewJump([]string{"a", "b", "c", "d"})
	require.NoError(t, err)
	j, err = j.Without("c")
	require.NoError(t, err)
	j, err = j.Without("d") // drops d's slot; c's removed slot is now last
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", ""}, j.slots)

	refilled, err := j.With("x")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "x"}, refilled.slots, "With takes the removed slot")
	for m := range Moves(j, refilled, seq(keys)) {
		require.Equal(t, "x", m.To, "key %s", m.Key)
	}
	back, err := refilled.Without("x")
	require.NoError(t, err)
	assert.Equal(t, j.slots, back.slots, "Without undoes With")
	assert.Zero(t, MovedFraction(j, back, seq(keys)), "keys moved between a and b")

	// An appended slot is still dropped, so a later With appends again.
	grown, err := back.With("y")
	require.NoError(t, err)
	grown, err = grown.With("z")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "y", "z"}, grown.slots)
	shrunk, err := grown.Without("z")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "y"}, shrunk.slots)
}
