package balance

import (
	"cmp"
	"hash/maphash"
	"iter"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/bulwark-go/bulwark/internal/mix"
	"github.com/bulwark-go/bulwark/shard"
)

// Consistent routes by key over a hash ring with bounded loads (Mirrokni,
// Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018;
// HAProxy hash-balance-factor; Envoy hash_balance_factor): a key goes to the
// first node clockwise from its hash whose in-flight count is below
// ceil(c·m/n), where m is the number of Permits in flight including this
// one, n the number of usable nodes and c Config.LoadFactor. While loads are
// balanced a key always lands on the same node; under skew the excess spills
// to the next nodes on the ring instead of piling up. Unavailable and
// ejected nodes are passed over the same way.
//
// For nodes of type string ("host:port"), the ring is shard.Ring's: node m
// has Config.Replicas points at shard.Hash(m + "#" + j) for j = 0, 1, …,
// ties go to the smaller name, and a key sits at shard.Hash(key). So while
// loads are balanced, PickKey(key) names the node that
// shard.NewRing(nodes, shard.RingConfig{VirtualNodes: Replicas}).Locate(key)
// names (the default Replicas matches shard's default), in every process
// and release, whatever the order of the nodes: a fleet of clients keeps
// one backend's cache warm for a key, and data placed by shard.Ring is found
// by Consistent. Nodes of other types are placed by hash/maphash with a
// per-picker random seed: stable for the picker's lifetime (across Update),
// not across processes. It is safe for concurrent use.
type Consistent[N comparable] struct {
	pool[N]
}

// NewConsistent returns a bounded-load consistent-hashing picker. It returns
// an error matching ErrInvalidConfig (and ErrNoNodes for an empty slice)
// that names the node for duplicates or the field for an invalid cfg
// (LoadFactor below 1 included).
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
// its load bound, unavailable, ejected or warming up, in which case the next
// node along the ring. It returns ErrNoNodes if the set is empty and an
// *UnavailableError if every node is unavailable. It never blocks.
func (c *Consistent[N]) PickKey(key string) (Permit[N], error) {
	return c.pickHash(shard.Hash(key))
}

// Pick routes a random key: bounded-load spreading without affinity, so
// that Consistent also satisfies Picker.
func (c *Consistent[N]) Pick() (Permit[N], error) {
	return c.pickHash(c.cfg.rand())
}

func (c *Consistent[N]) pickHash(h uint64) (Permit[N], error) {
	s := c.snap.Load()
	if len(s.nodes) == 0 {
		return Permit[N]{}, c.noNodes()
	}
	counts := s.counts
	m := counts.total.Add(1)
	usable := max(counts.n-counts.ejected.Load()-counts.unavailable.Load(), 1)
	bound := int64(math.Ceil(c.cfg.loadFactor * float64(m) / float64(usable)))

	start := s.ringStart(h)
	points := len(s.ringNode)
	var now int64
	for k := range points {
		i := int(s.ringNode[(start+k)%points])
		st := s.states[i]
		if (st.clear() || st.usableSlow(&now)) && st.acquireBelow(bound) {
			return Permit[N]{Node: s.nodes[i], st: st}, nil
		}
	}
	// Every node is full or unusable: only reachable when all are
	// unavailable, ejected or warming. Fall back to the first available
	// node along the ring, over the bound.
	i, err := c.noneUsable(s, int(s.ringNode[start%points]))
	if err != nil {
		counts.total.Add(-1)
		return Permit[N]{}, err
	}
	return c.permit(s, i, 0), nil
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

// MarkUnavailable makes node unavailable until the given moment (see
// RoundRobin.MarkUnavailable); its keys go to the next nodes on the ring
// meanwhile.
func (c *Consistent[N]) MarkUnavailable(node N, until time.Time, reason error) bool {
	return c.markUnavailable(node, until, reason)
}

// Nodes returns a copy of the current node set.
func (c *Consistent[N]) Nodes() []N { return c.nodes() }

// Stats returns a snapshot of the per-node counters.
func (c *Consistent[N]) Stats() Stats[N] { return c.stats() }

// AllStats yields each node with its counters, like Stats without the
// slice: weakly consistent (the node set current when iteration starts,
// each node read as it is yielded), no lock held while the loop body runs.
func (c *Consistent[N]) AllStats() iter.Seq2[N, NodeStats[N]] { return c.allStats() }

type ringPoint struct {
	hash uint64
	node int32
}

// buildRing places Replicas points per node. String nodes follow
// shard.Ring's documented placement (see Consistent); other nodes hash
// once with the picker's maphash seed, the replicas spread by splitmix64.
func buildRing[N comparable](p *pool[N], s *snapshot[N]) error {
	r := p.cfg.replicas
	ring := make([]ringPoint, 0, len(s.nodes)*r)
	names := make([]string, len(s.nodes)) // "" for non-string nodes
	var buf []byte
	for i, n := range s.nodes {
		if name, ok := any(n).(string); ok {
			names[i] = name
			for j := range r {
				buf = strconv.AppendInt(append(append(buf[:0], name...), '#'), int64(j), 10)
				ring = append(ring, ringPoint{hash: shard.HashBytes(buf), node: int32(i)})
			}
			continue
		}
		h := maphash.Comparable(p.seed, n)
		for j := range r {
			ring = append(ring, ringPoint{hash: mix.Mix64(h + uint64(j)*mix.Golden), node: int32(i)})
		}
	}
	slices.SortFunc(ring, func(a, b ringPoint) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash),
			cmp.Compare(names[a.node], names[b.node]), // shard.Ring: the smaller name
			cmp.Compare(a.node, b.node))
	})
	s.ringHash = make([]uint64, len(ring))
	s.ringNode = make([]int32, len(ring))
	for i, pt := range ring {
		s.ringHash[i], s.ringNode[i] = pt.hash, pt.node
	}
	return nil
}
