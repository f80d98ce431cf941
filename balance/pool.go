package balance

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// snapshot is an immutable view of the node set. Pickers load it once per
// Pick; Update builds a new one and swaps it in. Only the per-node states it
// points to change.
type snapshot[N comparable] struct {
	nodes   []N
	weights []int // nil for unweighted pickers
	states  []*nodeState
	counts  *healthCounts

	sched []int32     // WeightedRoundRobin: one smooth period of node indexes
	alias aliasTable  // WeightedRandom
	ring  []ringPoint // Consistent: built sorted, then split into the two below

	ringHash []uint64 // Consistent: point hashes, ascending
	ringNode []int32  // Consistent: the node of each point

	index map[N]int // built by indexOf under pool.mu during Update
}

// pool is the state every picker shares: the current snapshot, the
// settings, the random source and the Update lock.
type pool[N comparable] struct {
	snap atomic.Pointer[snapshot[N]]
	cfg  *settings
	seed maphash.Seed
	// build derives picker-specific tables (schedule, alias table, ring)
	// from a snapshot's nodes and weights.
	build func(*pool[N], *snapshot[N]) error

	mu sync.Mutex // serialises Update; never taken by Pick or Done
}

func (p *pool[N]) init(cfg Config, build func(*pool[N], *snapshot[N]) error) error {
	s, err := newSettings(cfg)
	if err != nil {
		return err
	}
	p.cfg = s
	p.seed = maphash.MakeSeed()
	p.build = build
	return nil
}

// unit gives every node weight 1.
func unit[N comparable](nodes []N) []Weighted[N] {
	ws := make([]Weighted[N], len(nodes))
	for i, n := range nodes {
		ws[i] = Weighted[N]{Node: n, Weight: 1}
	}
	return ws
}

// set validates nodes and swaps in a new snapshot. initial marks the
// constructor's call: an empty set is then an error, and no node slow-starts.
func (p *pool[N]) set(nodes []Weighted[N], weighted, initial bool) error {
	if initial && len(nodes) == 0 {
		return ErrNoNodes
	}
	s := &snapshot[N]{
		nodes:  make([]N, len(nodes)),
		states: make([]*nodeState, len(nodes)),
		counts: &healthCounts{n: int64(len(nodes))},
	}
	if weighted {
		s.weights = make([]int, len(nodes))
	}
	seen := make(map[N]int, len(nodes))
	for i, w := range nodes {
		if j, dup := seen[w.Node]; dup {
			return fmt.Errorf("balance: duplicate node %v at indexes %d and %d", w.Node, j, i)
		}
		seen[w.Node] = i
		if w.Weight <= 0 {
			return fmt.Errorf("balance: node %v weight %d is not positive", w.Node, w.Weight)
		}
		s.nodes[i] = w.Node
		if weighted {
			s.weights[i] = w.Weight
		}
	}
	if p.build != nil {
		if err := p.build(p, s); err != nil {
			return err
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.snap.Load()
	kept := make(map[*nodeState]bool, len(nodes))
	var now int64
	for i, n := range s.nodes {
		if old != nil {
			if j, ok := indexOf(old, n); ok {
				s.states[i] = old.states[j]
				kept[old.states[j]] = true
				continue
			}
		}
		st := newNodeState(p.cfg)
		if !initial && p.cfg.slowStart > 0 {
			if now == 0 {
				now = p.cfg.now()
			}
			st.gate.Store(-now)
		}
		s.states[i] = st
	}
	if old != nil {
		for _, st := range old.states {
			if !kept[st] {
				st.counts.Store(nil)
			}
		}
	}
	for _, st := range s.states {
		st.counts.Store(s.counts)
		if st.gate.Load() > 0 {
			s.counts.ejected.Add(1)
		}
		s.counts.total.Add(st.inFlight())
	}
	p.snap.Store(s)
	return nil
}

// indexOf finds n in a snapshot. Update is rare; a linear scan over a small
// set would do, but fleets of thousands justify the map built lazily here.
func indexOf[N comparable](s *snapshot[N], n N) (int, bool) {
	if s.index == nil {
		s.index = make(map[N]int, len(s.nodes))
		for i, m := range s.nodes {
			s.index[m] = i
		}
	}
	i, ok := s.index[n]
	return i, ok
}

func (p *pool[N]) nodes() []N {
	s := p.snap.Load()
	out := make([]N, len(s.nodes))
	copy(out, s.nodes)
	return out
}

// Stats is a snapshot of a picker's counters, one entry per current node in
// Update order. It is cheap to take (atomic loads) and allocates only the
// returned slice.
type Stats[N comparable] struct {
	Nodes []NodeStats[N]
	// Ejected is the number of nodes currently ejected.
	Ejected int
	// Panic reports whether the panic threshold is in force (PanicPercent
	// set and fewer than that share of nodes healthy).
	Panic bool
}

// NodeStats are one node's counters. Counters survive Update for nodes that
// stay in the set.
type NodeStats[N comparable] struct {
	Node N
	// Weight is the configured weight (1 for unweighted pickers).
	Weight int
	// Picks counts Leases handed out for the node.
	Picks uint64
	// InFlight is the number of Leases not yet Done.
	InFlight int64
	// Failures counts Leases Done with a failure.
	Failures uint64
	// ConsecutiveFailures is the current run of failures.
	ConsecutiveFailures int64
	// Ejections counts how many times the node was ejected.
	Ejections uint64
	// Ejected reports whether the node is ejected now; EjectedFor is the
	// time left.
	Ejected    bool
	EjectedFor time.Duration
	// Warming reports whether the node is in its slow-start ramp.
	Warming bool
	// Latency is PeakEWMA's current latency estimate (zero for the other
	// pickers and before the first sample).
	Latency time.Duration
}

func (p *pool[N]) stats() Stats[N] {
	s := p.snap.Load()
	now := p.cfg.now()
	out := Stats[N]{Nodes: make([]NodeStats[N], len(s.nodes))}
	for i, st := range s.states {
		ns := NodeStats[N]{
			Node:                s.nodes[i],
			Weight:              1,
			Picks:               st.picks(),
			InFlight:            st.inFlight(),
			Failures:            st.failures.Load(),
			ConsecutiveFailures: st.consecFail.Load(),
			Ejections:           st.ejections.Load(),
		}
		if s.weights != nil {
			ns.Weight = s.weights[i]
		}
		switch g := st.gate.Load(); {
		case g > now:
			ns.Ejected = true
			ns.EjectedFor = time.Duration(g - now)
			out.Ejected++
		case g < 0 && now+g < p.cfg.slowStart:
			ns.Warming = true
		}
		if p.cfg.latency {
			ns.Latency = time.Duration(st.estimate(now))
		}
		out.Nodes[i] = ns
	}
	if p.cfg.panicPct > 0 && len(s.nodes) > 0 {
		out.Panic = (int64(len(s.nodes)-out.Ejected))*100 < p.cfg.panicPct*int64(len(s.nodes))
	}
	return out
}

// lease hands out node i of s, counting it in flight.
func (p *pool[N]) lease(s *snapshot[N], i int, start int64) Lease[N] {
	st := s.states[i]
	st.flight.Add(1)
	return Lease[N]{Node: s.nodes[i], st: st, start: start}
}

// fastrange maps a uniform 32-bit value onto [0,n) without a division
// (Lemire, "A fast alternative to the modulo reduction", 2016).
func fastrange(r uint32, n int) int {
	return int(uint64(r) * uint64(n) >> 32)
}
