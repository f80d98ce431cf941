package balance

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
	// The scan reads only in-flight counts; health is checked on the winner
	// alone, and only if it is unusable does the slower scan run.
	best, bestLoad := start, s.states[start].inFlight()
	for i := start + 1; i < n; i++ {
		if load := s.states[i].inFlight(); load < bestLoad {
			best, bestLoad = i, load
		}
	}
	for i := 0; i < start; i++ {
		if load := s.states[i].inFlight(); load < bestLoad {
			best, bestLoad = i, load
		}
	}
	if !s.states[best].usable() {
		best = l.leastUsable(s, start)
	}
	return l.lease(s, best, 0), nil
}

// leastUsable is the scan that skips ejected and warming-up nodes.
func (l *LeastLoaded[N]) leastUsable(s *snapshot[N], start int) int {
	n := len(s.nodes)
	best, bestLoad := -1, int64(0)
	for k, i := 0, start; k < n; k++ {
		st := s.states[i]
		if load := st.inFlight(); (best < 0 || load < bestLoad) && st.usable() {
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
	if len(s.nodes) == 0 {
		return Lease[N]{}, ErrNoNodes
	}
	a, b, both := p.pair(s)
	if both && s.states[b].inFlight() < s.states[a].inFlight() {
		a = b
	}
	return p.lease(s, a, 0), nil
}

// pair draws two distinct random nodes. If both are usable it returns them
// with both set, for the caller to compare; otherwise a is the usable one
// (or, when draws keep landing on unusable nodes, the result of a walk).
func (p *pool[N]) pair(s *snapshot[N]) (a, b int, both bool) {
	n := len(s.nodes)
	if n == 1 {
		return 0, 0, false
	}
	for range retries {
		r := p.cfg.rand()
		a = fastrange(uint32(r>>32), n)
		b = fastrange(uint32(r), n-1)
		if b >= a {
			b++ // distinct: b is uniform over the other n-1 nodes
		}
		ua, ub := s.states[a].usable(), s.states[b].usable()
		switch {
		case ua && ub:
			return a, b, true
		case ua:
			return a, a, false
		case ub:
			return b, b, false
		}
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
