package balance

import (
	"iter"
	"math"
	"time"
)

// LeastLoaded picks the node with the fewest Permits in flight, scanning all
// nodes from a random start so that ties are broken at random. The scan is
// O(nodes): cheap for tens of nodes; prefer P2C for hundreds. Unavailable
// and ejected nodes are skipped. It is safe for concurrent use; two
// concurrent Picks may choose the same least-loaded node.
type LeastLoaded[N comparable] struct {
	pool[N]
}

// NewLeastLoaded returns a least-in-flight picker. It returns an error
// matching ErrInvalidConfig (and ErrNoNodes for an empty slice) that names
// the node for duplicates or the field for an invalid cfg.
func NewLeastLoaded[N comparable](nodes []N, cfg Config) (*LeastLoaded[N], error) {
	l := &LeastLoaded[N]{}
	if err := l.init(cfg, nil); err != nil {
		return nil, err
	}
	if err := l.set(unit(nodes), false, true); err != nil {
		return nil, err
	}
	return l, nil
}

// Pick returns a node with the fewest in-flight Permits. It returns
// ErrNoNodes if the set is empty and an *UnavailableError if every node is
// unavailable. It never blocks.
func (l *LeastLoaded[N]) Pick() (Permit[N], error) {
	s := l.snap.Load()
	n := len(s.nodes)
	if n == 0 {
		return Permit[N]{}, l.noNodes()
	}
	start := fastrange(uint32(l.cfg.rand()), n)
	// The winner is usually start itself (loads tie when the fleet is
	// idle). Taking it from this branch rather than from the scan's result
	// lets the CPU, predicting the branch, start on the permit before the
	// scan's loads complete: under contention both the scanned lines and
	// the picked one come from another core, and this overlaps the two.
	i := start
	if j := leastFrom(s.states, start); j != start {
		i = j
	}
	// Health is checked on the winner alone; only if it is unavailable,
	// ejected or warming up does the slower scan run.
	if st := s.states[i]; !st.clear() && !st.usableNow() {
		var err error
		if i, err = l.leastUsable(s, start); err != nil {
			return Permit[N]{}, err
		}
	}
	return l.permit(s, i, 0), nil
}

// leastFrom returns the index of the node with the fewest Permits in
// flight, the first at or after start in cyclic order among ties, health
// not considered. It is one pass in index order taking the minimum of the
// key in-flight<<32 | distance from start, with no branch but the loop's:
// a wrap test and a compare-and-branch minimum were each mispredicted once
// per Pick, at the random start, and cost more than the whole scan.
//   - The distance is uint32(i-start): an index before start wraps to
//     2^32-start+i, above every index at or after start, so the keys follow
//     the cyclic order from start without a wrap test.
//   - flight<<32 keeps the in-flight half of the packed counter and drops
//     the done half.
//   - The minimum compiles to CMOV only because leastFrom is not inlined:
//     inlined into Pick, its result would index s.states, and the compiler
//     keeps branches for values that feed a load address (Go issue 26306).
//     The call costs less than one misprediction.
//
//go:noinline
func leastFrom(states []*nodeState, start int) int {
	best := uint64(math.MaxUint64)
	for i, st := range states {
		best = min(best, st.flight.Load()<<32|uint64(uint32(i-start)))
	}
	return int(uint32(best) + uint32(start)) // distance back to index, mod 2^32
}

// leastUsable is the scan that skips unusable nodes. If none is usable it
// returns the least loaded available node (ejected or warming up: better a
// node than a failure), or the error that every node is unavailable.
func (l *LeastLoaded[N]) leastUsable(s *snapshot[N], start int) (int, error) {
	n := len(s.nodes)
	best, bestLoad := -1, int64(0)
	alt, altLoad := -1, int64(0)
	var now int64
	for k, i := 0, start; k < n; k++ {
		st := s.states[i]
		load := st.inFlight()
		if (best < 0 || load < bestLoad) && st.usableAt(&now) {
			best, bestLoad = i, load
		}
		if best < 0 && (alt < 0 || load < altLoad) && st.availableAt(&now) {
			alt, altLoad = i, load
		}
		if i++; i == n {
			i = 0
		}
	}
	switch {
	case best >= 0:
		return best, nil
	case alt >= 0:
		return alt, nil
	}
	return -1, l.unavailableError(s, now)
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
func (l *LeastLoaded[N]) Update(nodes []N) error { return l.set(unit(nodes), false, false) }

// MarkUnavailable makes node unavailable until the given moment (see
// RoundRobin.MarkUnavailable).
func (l *LeastLoaded[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return l.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (l *LeastLoaded[N]) Nodes() []N { return l.nodes() }

// Stats returns a snapshot of the per-node counters.
func (l *LeastLoaded[N]) Stats() Stats[N] { return l.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (l *LeastLoaded[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return l.allStats() }
