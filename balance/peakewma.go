package balance

import "math"

// PeakEWMA is P2C on Finagle's peak-EWMA load (the "Peak EWMA" balancer of
// Finagle and Linkerd): each node keeps an exponentially weighted moving
// average of its response latency that jumps to any slower sample at once
// (peak sensitivity) and falls back gradually with time constant
// Config.DecayTime; its load is that estimate times (in-flight+1). Pick draws
// two distinct random nodes and takes the lower load, so a node that turns
// slow is avoided within a few requests and tried again as its estimate
// decays. A node with requests out and no sample yet scores a large penalty,
// so a new node is probed by one request at a time.
//
// A failed Lease (any error but context.Canceled) records at least
// Config.FailurePenalty, by default 10× a recent healthy latency: without
// it a node that fails fast (connection refused, an upstream breaker's
// ErrOpen) would have the lowest latency of all and attract the traffic.
// Finagle and Linkerd leave this to a separate failure-accrual module; here
// it is part of the estimate, and ejection (Config.EjectAfter) still applies.
//
// Latency is measured from Pick to Lease.Done with the monotonic clock, one
// reading in each and no other: Pick compares the two candidates' estimates
// decayed to the later of their last samples, which orders them as decaying
// both to the present would. It is safe for concurrent use.
type PeakEWMA[N comparable] struct {
	pool[N]
}

// NewPeakEWMA returns a P2C peak-EWMA picker. It returns ErrNoNodes for an
// empty slice and an error naming the node for duplicates or naming the
// field for an invalid cfg.
func NewPeakEWMA[N comparable](nodes []N, cfg Config) (*PeakEWMA[N], error) {
	p := &PeakEWMA[N]{}
	if err := p.init(cfg, nil); err != nil {
		return nil, err
	}
	p.cfg.latency = true
	if err := p.set(unit(nodes), false, true); err != nil {
		return nil, err
	}
	return p, nil
}

// Pick returns the lower-cost of two random nodes. It returns ErrNoNodes if
// the set is empty. It never blocks.
func (p *PeakEWMA[N]) Pick() (Lease[N], error) {
	s := p.snap.Load()
	if len(s.nodes) == 0 {
		return Lease[N]{}, ErrNoNodes
	}
	now := p.cfg.now()
	if len(s.nodes) == 1 {
		return p.lease(s, 0, now), nil
	}
	a, b := p.draw2(len(s.nodes))
	if s.states[a].gate.Load()|s.states[b].gate.Load() != 0 {
		var both bool
		if a, b, both = p.pair(s, a, b); !both {
			return p.lease(s, a, now), nil
		}
	}
	return p.lease(s, lighter(s.states, a, b, now), now), nil
}

// lighter returns whichever of nodes a and b has the lower load at now (a
// on a tie): the order of a.load(now) and b.load(now), computed with less
// work. Decaying both estimates to now multiplies both loads by the same
// factor, so the order is the same when both are decayed only to the later
// of their two stamps: the newer estimate then decays by exp(-0) = 1, and
// the older one over the gap between the stamps. This needs no clock
// reading and only one exponential that is not trivial. The results agree
// up to rounding, except where decaying to now would underflow both loads
// to 0 (this still orders them) or a racing Done stamped a node after now
// (load does not decay that node at all). A node without a sample scores a
// penalty or 0, never decayed, so that case takes the plain comparison.
//
// The choice is a conditional move, not a branch: which node is lighter is
// a coin toss for the branch predictor. As for leastFrom, the compiler
// emits the move only if the function is not inlined into Pick.
//
//go:noinline
func lighter(states []*nodeState, a, b int, now int64) int {
	sa, sb := states[a], states[b]
	ca := math.Float64frombits(sa.cost.Load())
	cb := math.Float64frombits(sb.cost.Load())
	if ca == 0 || cb == 0 {
		if sb.load(now) < sa.load(now) {
			a = b
		}
		return a
	}
	ta, tb := sa.stamp.Load(), sb.stamp.Load()
	t := max(ta, tb)
	invDecay := sa.cfg.invDecay
	la := ca * float64(sa.inFlight()+1) * expNeg(float64(t-ta)*invDecay)
	lb := cb * float64(sb.inFlight()+1) * expNeg(float64(t-tb)*invDecay)
	if lb < la {
		a = b
	}
	return a
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
// Nodes that stay keep their latency estimates.
func (p *PeakEWMA[N]) Update(nodes []N) error { return p.set(unit(nodes), false, false) }

// Nodes returns a copy of the current node set.
func (p *PeakEWMA[N]) Nodes() []N { return p.nodes() }

// Stats returns a snapshot of the per-node counters; NodeStats.Latency is
// the current (decayed) latency estimate.
func (p *PeakEWMA[N]) Stats() Stats[N] { return p.stats() }
