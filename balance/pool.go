package balance

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// snapshot is an immutable view of the node set. Pickers load it once per
// Pick; Update builds a new one and swaps it in. Only the per-node states it
// points to change.
type snapshot[N comparable] struct {
	nodes   []N
	weights []int // nil for unweighted pickers
	states  []*nodeState
	counts  *healthCounts

	sched []int32    // WeightedRoundRobin: one smooth period of node indexes
	alias aliasTable // WeightedRandom

	ringHash []uint64 // Consistent: point hashes, ascending
	ringNode []int32  // Consistent: the node of each point

	index map[N]int // built by indexOf under pool.mu
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

	mu sync.Mutex // serialises Update and node lookups; never taken by Pick or Done
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

// set validates nodes and swaps in a new snapshot. initial marks the
// constructor's call: an empty set is then an error, and no node slow-starts.
func (p *pool[N]) set(nodes []Weighted[N], weighted, initial bool) error {
	if err := checkNodes(nodes, !initial); err != nil {
		return err
	}
	s := &snapshot[N]{
		nodes:  make([]N, len(nodes)),
		states: make([]*nodeState, len(nodes)),
	}
	s.counts = &healthCounts{n: int64(len(nodes)), states: s.states}
	if weighted {
		s.weights = make([]int, len(nodes))
	}
	for i, w := range nodes {
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
		if p.cfg.obs.Enabled() {
			var v any = n
			st.node = &v
		}
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
		if st.until.Load() != 0 {
			s.counts.unavailable.Add(1)
		}
		s.counts.total.Add(st.inFlight())
	}
	p.snap.Store(s)
	return nil
}

// indexOf finds n in a snapshot; call it under pool.mu. Update is rare; a
// linear scan over a small set would do, but fleets of thousands justify
// the map built lazily here.
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

// permit hands out node i of s, counting it in flight.
func (p *pool[N]) permit(s *snapshot[N], i int, start int64) Permit[N] {
	st := s.states[i]
	st.flight.Add(1)
	return Permit[N]{Node: s.nodes[i], st: st, start: start}
}

// firstUsable walks on from position i (a node index, or a sched position
// when sched is non-nil), which the caller found unusable, to the next usable
// node. If none is usable it falls back to noneUsable: an available node
// even if ejected, or the error that every node is unavailable.
func (p *pool[N]) firstUsable(s *snapshot[N], i int, sched []int32) (int, error) {
	size := len(s.nodes)
	if sched != nil {
		size = len(sched)
	}
	if s.counts.unavailable.Load() >= s.counts.n {
		return p.noneUsable(s, 0) // every node is held: no walk needed
	}
	var now int64
	for k, pos := 1, i; k < size; k++ {
		if pos++; pos == size {
			pos = 0
		}
		j := pos
		if sched != nil {
			j = int(sched[pos])
		}
		if s.states[j].usableAt(&now) {
			return j, nil
		}
	}
	if sched != nil {
		i = int(sched[i])
	}
	return p.noneUsable(s, i)
}

// fastrange maps a uniform 32-bit value onto [0,n) without a division
// (Lemire, "A fast alternative to the modulo reduction", 2016).
func fastrange(r uint32, n int) int {
	return int(uint64(r) * uint64(n) >> 32)
}
