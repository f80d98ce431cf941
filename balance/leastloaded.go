package balance

import "math"

// LeastLoaded picks the node with the fewest Leases in flight, scanning all
// nodes from a random start so that ties are broken at random. The scan is
// O(nodes): cheap for tens of nodes; prefer P2C for hundreds. It is safe for
// concurrent use; two concurrent Picks may choose the same least-loaded node.
type LeastLoaded[N comparable] struct {
	pool[N]
}

// NewLeastLoaded returns a least-in-flight picker. It returns ErrNoNodes for
// an empty slice and an error naming the node for duplicates or naming the
// field for an invalid cfg.
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

// Pick returns a node with the fewest in-flight Leases. It returns
// ErrNoNodes if the set is empty. It never blocks.
func (l *LeastLoaded[N]) Pick() (Lease[N], error) {
	s := l.snap.Load()
	n := len(s.nodes)
	if n == 0 {
		return Lease[N]{}, ErrNoNodes
	}
	start := fastrange(uint32(l.cfg.rand()), n)
	// The winner is usually start itself (loads tie when the fleet is
	// idle). Taking it from this branch rather than from the scan's result
	// lets the CPU, predicting the branch, start on the lease before the
	// scan's loads complete: under contention both the scanned lines and
	// the leased one come from another core, and this overlaps the two.
	i := start
	if j := leastFrom(s.states, start); j != start {
		i = j
	}
	// Health is checked on the winner alone; only if it is ejected or
	// warming up does the slower scan run.
	if !s.states[i].usable() {
		i = l.leastUsable(s, start)
	}
	return l.lease(s, i, 0), nil
}

// leastFrom returns the index of the node with the fewest Leases in
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

// leastUsable is the scan that skips ejected and warming-up nodes.
func (l *LeastLoaded[N]) leastUsable(s *snapshot[N], start int) int {
	n := len(s.nodes)
	best, bestLoad := -1, int64(0)
	var now int64
	for k, i := 0, start; k < n; k++ {
		st := s.states[i]
		if load := st.inFlight(); (best < 0 || load < bestLoad) && st.usableAt(&now) {
			best, bestLoad = i, load
		}
		if i++; i == n {
			i = 0
		}
	}
	if best < 0 {
		return start // nothing usable: better a node than a failure
	}
	return best
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
func (l *LeastLoaded[N]) Update(nodes []N) error { return l.set(unit(nodes), false, false) }

// Nodes returns a copy of the current node set.
func (l *LeastLoaded[N]) Nodes() []N { return l.nodes() }

// Stats returns a snapshot of the per-node counters.
func (l *LeastLoaded[N]) Stats() Stats[N] { return l.stats() }

// P2C is the power of two choices on in-flight requests: Pick draws two
// distinct random nodes and takes the less loaded (Mitzenmacher; Azar,
// Broder, Karlin, Upfal 1999: the fullest of n bins then holds
// ln ln n / ln 2 + O(1) instead of about ln n / ln ln n). This is Envoy's and
// grpc-go's least_request with choice_count 2. It is safe for concurrent use.
type P2C[N comparable] struct {
	pool[N]
}

// NewP2C returns a power-of-two-choices picker. It returns ErrNoNodes for an
// empty slice and an error naming the node for duplicates or naming the
// field for an invalid cfg.
func NewP2C[N comparable](nodes []N, cfg Config) (*P2C[N], error) {
	p := &P2C[N]{}
	if err := p.init(cfg, nil); err != nil {
		return nil, err
	}
	if err := p.set(unit(nodes), false, true); err != nil {
		return nil, err
	}
	return p, nil
}

// Pick returns the less loaded of two random nodes. It returns ErrNoNodes if
// the set is empty. It never blocks.
func (p *P2C[N]) Pick() (Lease[N], error) {
	s := p.snap.Load()
	if len(s.nodes) < 2 {
		if len(s.nodes) == 0 {
			return Lease[N]{}, ErrNoNodes
		}
		return p.lease(s, 0, 0), nil
	}
	a, b := p.draw2(len(s.nodes))
	if s.states[a].gate.Load()|s.states[b].gate.Load() != 0 {
		var both bool
		if a, b, both = p.pair(s, a, b); !both {
			return p.lease(s, a, 0), nil
		}
	}
	if s.states[b].inFlight() < s.states[a].inFlight() {
		a = b
	}
	return p.lease(s, a, 0), nil
}

// draw2 draws two distinct random indexes below n ≥ 2 from one random
// word. It is small enough to be inlined into Pick, which checks the common
// case (both nodes healthy at full share) itself and calls pair otherwise.
func (p *pool[N]) draw2(n int) (a, b int) {
	r := p.cfg.rand()
	a = fastrange(uint32(r>>32), n)
	b = fastrange(uint32(r), n-1)
	if b >= a {
		b++ // distinct: b is uniform over the other n-1 nodes
	}
	return a, b
}

// pair is the slow path of a two-choice Pick over n ≥ 2 nodes, when a or b
// (a first draw) is ejected or warming up. If both turn out usable it
// returns them with both set, for the caller to compare; otherwise a is the
// usable one, from up to retries draws or, failing those, a walk.
func (p *pool[N]) pair(s *snapshot[N], a, b int) (int, int, bool) {
	n := len(s.nodes)
	var now int64 // read at most once
	for k := 0; ; k++ {
		ua, ub := s.states[a].usableAt(&now), s.states[b].usableAt(&now)
		switch {
		case ua && ub:
			return a, b, true
		case ua:
			return a, a, false
		case ub:
			return b, b, false
		}
		if k == retries-1 {
			break
		}
		a, b = p.draw2(n)
	}
	i := p.firstUsable(s, fastrange(uint32(p.cfg.rand()), n), nil)
	return i, i, false
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
func (p *P2C[N]) Update(nodes []N) error { return p.set(unit(nodes), false, false) }

// Nodes returns a copy of the current node set.
func (p *P2C[N]) Nodes() []N { return p.nodes() }

// Stats returns a snapshot of the per-node counters.
func (p *P2C[N]) Stats() Stats[N] { return p.stats() }
