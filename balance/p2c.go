package balance

import (
	"iter"
	"time"
)

// P2C is the power of two choices on in-flight requests: Pick draws two
// distinct random nodes and takes the less loaded (Mitzenmacher; Azar,
// Broder, Karlin, Upfal, "Balanced Allocations", 1999: the fullest of n bins
// then holds ln ln n / ln 2 + O(1) instead of about ln n / ln ln n). This is
// Envoy's and grpc-go's least_request with choice_count 2. Unavailable and
// ejected nodes are skipped. It is safe for concurrent use.
type P2C[N comparable] struct {
	pool[N]
}

// NewP2C returns a power-of-two-choices picker. It returns an error matching
// ErrInvalidConfig (and ErrNoNodes for an empty slice) that names the node
// for duplicates or the field for an invalid cfg.
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
// the set is empty and an *UnavailableError if every node is unavailable. It
// never blocks.
func (p *P2C[N]) Pick() (Permit[N], error) {
	s := p.snap.Load()
	if len(s.nodes) < 2 {
		return p.pickOne(s, 0)
	}
	a, b := p.draw2(len(s.nodes))
	if !bothClear(s.states[a], s.states[b]) {
		var both bool
		var err error
		if a, b, both, err = p.pair(s, a, b); err != nil {
			return Permit[N]{}, err
		} else if !both {
			return p.permit(s, a, 0), nil
		}
	}
	if s.states[b].inFlight() < s.states[a].inFlight() {
		a = b
	}
	return p.permit(s, a, 0), nil
}

// pickOne is Pick over a set of zero or one node.
func (p *pool[N]) pickOne(s *snapshot[N], start int64) (Permit[N], error) {
	if len(s.nodes) == 0 {
		return Permit[N]{}, p.noNodes()
	}
	if st := s.states[0]; !st.clear() && !st.usableNow() {
		if _, err := p.noneUsable(s, 0); err != nil {
			return Permit[N]{}, err
		}
	}
	return p.permit(s, 0, start), nil
}

// bothClear reports whether nodes a and b are both available, not ejected
// and at full share: the four words are in the two nodes' first cache
// lines, which Pick reads anyway.
func bothClear(a, b *nodeState) bool {
	return a.gate.Load()|b.gate.Load()|a.until.Load()|b.until.Load() == 0
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
// (a first draw) is unavailable, ejected or warming up. The choice stays
// one between two usable nodes whenever two exist, as Envoy's
// least_request draws only among healthy hosts: a draw that lands on an
// unusable node is replaced, up to retries times, and then a walk finds the
// usable nodes. Taking the one usable node of a pair instead would give each
// node the picks of every unusable partner, with no comparison: of five
// nodes of which three are ejected, a slow one would get almost half the
// traffic. If both turn out usable pair returns them with both set, for the
// caller to compare; otherwise a is the only usable node (or, with none,
// firstUsable's fallback).
func (p *pool[N]) pair(s *snapshot[N], a, b int) (int, int, bool, error) {
	n := len(s.nodes)
	var now int64 // read at most once
	ua, ub := s.states[a].usableAt(&now), s.states[b].usableAt(&now)
	for k := 0; k < retries && !(ua && ub); k++ {
		if !ua {
			a = p.drawOther(n, b)
			ua = s.states[a].usableAt(&now)
		}
		if !ub {
			b = p.drawOther(n, a)
			ub = s.states[b].usableAt(&now)
		}
	}
	if ua && ub {
		return a, b, true, nil
	}
	return p.walkPair(s)
}

// drawOther draws a random index below n ≥ 2 other than not.
func (p *pool[N]) drawOther(n, not int) int {
	i := fastrange(uint32(p.cfg.rand()), n-1)
	if i >= not {
		i++
	}
	return i
}

// walkPair is pair's last resort, when random draws keep landing on
// unusable nodes: the first two usable nodes of a walk from a random
// start, both set; the only one, both unset; or, with none, firstUsable's
// fallback.
func (p *pool[N]) walkPair(s *snapshot[N]) (int, int, bool, error) {
	n := len(s.nodes)
	start := fastrange(uint32(p.cfg.rand()), n)
	var now int64
	first := -1
	for k := range n {
		i := start + k
		if i >= n {
			i -= n
		}
		if !s.states[i].usableAt(&now) {
			continue
		}
		if first >= 0 {
			return first, i, true, nil
		}
		first = i
	}
	if first >= 0 {
		return first, first, false, nil
	}
	i, err := p.firstUsable(s, start, nil)
	return i, i, false, err
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
func (p *P2C[N]) Update(nodes []N) error { return p.set(unit(nodes), false, false) }

// MarkUnavailable makes node unavailable until the given moment (see
// RoundRobin.MarkUnavailable).
func (p *P2C[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return p.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (p *P2C[N]) Nodes() []N { return p.nodes() }

// Stats returns a snapshot of the per-node counters.
func (p *P2C[N]) Stats() Stats[N] { return p.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (p *P2C[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return p.allStats() }
