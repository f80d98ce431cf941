package balance

import (
	"iter"
	"sync/atomic"
	"time"
)

// RoundRobin picks the nodes in turn, in the order given, skipping
// unavailable and ejected ones (their turn goes to the next node). It is
// safe for concurrent use: Pick is one atomic increment plus the node's
// counters.
type RoundRobin[N comparable] struct {
	pool[N]
	_    [64]byte
	next atomic.Uint64 // own cache line: every Pick increments it
	_    [56]byte
}

// NewRoundRobin returns a round-robin picker over nodes. It returns an error
// matching ErrInvalidConfig (and ErrNoNodes for an empty slice) that names
// the node for duplicates or the field for an invalid cfg.
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
// empty and an *UnavailableError if every node is unavailable. It never
// blocks.
func (r *RoundRobin[N]) Pick() (Permit[N], error) {
	s := r.snap.Load()
	n := len(s.nodes)
	if n == 0 {
		return Permit[N]{}, r.noNodes()
	}
	// 32-bit modulo: cheaper than 64-bit division; the cycle skips once
	// every 2^32 picks when n does not divide 2^32.
	i := int(uint32(r.next.Add(1)-1) % uint32(n))
	if st := s.states[i]; !st.clear() && !st.usableNow() {
		var err error
		if i, err = r.firstUsable(s, i, nil); err != nil {
			return Permit[N]{}, err
		}
	}
	return r.permit(s, i, 0), nil
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules,
// all weights being 1).
func (r *RoundRobin[N]) Update(nodes []N) error { return r.set(unit(nodes), false, false) }

// MarkUnavailable makes node unavailable until the given moment, as a local
// rejection reported to Permit.Done does: Pick skips it, and it is neither a
// failure nor an ejection. A zero or past until makes it available again.
// reason, which may be nil, is named by Pick's UnavailableError. It reports
// whether node is in the set.
func (r *RoundRobin[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return r.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (r *RoundRobin[N]) Nodes() []N { return r.nodes() }

// Stats returns a snapshot of the per-node counters.
func (r *RoundRobin[N]) Stats() Stats[N] { return r.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (r *RoundRobin[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return r.allStats() }
