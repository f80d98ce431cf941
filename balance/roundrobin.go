package balance

import (
	"fmt"
	"sync/atomic"
)

// RoundRobin picks the nodes in turn, in the order given, skipping ejected
// ones (their turn goes to the next node). It is safe for concurrent use:
// Pick is one atomic increment plus the node's counters.
type RoundRobin[N comparable] struct {
	pool[N]
	_    [64]byte
	next atomic.Uint64 // own cache line: every Pick increments it
	_    [56]byte
}

// NewRoundRobin returns a round-robin picker over nodes. It returns
// ErrNoNodes for an empty slice and an error naming the node for duplicates
// or naming the field for an invalid cfg.
func NewRoundRobin[N comparable](nodes []N, cfg Config) (*RoundRobin[N], error) {
	r := &RoundRobin[N]{}
	if err := r.init(cfg, nil); err != nil {
		return nil, err
	}
	if err := r.set(unit(nodes), false, true); err != nil {
		return nil, err
	}
	return r, nil
}

// Pick returns the next node in turn. It returns ErrNoNodes if the set is
// empty. It never blocks.
func (r *RoundRobin[N]) Pick() (Lease[N], error) {
	s := r.snap.Load()
	n := len(s.nodes)
	if n == 0 {
		return Lease[N]{}, ErrNoNodes
	}
	// 32-bit modulo: cheaper than 64-bit division; the cycle skips once
	// every 2^32 picks when n does not divide 2^32.
	i := int(uint32(r.next.Add(1)-1) % uint32(n))
	if !s.states[i].usable() {
		i = r.firstUsable(s, i, nil)
	}
	return r.lease(s, i, 0), nil
}

// firstUsable walks on from position i (a node index, or a sched position
// when sched is non-nil), which the caller found unusable, to the next usable
// node. If none is usable it returns i's node: better a node than a failure.
func (p *pool[N]) firstUsable(s *snapshot[N], i int, sched []int32) int {
	size := len(s.nodes)
	if sched != nil {
		size = len(sched)
	}
	node := func(pos int) int {
		if sched != nil {
			return int(sched[pos])
		}
		return pos
	}
	var now int64
	for k, pos := 1, i; k < size; k++ {
		if pos++; pos == size {
			pos = 0
		}
		if j := node(pos); s.states[j].usableAt(&now) {
			return j
		}
	}
	return node(i)
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules,
// all weights being 1).
func (r *RoundRobin[N]) Update(nodes []N) error { return r.set(unit(nodes), false, false) }

// Nodes returns a copy of the current node set.
func (r *RoundRobin[N]) Nodes() []N { return r.nodes() }

// Stats returns a snapshot of the per-node counters.
func (r *RoundRobin[N]) Stats() Stats[N] { return r.stats() }

// WeightedRoundRobin is nginx's smooth weighted round robin: over one period
// of sum(weights) picks each node is picked weight times, and the picks are
// interleaved rather than bursted (weights {5,1,1} give a a b a c a a). The
// period is computed once per node set and Pick walks it with an atomic
// counter, so Pick takes no lock. It is safe for concurrent use.
type WeightedRoundRobin[N comparable] struct {
	pool[N]
	_    [64]byte
	next atomic.Uint64
	_    [56]byte
}

// maxScheduleWork bounds the work (period × nodes) of precomputing one
// smooth period; beyond it NewWeightedRoundRobin and Update fail rather
// than stall. Weights are divided by their gcd first.
const maxScheduleWork = 1 << 26

// NewWeightedRoundRobin returns a smooth weighted round-robin picker. It
// returns ErrNoNodes for an empty slice, and an error naming the node for a
// duplicate or a weight ≤ 0, or when the period (sum of the weights divided
// by their gcd) times the number of nodes exceeds 2^26.
func NewWeightedRoundRobin[N comparable](nodes []Weighted[N], cfg Config) (*WeightedRoundRobin[N], error) {
	r := &WeightedRoundRobin[N]{}
	if err := r.init(cfg, buildSchedule[N]); err != nil {
		return nil, err
	}
	if err := r.set(nodes, true, true); err != nil {
		return nil, err
	}
	return r, nil
}

// Pick returns the next node of the smooth sequence, skipping ejected
// nodes. It returns ErrNoNodes if the set is empty. It never blocks.
func (r *WeightedRoundRobin[N]) Pick() (Lease[N], error) {
	s := r.snap.Load()
	n := len(s.sched)
	if n == 0 {
		return Lease[N]{}, ErrNoNodes
	}
	i := int(uint32(r.next.Add(1)-1) % uint32(n))
	j := int(s.sched[i])
	if !s.states[j].usable() {
		j = r.firstUsable(s, i, s.sched)
	}
	return r.lease(s, j, 0), nil
}

// Update replaces the node set. Nodes that stay keep their counters,
// ejection and in-flight state; new nodes slow-start if Config.SlowStart is
// set; Leases of removed nodes stay safe to Done. An empty set is allowed
// (Pick then returns ErrNoNodes); on error the set is unchanged.
func (r *WeightedRoundRobin[N]) Update(nodes []Weighted[N]) error {
	return r.set(nodes, true, false)
}

// Nodes returns a copy of the current node set.
func (r *WeightedRoundRobin[N]) Nodes() []N { return r.nodes() }

// Stats returns a snapshot of the per-node counters.
func (r *WeightedRoundRobin[N]) Stats() Stats[N] { return r.stats() }

// buildSchedule runs nginx's smooth weighted round robin
// (ngx_http_upstream_get_peer) for one period: every step adds each node's
// weight to its current value, picks the largest, and takes the total off
// the winner. Ties go to the earlier node, as in nginx.
func buildSchedule[N comparable](_ *pool[N], s *snapshot[N]) error {
	g := 0
	for _, w := range s.weights {
		g = gcd(g, w)
	}
	total := 0
	for _, w := range s.weights {
		total += w / g
	}
	s.sched = make([]int32, 0, total)
	if total == len(s.weights) { // all weights equal: plain round robin
		for i := range s.weights {
			s.sched = append(s.sched, int32(i))
		}
		return nil
	}
	if total*len(s.weights) > maxScheduleWork {
		return fmt.Errorf("balance: weights period %d × %d nodes exceeds %d: use smaller weights or WeightedRandom",
			total, len(s.weights), maxScheduleWork)
	}
	current := make([]int, len(s.weights))
	for range total {
		best := 0
		for i, w := range s.weights {
			current[i] += w / g
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		s.sched = append(s.sched, int32(best))
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
