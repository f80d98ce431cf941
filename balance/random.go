package balance

import (
	"iter"
	"time"
)

// Random picks a uniformly random node (skipping unavailable and ejected
// ones). It is the
// baseline P2C improves on. It is safe for concurrent use.
type Random[N comparable] struct {
	pool[N]
}

// NewRandom returns a uniform random picker. It returns an error matching
// ErrInvalidConfig (and ErrNoNodes for an empty slice) that names the node
// for duplicates or the field for an invalid cfg.
func NewRandom[N comparable](nodes []N, cfg Config) (*Random[N], error) {
	r := &Random[N]{}
	if err := r.init(cfg, nil); err != nil {
		return nil, err
	}
	if err := r.set(unit(nodes), false, true); err != nil {
		return nil, err
	}
	return r, nil
}

// retries is how many fresh random draws a random picker makes when it
// lands on an unusable node before it walks to the next usable one.
const retries = 3

// Pick returns a random node. It returns ErrNoNodes if the set is empty and
// an *UnavailableError if every node is unavailable. It never blocks.
func (r *Random[N]) Pick() (Permit[N], error) {
	s := r.snap.Load()
	n := len(s.nodes)
	if n == 0 {
		return Permit[N]{}, r.noNodes()
	}
	i := fastrange(uint32(r.cfg.rand()), n)
	if s.states[i].clear() {
		return r.permit(s, i, 0), nil
	}
	var now int64
	for k := 0; ; k++ {
		if s.states[i].usableAt(&now) {
			return r.permit(s, i, 0), nil
		}
		if k == retries-1 {
			break
		}
		i = fastrange(uint32(r.cfg.rand()), n)
	}
	i, err := r.firstUsable(s, i, nil)
	if err != nil {
		return Permit[N]{}, err
	}
	return r.permit(s, i, 0), nil
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
func (r *Random[N]) Update(nodes []N) error { return r.set(unit(nodes), false, false) }

// MarkUnavailable makes node unavailable until the given moment (see
// RoundRobin.MarkUnavailable).
func (r *Random[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return r.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (r *Random[N]) Nodes() []N { return r.nodes() }

// Stats returns a snapshot of the per-node counters.
func (r *Random[N]) Stats() Stats[N] { return r.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (r *Random[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return r.allStats() }

// WeightedRandom picks node i with probability weight_i / sum(weights), in
// O(1) per Pick through Walker's alias method (Vose's construction). It is
// safe for concurrent use.
type WeightedRandom[N comparable] struct {
	pool[N]
}

// NewWeightedRandom returns a weighted random picker. It returns an error
// matching ErrInvalidConfig (and ErrNoNodes for an empty slice) that names
// the node for a duplicate or a weight ≤ 0.
func NewWeightedRandom[N comparable](nodes []Weighted[N], cfg Config) (*WeightedRandom[N], error) {
	r := &WeightedRandom[N]{}
	if err := r.init(cfg, buildAlias[N]); err != nil {
		return nil, err
	}
	if err := r.set(nodes, true, true); err != nil {
		return nil, err
	}
	return r, nil
}

// Pick returns a node drawn in proportion to its weight. It returns
// ErrNoNodes if the set is empty and an *UnavailableError if every node is
// unavailable. It never blocks.
func (r *WeightedRandom[N]) Pick() (Permit[N], error) {
	s := r.snap.Load()
	n := len(s.nodes)
	if n == 0 {
		return Permit[N]{}, r.noNodes()
	}
	i := s.alias.draw(r.cfg.rand())
	if s.states[i].clear() {
		return r.permit(s, i, 0), nil
	}
	var now int64
	for k := 0; ; k++ {
		if s.states[i].usableAt(&now) {
			return r.permit(s, i, 0), nil
		}
		if k == retries-1 {
			break
		}
		i = s.alias.draw(r.cfg.rand())
	}
	i, err := r.firstUsable(s, i, nil)
	if err != nil {
		return Permit[N]{}, err
	}
	return r.permit(s, i, 0), nil
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
func (r *WeightedRandom[N]) Update(nodes []Weighted[N]) error { return r.set(nodes, true, false) }

// MarkUnavailable makes node unavailable until the given moment (see
// RoundRobin.MarkUnavailable).
func (r *WeightedRandom[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return r.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (r *WeightedRandom[N]) Nodes() []N { return r.nodes() }

// Stats returns a snapshot of the per-node counters.
func (r *WeightedRandom[N]) Stats() Stats[N] { return r.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (r *WeightedRandom[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return r.allStats() }

// aliasTable is Walker's alias table: column i keeps itself with
// probability keep[i]/2^32 and otherwise yields alias[i].
type aliasTable struct {
	keep  []uint32
	alias []int32
}

// draw uses the high 32 bits of r for the column and the low 32 for the coin.
func (a *aliasTable) draw(r uint64) int {
	i := fastrange(uint32(r>>32), len(a.keep))
	if uint32(r) < a.keep[i] {
		return i
	}
	return int(a.alias[i])
}

// buildAlias is Vose's O(n) construction ("A linear algorithm for
// generating random numbers with a given distribution", 1991).
func buildAlias[N comparable](_ *pool[N], s *snapshot[N]) error {
	n := len(s.weights)
	total := 0.0
	for _, w := range s.weights {
		total += float64(w)
	}
	scaled := make([]float64, n)
	var small, large []int
	for i, w := range s.weights {
		scaled[i] = float64(w) * float64(n) / total
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	a := aliasTable{keep: make([]uint32, n), alias: make([]int32, n)}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.keep[l] = uint32(scaled[l] * (1 << 32))
		a.alias[l] = int32(g)
		scaled[g] -= 1 - scaled[l]
		if scaled[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// Leftovers are 1 up to rounding: they always keep themselves.
	for _, i := range append(small, large...) {
		a.keep[i] = 1<<32 - 1
		a.alias[i] = int32(i)
	}
	s.alias = a
	return nil
}
