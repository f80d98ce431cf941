package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/shard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func quiet(string, ...any) {}

func TestRun(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), &out))
	assert.Contains(t, out.String(), "lost or stale 0, on the wrong shard 0")
	assert.Contains(t, out.String(), "all checks passed")
}

func TestRebalanceRingMovesOnlyToNewShard(t *testing.T) {
	keys := makeKeys(2000)
	before, err := shard.NewRing(four, shard.RingConfig{})
	require.NoError(t, err)
	after, err := before.With("kv-4")
	require.NoError(t, err)
	c := newCluster(before, four...)
	for _, k := range keys {
		c.Put(k, "x"+k)
	}
	c.addNode("kv-4")
	moved := rebalanceRing(c, before, after, keys)
	total := 0
	for r, n := range moved {
		assert.Equal(t, "kv-4", r.to)
		total += n
	}
	assert.Equal(t, total, c.node("kv-4").len())
	require.NoError(t, verify(t.Context(), c, keys, func(k string) string { return "x" + k }, quiet))
}

func TestMigrateUnderLoad(t *testing.T) {
	keys := makeKeys(4000)
	before, err := shard.NewRange(evenSpans(four, len(keys)))
	require.NoError(t, err)
	target, err := shard.NewRange(evenSpans(append(four[:4:4], "kv-4"), len(keys)))
	require.NoError(t, err)
	c := newCluster(before, four...)
	for _, k := range keys {
		c.Put(k, "v0:"+k)
	}
	c.addNode("kv-4")

	last, stats, err := migrateUnderLoad(c, target, keys, quiet)
	require.NoError(t, err)
	assert.Zero(t, stats.badReads.Load(), "reads that missed the reader's own write")
	assert.Positive(t, stats.writes.Load())
	assert.Equal(t, target.Spans(), c.current().(*shard.Range).Spans())
	require.NoError(t, verify(t.Context(), c, keys, func(k string) string { return last[k] }, quiet))
}

// The checks must be able to fail: a lost key and a misplaced key are caught.
func TestVerifyCatchesLoss(t *testing.T) {
	keys := makeKeys(100)
	r, err := shard.NewRange(evenSpans(four, len(keys)))
	require.NoError(t, err)
	c := newCluster(r, four...)
	for _, k := range keys {
		c.Put(k, k)
	}
	same := func(k string) string { return k }
	require.NoError(t, verify(t.Context(), c, keys, same, quiet))

	c.node("kv-0").remove(func(k string) bool { return k != keys[3] })
	assert.ErrorContains(t, verify(t.Context(), c, keys, same, quiet), "lost 1")

	c.node("kv-0").put(keys[3], keys[3])
	c.node("kv-1").put(keys[3], keys[3]) // a stray copy on a non-owner
	assert.ErrorContains(t, verify(t.Context(), c, keys, same, quiet), "misplaced 1")
}

func TestCountUsesEveryShard(t *testing.T) {
	r, err := shard.NewRange(evenSpans(four, 40))
	require.NoError(t, err)
	c := newCluster(r, four...)
	for _, k := range makeKeys(40) {
		c.Put(k, k)
	}
	n, err := c.Count(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 40, n)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Count(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEvenSpans(t *testing.T) {
	spans := evenSpans([]string{"a", "b", "c"}, 300)
	assert.Equal(t, []shard.Span{
		{Start: "", End: "user:00100", Member: "a"},
		{Start: "user:00100", End: "user:00200", Member: "b"},
		{Start: "user:00200", End: "", Member: "c"},
	}, spans)
	assert.True(t, slices.IsSortedFunc(spans, func(x, y shard.Span) int { return strings.Compare(x.Start, y.Start) }))
}
