package shard

import (
	"iter"
	"slices"
)

// Move is one key whose owner changes between two routers.
type Move struct {
	Key      string
	From, To string
}

// SpanMove is a key range [Start, End) (End == "" means +∞) whose owner
// changes from From to To.
type SpanMove struct {
	Start, End string
	From, To   string
}

// Moves yields, lazily and in the order of keys, every key whose owner differs
// between before and after: the resharding plan for a known key set. It reads
// keys once; stopping early stops it.
func Moves(before, after Router, keys iter.Seq[string]) iter.Seq[Move] {
	return func(yield func(Move) bool) {
		for k := range keys {
			from, to := before.Locate(k), after.Locate(k)
			if from != to && !yield(Move{Key: k, From: from, To: to}) {
				return
			}
		}
	}
}

// MovedFraction returns the fraction of sample whose owner differs between
// before and after, or 0 for an empty sample: the expected share of data a
// membership change moves, for planning.
func MovedFraction(before, after Router, sample iter.Seq[string]) float64 {
	total, moved := 0, 0
	for k := range sample {
		total++
		if before.Locate(k) != after.Locate(k) {
			moved++
		}
	}
	if total == 0 {
		return 0
	}
	return float64(moved) / float64(total)
}

// RangeMoves returns exactly the key ranges whose owner differs between before
// and after, in key order, adjacent ranges with the same From and To merged.
// Owners are those Locate answers (during a migration, the source).
func RangeMoves(before, after *Range) []SpanMove {
	var out []SpanMove
	cuts := boundaries(before, after)
	for i, start := range cuts {
		end := ""
		if i+1 < len(cuts) {
			end = cuts[i+1]
		}
		// Within [start, end) neither map has a boundary, so one key decides.
		from, to := before.Locate(start), after.Locate(start)
		if from == to {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End == start && out[n-1].From == from && out[n-1].To == to {
			out[n-1].End = end
			continue
		}
		out = append(out, SpanMove{Start: start, End: end, From: from, To: to})
	}
	return out
}

// boundaries returns the sorted union of both maps' span starts.
func boundaries(a, b *Range) []string {
	cuts := append(slices.Clone(a.starts), b.starts...)
	slices.Sort(cuts)
	return slices.Compact(cuts)
}
