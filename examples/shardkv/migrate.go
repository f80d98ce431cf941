package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/shard"
)

// rebalanceRing moves every key whose owner changes from before to after: the
// ring has no migration state, so this copies, swaps the router and then
// deletes, with writers paused (see migrateRange for a live move).
func rebalanceRing(c *cluster, before, after shard.Router, keys []string) (moved map[route]int) {
	moved = map[route]int{}
	for m := range shard.Moves(before, after, slices.Values(keys)) {
		if v, ok := c.node(m.From).get(m.Key); ok {
			c.node(m.To).put(m.Key, v)
		}
		moved[route{m.From, m.To}]++
	}
	c.swap(after)
	for _, name := range c.names() {
		c.node(name).remove(func(k string) bool { return after.Locate(k) == name })
	}
	return moved
}

// migrateRange walks the cluster's range map to target one span move at a
// time, while Put and Get keep running: isolate the span (Split with the same
// owner moves nothing), BeginMove (writes now reach both shards), back-fill the
// destination, CompleteMove (reads and writes switch), delete the source copy.
// Finally boundaries that target does not have are merged away.
// pause runs after each router swap; migrateUnderLoad uses it to let traffic
// run against every intermediate map.
func migrateRange(c *cluster, target *shard.Range, pause func(), log func(string, ...any)) error {
	plan := shard.RangeMoves(c.current().(*shard.Range), target)
	for _, m := range plan {
		if err := moveSpan(c, m, pause, log); err != nil {
			return fmt.Errorf("moving [%q, %q): %w", m.Start, m.End, err)
		}
	}
	r := c.current().(*shard.Range)
	for _, s := range r.Spans()[1:] {
		if target.SpanOf(s.Start).Start != s.Start {
			var err error
			if r, err = r.Merge(s.Start); err != nil {
				return err
			}
		}
	}
	c.swap(r)
	if left := shard.RangeMoves(r, target); len(left) > 0 || !slices.Equal(r.Spans(), target.Spans()) {
		return fmt.Errorf("after migration the map differs from the target: %v", left)
	}
	return nil
}

func moveSpan(c *cluster, m shard.SpanMove, pause func(), log func(string, ...any)) error {
	r := c.current().(*shard.Range)
	var err error
	for _, at := range []string{m.Start, m.End} {
		if at != "" && r.SpanOf(at).Start != at {
			if r, err = r.Split(at, r.Locate(at)); err != nil {
				return err
			}
		}
	}
	if r, err = r.BeginMove(m.Start, m.To); err != nil {
		return err
	}
	c.swap(r) // from here every write to the span reaches both shards
	pause()
	span := r.SpanOf(m.Start)
	inSpan := func(k string) bool { return k >= span.Start && (span.End == "" || k < span.End) }
	copied := 0
	for k, v := range c.node(m.From).snapshot() {
		if inSpan(k) {
			c.node(m.To).putIfAbsent(k, v)
			copied++
		}
	}
	if r, err = r.CompleteMove(m.Start); err != nil {
		return err
	}
	c.swap(r) // reads and writes now go to the destination alone
	pause()
	removed := c.node(m.From).remove(func(k string) bool { return !inSpan(k) })
	log("  moved %-24s %s -> %s: back-filled %d keys, removed %d from the source",
		spanText(span), m.From, m.To, copied, removed)
	return nil
}

func spanText(s shard.Span) string {
	end := s.End
	if end == "" {
		end = "+inf"
	}
	return fmt.Sprintf("[%s, %s)", s.Start, end)
}

// route is a (from, to) pair of a move plan.
type route struct{ from, to string }

// planText formats a move count map in a stable order.
func planText(moved map[route]int) string {
	var b strings.Builder
	routes := slices.SortedFunc(maps.Keys(moved), func(a, b route) int {
		return strings.Compare(a.from+" "+a.to, b.from+" "+b.to)
	})
	for _, r := range routes {
		fmt.Fprintf(&b, "    %s -> %s: %d keys\n", r.from, r.to, moved[r])
	}
	return b.String()
}
