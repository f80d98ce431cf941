package balance

import (
	"iter"
	"math"
	"time"
)

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
// A failed Permit records at least Config.FailurePenalty, by default 10× a
// recent healthy latency: without it a node that fails fast (connection
// refused) would have the lowest latency of all and attract the traffic.
// Finagle and Linkerd leave this to a separate failure-accrual module; here
// it is part of the estimate, and ejection (Config.EjectAfter) still
// applies. A local rejection (an error matching bulwark.ErrNotAttempted, such
// as an open breaker's) is no sample at all: it makes the node unavailable
// instead, so an idle node whose breaker is open is not picked for looking
// cheap.
//
// Latency is measured from Pick to Permit.Done with the monotonic clock, one
// reading in each and no other: Pick compares the two candidates' estimates
// decayed to the later of their last samples, which orders them as decaying
// both to the present would. It is safe for concurrent use.
type PeakEWMA[N comparable] struct {
	pool[N]
}

// NewPeakEWMA returns a P2C peak-EWMA picker. It returns an error matching
// ErrInvalidConfig (and ErrNoNodes for an empty slice) that names the node
// for duplicates or the field for an invalid cfg.
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
// the set is empty and an *UnavailableError if every node is unavailable. It
// never blocks.
func (p *PeakEWMA[N]) Pick() (Permit[N], error) {
	s := p.snap.Load()
	now := p.cfg.now()
	if len(s.nodes) < 2 {
		return p.pickOne(s, now)
	}
	a, b := p.draw2(len(s.nodes))
	if !bothClear(s.states[a], s.states[b]) {
		var both bool
		var err error
		if a, b, both, err = p.pair(s, a, b); err != nil {
			return Permit[N]{}, err
		} else if !both {
			return p.permit(s, a, now), nil
		}
	}
	return p.permit(s, lighter(s.states, a, b, now), now), nil
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

// MarkUnavailable makes node unavailable until the given moment (see
// RoundRobin.MarkUnavailable).
func (p *PeakEWMA[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return p.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (p *PeakEWMA[N]) Nodes() []N { return p.nodes() }

// Stats returns a snapshot of the per-node counters; NodeStats.Latency is
// the current (decayed) latency estimate.
func (p *PeakEWMA[N]) Stats() Stats[N] { return p.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (p *PeakEWMA[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return p.allStats() }

// observeDone records the latency of a PeakEWMA Permit that started at
// start; done is the node's count of Permits done, this one included.
// Local rejections are not observed at all: the node never saw the call.
//
// A failed Permit records at least the failure penalty: a node that fails
// fast (connection refused) must not look cheap. The penalty is Config.FailurePenalty, or by default 10× the
// picker's reference latency, a recent successful estimate of some node:
// each node publishes its estimate after its first success and then every
// 64th, so the shared word is written rarely and read only on failures.
// Before any success the default penalty is 0 (nothing to compare with;
// ejection still applies).
//
// With Config.SlowFactor it reports whether a successful Permit was slow
// enough to count as a failure (see slow.go).
func (s *nodeState) observeDone(start int64, failed bool, done uint64) (slow bool) {
	cfg := s.cfg
	now := cfg.now()
	rtt := float64(now - start)
	if failed {
		p := cfg.failPenalty
		if p == 0 {
			p = 10 * math.Float64frombits(cfg.ref.Load())
		}
		s.observe(max(rtt, p), now)
		return false
	}
	cost := s.observe(rtt, now)
	published := done&63 == 1
	if published || cfg.ref.Load() == 0 {
		cfg.ref.Store(math.Float64bits(cost))
	}
	if cfg.slowFactor == 0 {
		return false
	}
	if published {
		cfg.updateMedian(s.counts.Load())
	}
	return cfg.slow(start, now, rtt)
}

// observe folds one latency sample into the peak EWMA (Finagle PeakEwma):
// a sample above the estimate replaces it at once; a lower one is blended
// with weight 1-exp(-Δt/τ). Concurrent observers retry on the estimate's CAS;
// the stamp is written after, so a racing pair may decay by a slightly
// different Δt, which only blurs the estimate. It returns the new estimate.
func (s *nodeState) observe(rtt float64, now int64) float64 {
	var next float64
	for {
		old := s.cost.Load()
		cost := math.Float64frombits(old)
		next = rtt
		if rtt < cost {
			w := expNeg(float64(now-s.stamp.Load()) * s.cfg.invDecay)
			next = cost*w + rtt*(1-w)
		}
		if s.cost.CompareAndSwap(old, math.Float64bits(next)) {
			break
		}
	}
	s.stamp.Store(now)
	return next
}

// load is PeakEWMA's score: the latency estimate decayed to now, times
// (in-flight+1). A node with requests out but no sample yet gets a large
// penalty so that a new node is probed by one request at a time (Finagle's
// Penalty). Pick compares loads through lighter, which computes the same
// order with less work and falls back to load when either node has no
// sample yet.
func (s *nodeState) load(now int64) float64 {
	pending := float64(s.inFlight())
	cost := math.Float64frombits(s.cost.Load())
	if cost == 0 {
		if pending != 0 {
			return penalty + pending
		}
		return 0
	}
	if dt := now - s.stamp.Load(); dt > 0 {
		cost *= expNeg(float64(dt) * s.cfg.invDecay)
	}
	return cost * (pending + 1)
}

// estimate is the latency estimate in ns, decayed to now: an idle node's
// estimate falls towards 0 so that a node avoided for being slow is tried
// again (Finagle decays on every read).
func (s *nodeState) estimate(now int64) float64 {
	cost := math.Float64frombits(s.cost.Load())
	if dt := now - s.stamp.Load(); cost != 0 && dt > 0 {
		cost *= expNeg(float64(dt) * s.cfg.invDecay)
	}
	return cost
}

// expNeg is exp(-x) for x ≥ 0 to about 1e-7 relative error, several times
// cheaper than math.Exp: x = k·ln2 + r with r in [0, ln2), a degree-7
// Taylor polynomial for exp(-r), and 2^-k applied to the exponent bits;
// below 1/1024 a second-order Taylor term is exact enough.
// A decay weight needs no more precision than that.
//
// The fast path is small enough to be inlined into its callers; the rest is
// expNegSlow.
func expNeg(x float64) float64 {
	if x < 1.0/1024 { // the usual case under load: samples ms apart, τ in s
		// Error below x³/6 < 2e-10. Written as a sum, not in Horner form,
		// so that 1-x and x² are computed side by side: the weight is on
		// the critical path of both Pick and Done.
		return (1 - x) + x*x/2
	}
	return expNegSlow(x)
}

//go:noinline
func expNegSlow(x float64) float64 {
	if x > 700 || x != x {
		return 0
	}
	k := int(x * (1 / math.Ln2))
	r := x - float64(k)*math.Ln2
	p := 1 - r*(1-r*(1.0/2-r*(1.0/6-r*(1.0/24-r*(1.0/120-r*(1.0/720-r*(1.0/5040)))))))
	return math.Float64frombits(math.Float64bits(p) - uint64(k)<<52)
}

const penalty = math.MaxFloat64 / 4
