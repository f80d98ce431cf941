package balance

import (
	"iter"
	"sync/atomic"
	"time"
)

// WeightedRoundRobin is nginx's smooth weighted round robin: over one period
// of sum(weights) picks each node is picked weight times, and the picks are
// interleaved rather than bursted (weights {5,1,1} give a a b a c a a). The
// period is computed once per node set and Pick walks it with an atomic
// counter, so Pick takes no lock. Unavailable and ejected nodes are skipped.
// It is safe for concurrent use.
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
// returns an error matching ErrInvalidConfig (and ErrNoNodes for an empty
// slice) that names the node for a duplicate or a weight ≤ 0, or says that
// the period (sum of the weights divided by their gcd) times the number of
// nodes exceeds 2^26.
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

// Pick returns the next node of the smooth sequence, skipping unavailable
// and ejected nodes. It returns ErrNoNodes if the set is empty and an
// *UnavailableError if every node is unavailable. It never blocks.
func (r *WeightedRoundRobin[N]) Pick() (Permit[N], error) {
	s := r.snap.Load()
	n := len(s.sched)
	if n == 0 {
		return Permit[N]{}, r.noNodes()
	}
	i := int(uint32(r.next.Add(1)-1) % uint32(n))
	j := int(s.sched[i])
	if st := s.states[j]; !st.clear() && !st.usableNow() {
		var err error
		if j, err = r.firstUsable(s, i, s.sched); err != nil {
			return Permit[N]{}, err
		}
	}
	return r.permit(s, j, 0), nil
}

// Update replaces the node set. Nodes that stay keep their counters,
// ejection, availability and in-flight state; new nodes slow-start if
// Config.SlowStart is set; Permits of removed nodes stay safe to Done. An
// empty set is allowed (Pick then returns ErrNoNodes); on error the set is
// unchanged.
func (r *WeightedRoundRobin[N]) Update(nodes []Weighted[N]) error {
	return r.set(nodes, true, false)
}

// MarkUnavailable makes node unavailable until the given moment (see
// RoundRobin.MarkUnavailable).
func (r *WeightedRoundRobin[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return r.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (r *WeightedRoundRobin[N]) Nodes() []N { return r.nodes() }

// Stats returns a snapshot of the per-node counters.
func (r *WeightedRoundRobin[N]) Stats() Stats[N] { return r.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (r *WeightedRoundRobin[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return r.allStats() }

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
		return configErrorf("weights period %d × %d nodes exceeds %d: use smaller weights or WeightedRandom",
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
