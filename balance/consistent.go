package balance

import (
	"hash/maphash"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Consistent routes by key over a hash ring with bounded loads (Mirrokni,
// Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018;
// HAProxy hash-balance-factor; Envoy hash_balance_factor): a key goes to the
// first node clockwise from its hash whose in-flight count is below
// ceil(c·m/n), where m is the number of Leases in flight including this one,
// n the number of usable nodes and c Config.LoadFactor. While loads are
// balanced a key always lands on the same node; under skew the excess spills
// to the next nodes on the ring instead of piling up.
//
// Each node has Config.Replicas points on the ring. Keys are hashed with
// xxhash64, and so are nodes of type string ("host:port"): every process
// that builds a Consistent over the same string nodes with the same Replicas
// sends a key to the same node while loads are balanced, so a fleet of
// clients keeps one backend's cache warm for a key. Nodes of other types are
// placed by hash/maphash with a per-picker random seed: stable for the
// picker's lifetime (across Update), not across processes. Package shard
// documents its hash as stable across releases; this placement is not part
// of the API. It is safe for concurrent use.
type Consistent[N comparable] struct {
	pool[N]
}

type ringPoint struct {
	hash uint64
	node int32
}

// ringStart is the index of the first ring point at or after h (len for
// none: the walk wraps to 0). A plain loop over the hashes alone keeps the
// search in few cache lines.
func (s *snapshot[N]) ringStart(h uint64) int {
	lo, hi := 0, len(s.ringHash)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.ringHash[mid] < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// NewConsistent returns a bounded-load consistent-hashing picker. It returns
// ErrNoNodes for an empty slice and an error naming the node for duplicates
// or naming the field for an invalid cfg (LoadFactor below 1 included).
func NewConsistent[N comparable](nodes []N, cfg Config) (*Consistent[N], error) {
	c := &Consistent[N]{}
	if err := c.init(cfg, buildRing[N]); err != nil {
		return nil, err
	}
	c.cfg.trackTotal = true
	if err := c.set(unit(nodes), false, true); err != nil {
		return nil, err
	}
	return c, nil
}

// PickKey returns the node for key: its ring owner unless that node is at
// its load bound, ejected or warming up, in which case the next node along
// the ring. It returns ErrNoNodes if the set is empty. It never blocks.
func (c *Consistent[N]) PickKey(key string) (Lease[N], error) {
	return c.pickHash(xxhash.Sum64String(key))
}

// Pick routes a random key: bounded-load spreading without affinity, so
// that Consistent also satisfies Picker.
func (c *Consistent[N]) Pick() (Lease[N], error) {
	return c.pickHash(c.cfg.rand())
}

func (c *Consistent[N]) pickHash(h uint64) (Lease[N], error) {
	s := c.snap.Load()
	if len(s.nodes) == 0 {
		return Lease[N]{}, ErrNoNodes
	}
	m := s.counts.total.Add(1)
	usable := s.counts.n - s.counts.ejected.Load()
	if usable < 1 {
		usable = 1
	}
	bound := int64(math.Ceil(c.cfg.loadFactor * float64(m) / float64(usable)))

	start := s.ringStart(h)
	var now int64
	for k := 0; k < len(s.ringNode); k++ {
		i := int(s.ringNode[(start+k)%len(s.ringNode)])
		st := s.states[i]
		if st.usableAt(&now) && st.acquireBelow(bound) {
			return Lease[N]{Node: s.nodes[i], st: st}, nil
		}
	}
	// Every node is full or unusable: only reachable when all are ejected
	// or warming. Fall back to the key's owner, over the bound.
	i := int(s.ringNode[start%len(s.ringNode)])
	st := s.states[i]
	st.flight.Add(1)
	return Lease[N]{Node: s.nodes[i], st: st}, nil
}

// acquireBelow takes an in-flight slot only if that keeps the node at or
// under bound, so that concurrent Picks cannot overshoot it together.
func (s *nodeState) acquireBelow(bound int64) bool {
	for {
		v := s.flight.Load()
		if int64(v&inFlightMask)+1 > bound {
			return false
		}
		if s.flight.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// Update replaces the node set (see WeightedRoundRobin.Update for the rules).
// Nodes that stay keep their ring points, so only the keys of removed nodes
// move (plus any bounded-load spill).
func (c *Consistent[N]) Update(nodes []N) error { return c.set(unit(nodes), false, false) }

// Nodes returns a copy of the current node set.
func (c *Consistent[N]) Nodes() []N { return c.nodes() }

// Stats returns a snapshot of the per-node counters.
func (c *Consistent[N]) Stats() Stats[N] { return c.stats() }

// buildRing places Replicas points per node: the node's hash (nodeHash)
// mixed with the replica number through SplitMix64's finaliser.
func buildRing[N comparable](p *pool[N], s *snapshot[N]) error {
	r := p.cfg.replicas
	s.ring = make([]ringPoint, 0, len(s.nodes)*r)
	for i, n := range s.nodes {
		h := nodeHash(p.seed, n)
		for k := range r {
			s.ring = append(s.ring, ringPoint{hash: mix(h + uint64(k)*0x9e3779b97f4a7c15), node: int32(i)})
		}
	}
	slices.SortFunc(s.ring, func(a, b ringPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return int(a.node - b.node)
	})
	s.ringHash = make([]uint64, len(s.ring))
	s.ringNode = make([]int32, len(s.ring))
	for i, pt := range s.ring {
		s.ringHash[i], s.ringNode[i] = pt.hash, pt.node
	}
	s.ring = nil
	return nil
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// nodeHash is xxhash64 for string nodes, so that rings agree between
// processes, and the picker's seeded maphash for any other type.
func nodeHash[N comparable](seed maphash.Seed, n N) uint64 {
	if s, ok := any(n).(string); ok {
		return xxhash.Sum64String(s)
	}
	return maphash.Comparable(seed, n)
}
