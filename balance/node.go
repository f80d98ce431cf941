package balance

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
)

// nodeState is the live, shared state of one node. It outlives snapshots:
// Update hands a surviving node's state to the new snapshot, and a removed
// node's state stays valid for its outstanding Leases. It is padded to two
// cache lines so that Pick/Done on one node never contend with another
// node's counters (false sharing).
type nodeState struct {
	// flight packs the in-flight count (low 32 bits) with the number of
	// Leases done modulo 2^32 (high 32 bits): Pick adds 1, Done adds
	// 2^32-1 (done+1, in flight-1), so a request costs two atomic adds and
	// the pickers' load reads are one load per node. wraps counts the done
	// field's wraparounds, for Stats.Picks. A node holds at most 2^32-1
	// Leases in flight.
	flight atomic.Uint64
	wraps  atomic.Uint64
	// gate is the node's health state in one word, so that the common
	// check is a single load and every transition a single CAS:
	// 0 healthy at full share; > 0 ejected until that now(); < 0 in slow
	// start since -gate.
	gate       atomic.Int64
	consecFail atomic.Int64

	failures  atomic.Uint64
	ejections atomic.Uint64
	streak    atomic.Int64 // ejections in a row, for the doubling
	backAt    atomic.Int64 // now() when last reinstated

	// PeakEWMA: cost is the latency estimate in ns (float64 bits), stamp
	// the now() of its last update.
	cost  atomic.Uint64
	stamp atomic.Int64

	cfg    *settings
	counts atomic.Pointer[healthCounts] // nil once removed by Update

	_ [128 - 10*8 - 2*8]byte
}

const (
	inFlightMask = 1<<32 - 1
	doneStep     = 1<<32 - 1 // added by Done: done+1, in flight-1
)

// healthCounts are the per-snapshot aggregates that ejection and bounded
// loads need. Update builds a fresh one and recounts it from the surviving
// nodes. A Done racing with Update may leave a count off by one until that
// node's next transition; the counts are only used as bounds.
type healthCounts struct {
	n       int64
	ejected atomic.Int64
	total   atomic.Int64 // total in-flight, only when settings.trackTotal
}

// inFlight is the number of Leases not yet Done.
func (s *nodeState) inFlight() int64 {
	return int64(s.flight.Load() & inFlightMask)
}

// picks is the number of Leases handed out (for Stats).
func (s *nodeState) picks() uint64 {
	v := s.flight.Load()
	return s.wraps.Load()<<32 + v>>32 + v&inFlightMask
}

func newNodeState(cfg *settings) *nodeState {
	return &nodeState{cfg: cfg}
}

func (s *nodeState) finish(start int64, err error) {
	cfg := s.cfg
	v := s.flight.Add(doneStep)
	if v&inFlightMask == inFlightMask {
		s.flight.Add(^uint64(doneStep - 1)) // a Done through a copied Lease: keep the count sane
		return
	}
	if v>>32 == 0 {
		s.wraps.Add(1)
	}
	if start != 0 {
		s.observeDone(start, err, v>>32)
	}
	if cfg.trackTotal {
		if c := s.counts.Load(); c != nil {
			c.total.Add(-1)
		}
	}
	switch {
	case err == nil:
		if s.consecFail.Load() != 0 {
			s.consecFail.Store(0)
		}
		if s.streak.Load() != 0 {
			s.forgive()
		}
	case errors.Is(err, context.Canceled):
		// The caller gave up: says nothing about the node.
	default:
		s.fail()
	}
}

// forgive resets the ejection doubling once a reinstated node has stayed
// healthy for a base ejection time.
func (s *nodeState) forgive() {
	if s.cfg.now()-s.backAt.Load() >= s.cfg.ejectFor {
		s.streak.Store(0)
	}
}

func (s *nodeState) fail() {
	s.failures.Add(1)
	if s.consecFail.Add(1) < s.cfg.ejectAfter || s.cfg.noEject {
		return
	}
	if s.gate.Load() > 0 {
		return
	}
	s.tryEject(s.cfg.now())
}

// tryEject ejects the node unless that would exceed MaxEjectedPercent.
func (s *nodeState) tryEject(now int64) {
	c := s.counts.Load()
	if c == nil {
		return // removed by Update
	}
	for {
		e := c.ejected.Load()
		if (e+1)*100 > s.cfg.maxEjectedPct*c.n {
			return
		}
		if c.ejected.CompareAndSwap(e, e+1) {
			break
		}
	}
	d := s.cfg.ejectFor
	for i := s.streak.Add(1) - 1; i > 0 && d < s.cfg.maxEjectFor; i-- {
		d *= 2
	}
	d = min(d, s.cfg.maxEjectFor)
	for {
		g := s.gate.Load()
		if g > 0 {
			c.ejected.Add(-1) // a concurrent Done ejected it first
			s.streak.Add(-1)
			return
		}
		if s.gate.CompareAndSwap(g, now+d) { // ends any slow start too
			break
		}
	}
	s.ejections.Add(1)
	s.consecFail.Store(0)
}

// usable reports whether the node may be picked now. The common case, a
// healthy node at full share, is one load, no clock read, and inlined.
func (s *nodeState) usable() bool {
	var now int64
	return s.gate.Load() == 0 || s.usableSlow(&now)
}

// usableAt is usable for the loops that may test many nodes: they share one
// lazily read clock reading (*now, 0 until read), so a Pick reads the clock
// at most once however many unhealthy nodes it meets.
func (s *nodeState) usableAt(now *int64) bool {
	return s.gate.Load() == 0 || s.usableSlow(now)
}

// usableSlow is for nodes that are ejected or warming up.
func (s *nodeState) usableSlow(nowp *int64) bool {
	if *nowp == 0 {
		*nowp = s.cfg.now()
	}
	now := *nowp
	g := s.gate.Load()
	if g > 0 {
		if now < g {
			return s.panicking()
		}
		g = s.reinstate(g, now)
	}
	if g == 0 {
		return true
	}
	elapsed := now + g // g = -start
	if elapsed >= s.cfg.slowStart {
		s.gate.CompareAndSwap(g, 0)
		return true
	}
	// Linear ramp: admitted with probability elapsed/SlowStart.
	return elapsed > 0 && s.cfg.rand()%uint64(s.cfg.slowStart) < uint64(elapsed)
}

// reinstate ends an expired ejection (starting slow start if configured)
// and returns the new gate.
func (s *nodeState) reinstate(until, now int64) int64 {
	next := int64(0)
	if s.cfg.slowStart > 0 {
		next = -now
	}
	if !s.gate.CompareAndSwap(until, next) {
		return s.gate.Load() // another Pick reinstated it
	}
	if c := s.counts.Load(); c != nil {
		c.ejected.Add(-1)
	}
	s.backAt.Store(now)
	return next
}

// panicking reports whether fewer than PanicPercent of the nodes are
// healthy, in which case ejected nodes are picked too.
func (s *nodeState) panicking() bool {
	c := s.counts.Load()
	if c == nil || s.cfg.panicPct == 0 {
		return false
	}
	healthy := c.n - c.ejected.Load()
	return healthy*100 < s.cfg.panicPct*c.n
}

// observeDone records the latency of a PeakEWMA Lease that started at
// start; done is the node's count of Leases done, this one included.
//
// A failed Lease records at least the failure penalty: a node that fails
// fast (connection refused, an upstream breaker's ErrOpen) must not look
// cheap. The penalty is Config.FailurePenalty, or by default 10× the
// picker's reference latency, a recent successful estimate of some node:
// each node publishes its estimate after its first success and then every
// 64th, so the shared word is written rarely and read only on failures.
// Before any success the default penalty is 0 (nothing to compare with;
// ejection still applies).
func (s *nodeState) observeDone(start int64, err error, done uint64) {
	cfg := s.cfg
	now := cfg.now()
	rtt := float64(now - start)
	switch {
	case err == nil:
		cost := s.observe(rtt, now)
		if done&63 == 1 || cfg.ref.Load() == 0 {
			cfg.ref.Store(math.Float64bits(cost))
		}
		return
	case !errors.Is(err, context.Canceled):
		p := cfg.failPenalty
		if p == 0 {
			p = 10 * math.Float64frombits(cfg.ref.Load())
		}
		rtt = max(rtt, p)
	}
	s.observe(rtt, now)
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
