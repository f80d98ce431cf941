package balance

import (
	"iter"
	"time"
)

// Stats is a snapshot of a picker's counters, one entry per current node in
// Update order. It is cheap to take (atomic loads) and allocates only the
// returned slice.
type Stats[N comparable] struct {
	Nodes []NodeStats[N]
	// Ejected is the number of nodes currently ejected.
	Ejected int
	// Unavailable is the number of nodes currently unavailable.
	Unavailable int
	// Panic reports whether the panic threshold is in force (PanicPercent
	// set and fewer than that share of nodes not ejected).
	Panic bool
	// ObserverPanics counts panics of Config.Observer, recovered.
	ObserverPanics int64
}

// NodeStats are one node's counters. Counters survive Update for nodes that
// stay in the set.
type NodeStats[N comparable] struct {
	Node N
	// Weight is the configured weight (1 for unweighted pickers).
	Weight int
	// Picks counts Permits handed out for the node.
	Picks int64
	// InFlight is the number of Permits not yet Done.
	InFlight int64
	// Failures counts Permits Done with a failure.
	Failures int64
	// ConsecutiveFailures is the current run of failures.
	ConsecutiveFailures int64
	// Rejections counts Permits Done with a local rejection (an error
	// matching bulwark.ErrNotAttempted); they are not failures.
	Rejections int64
	// Ejections counts how many times the node was ejected.
	Ejections int64
	// Ejected reports whether the node is ejected now; EjectedFor is the
	// time left.
	Ejected    bool
	EjectedFor time.Duration
	// Unavailable reports whether the node is unavailable now (a layer
	// below refuses work for it); UnavailableFor is the time left.
	Unavailable    bool
	UnavailableFor time.Duration
	// Warming reports whether the node is in its slow-start ramp.
	Warming bool
	// Latency is PeakEWMA's current latency estimate (zero for the other
	// pickers and before the first sample).
	Latency time.Duration
}

func (p *pool[N]) stats() Stats[N] {
	s := p.snap.Load()
	now := p.cfg.now()
	out := Stats[N]{Nodes: make([]NodeStats[N], len(s.nodes)), ObserverPanics: p.cfg.obs.Panics()}
	for i := range s.states {
		ns := p.nodeStats(s, i, now)
		if ns.Ejected {
			out.Ejected++
		}
		if ns.Unavailable {
			out.Unavailable++
		}
		out.Nodes[i] = ns
	}
	if p.cfg.panicPct > 0 && len(s.nodes) > 0 {
		out.Panic = (int64(len(s.nodes)-out.Ejected))*100 < p.cfg.panicPct*int64(len(s.nodes))
	}
	return out
}

// allStats is every picker's AllStats: the nodes of the snapshot current
// when iteration starts, each read when it is yielded.
func (p *pool[N]) allStats() iter.Seq2[N, NodeStats[N]] {
	return func(yield func(N, NodeStats[N]) bool) {
		s := p.snap.Load()
		now := p.cfg.now()
		for i := range s.states {
			if !yield(s.nodes[i], p.nodeStats(s, i, now)) {
				return
			}
		}
	}
}

// nodeStats reads node i of snapshot s at now.
func (p *pool[N]) nodeStats(s *snapshot[N], i int, now int64) NodeStats[N] {
	st := s.states[i]
	ns := NodeStats[N]{
		Node:                s.nodes[i],
		Weight:              1,
		Picks:               st.picks(),
		InFlight:            st.inFlight(),
		Failures:            st.failures.Load(),
		ConsecutiveFailures: st.consecFail.Load(),
		Rejections:          st.rejections.Load(),
		Ejections:           st.ejections.Load(),
	}
	if s.weights != nil {
		ns.Weight = s.weights[i]
	}
	switch g := st.gate.Load(); {
	case g > now:
		ns.Ejected = true
		ns.EjectedFor = time.Duration(g - now)
	case g < 0 && now+g < p.cfg.slowStart:
		ns.Warming = true
	}
	if u := st.until.Load(); u > now {
		ns.Unavailable = true
		ns.UnavailableFor = time.Duration(u - now)
	}
	if p.cfg.latency {
		ns.Latency = time.Duration(st.estimate(now))
	}
	return ns
}
