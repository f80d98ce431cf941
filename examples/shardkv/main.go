// Command shardkv is an in-process key-value store over shards, routed first by
// shard.Ring and then by shard.Range. It adds a fifth shard to each, prints the
// move plan (shard.Moves, shard.RangeMoves) and the fraction of keys that
// move, migrates the range map span by span with BeginMove/CompleteMove while
// writers and readers keep going, checks that no key and no write is lost, and
// answers a cross-shard count with shard.Gather.
//
//	go run ./examples/shardkv
//
// It finishes in a second or two and exits with status 1 if a check fails.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/shard"
)

const numKeys = 20_000

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shardkv: FAILED:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	keys := makeKeys(numKeys)
	logf := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	if err := ringDemo(ctx, keys, logf); err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	if err := rangeDemo(ctx, keys, logf); err != nil {
		return fmt.Errorf("range: %w", err)
	}
	logf("all checks passed")
	return nil
}

func makeKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%05d", i)
	}
	return keys
}

var four = []string{"kv-0", "kv-1", "kv-2", "kv-3"}

func ringDemo(ctx context.Context, keys []string, logf func(string, ...any)) error {
	before, err := shard.NewRing(four, shard.RingConfig{})
	if err != nil {
		return err
	}
	after, err := before.With("kv-4")
	if err != nil {
		return err
	}
	c := newCluster(before, four...)
	for _, k := range keys {
		c.Put(k, "v0:"+k)
	}
	c.addNode("kv-4")
	logf("== shard.Ring: %d keys on 4 shards, adding kv-4", len(keys))
	frac := shard.MovedFraction(before, after, slices.Values(keys))
	moved := rebalanceRing(c, before, after, keys)
	logf("  move plan (shard.Moves):\n%s  moved fraction %.3f (ideal 1/5 = 0.200)", planText(moved), frac)
	for r := range moved {
		if r.to != "kv-4" {
			return fmt.Errorf("ring move %s -> %s does not go to the new shard", r.from, r.to)
		}
	}
	return verify(ctx, c, keys, func(k string) string { return "v0:" + k }, logf)
}

// evenSpans cuts user:00000 … user:<n> into len(members) equal spans.
func evenSpans(members []string, n int) []shard.Span {
	spans := make([]shard.Span, len(members))
	for i, m := range members {
		spans[i].Member = m
		if i > 0 {
			spans[i].Start = fmt.Sprintf("user:%05d", i*n/len(members))
			spans[i-1].End = spans[i].Start
		}
	}
	return spans
}

func rangeDemo(ctx context.Context, keys []string, logf func(string, ...any)) error {
	before, err := shard.NewRange(evenSpans(four, len(keys)))
	if err != nil {
		return err
	}
	target, err := shard.NewRange(evenSpans(append(four[:4:4], "kv-4"), len(keys)))
	if err != nil {
		return err
	}
	c := newCluster(before, four...)
	for _, k := range keys {
		c.Put(k, "v0:"+k)
	}
	c.addNode("kv-4")
	logf("== shard.Range: %d keys in 4 spans, rebalancing to 5 equal spans", len(keys))
	logf("  move plan (shard.RangeMoves):")
	for _, m := range shard.RangeMoves(before, target) {
		logf("    %-26s %s -> %s", spanText(shard.Span{Start: m.Start, End: m.End}), m.From, m.To)
	}
	logf("  moved fraction %.3f (equal spans; splitting one span instead would move only it)",
		shard.MovedFraction(before, target, slices.Values(keys)))

	last, stats, err := migrateUnderLoad(c, target, keys, logf)
	if err != nil {
		return err
	}
	logf("  during the migration: %d writes, %d reads, %d stale or missing reads",
		stats.writes.Load(), stats.reads.Load(), stats.badReads.Load())
	if n := stats.badReads.Load(); n > 0 {
		return fmt.Errorf("%d reads did not see the reader's own last write", n)
	}
	return verify(ctx, c, keys, func(k string) string { return last[k] }, logf)
}

type loadStats struct{ writes, reads, badReads atomic.Int64 }

// migrateUnderLoad runs the range migration while writers keep overwriting
// their own keys and reading them back. It returns every key's last value.
func migrateUnderLoad(c *cluster, target *shard.Range, keys []string, logf func(string, ...any)) (map[string]string, *loadStats, error) {
	const writers = 4
	stats := &loadStats{}
	stop := make(chan struct{})
	lasts := make([]map[string]string, writers)
	var wg sync.WaitGroup
	for w := range writers {
		lasts[w] = map[string]string{}
		wg.Go(func() { write(c, keys, w, writers, lasts[w], stats, stop) })
	}
	// After each router swap, let the writers do a few hundred operations, so
	// traffic provably overlaps every intermediate map.
	pause := func() {
		for from := stats.writes.Load(); stats.writes.Load() < from+500; {
			runtime.Gosched()
		}
	}
	err := migrateRange(c, target, pause, logf)
	close(stop)
	wg.Wait()
	last := map[string]string{}
	for k := range keys {
		last[keys[k]] = "v0:" + keys[k]
	}
	for _, l := range lasts {
		for k, v := range l {
			last[k] = v
		}
	}
	return last, stats, err
}

// write overwrites keys w, w+n, w+2n, … in rounds and reads each back at once,
// until stop is closed.
func write(c *cluster, keys []string, w, n int, last map[string]string, stats *loadStats, stop <-chan struct{}) {
	for round := 1; ; round++ {
		for i := w; i < len(keys); i += n {
			k := keys[i]
			v := "v" + strconv.Itoa(round) + ":" + k
			c.Put(k, v)
			last[k] = v
			stats.writes.Add(1)
			got, ok := c.Get(k)
			stats.reads.Add(1)
			if !ok || got != v {
				stats.badReads.Add(1)
			}
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}

// verify checks that every key reads back its expected value, that no shard
// holds a key it does not own, and that a Gather count over the shards matches.
func verify(ctx context.Context, c *cluster, keys []string, want func(string) string, logf func(string, ...any)) error {
	lost := 0
	for _, k := range keys {
		if v, ok := c.Get(k); !ok || v != want(k) {
			lost++
		}
	}
	misplaced := c.misplaced()
	total, err := c.Count(ctx)
	if err != nil {
		return err
	}
	perShard := shard.Gather(ctx, c.current().Members(), 0, func(ctx context.Context, name string) (int, error) {
		return c.node(name).len(), nil
	})
	line := "  keys per shard (shard.Gather):"
	for _, r := range perShard {
		line += fmt.Sprintf(" %s=%d", r.Member, r.Value)
	}
	logf("%s", line)
	logf("  check: %d keys, count over all shards %d, lost or stale %d, on the wrong shard %d",
		len(keys), total, lost, misplaced)
	if lost > 0 || misplaced > 0 || total != len(keys) {
		return fmt.Errorf("lost %d, misplaced %d, counted %d of %d", lost, misplaced, total, len(keys))
	}
	return nil
}
