package shard

import (
	"cmp"
	"math"
	"slices"

	"github.com/bulwark-go/bulwark/internal/mix"
)

// BoundedConfig configures NewBounded.
type BoundedConfig struct {
	// Partitions is the number of partitions keys hash into. Zero means 271,
	// the prime buraksezer/consistent and Hazelcast use. Must be ≥ the number
	// of members (each member should be able to own one) and ≤ 2^31−1. Keep
	// ten or more per member: below that, adding a member moves several
	// times the ideal 1/(n+1) of partitions (see Bounded).
	Partitions int
	// LoadFactor is c in Mirrokni, Thorup & Zadimoghaddam's bound: no member
	// owns more than ceil(c·Partitions/members) partitions. Zero means 1.25,
	// the value lafikl/liblb and buraksezer/consistent use. Must be a finite
	// number > 1 so the bounds leave room for every partition.
	LoadFactor float64
	// VirtualNodes is the number of ring points per member that partitions
	// walk. Zero means 160, as for Ring. Must be ≥ 1, and VirtualNodes times
	// the number of members at most 2^31−1.
	VirtualNodes int
}

// Bounded is consistent hashing with bounded loads (Mirrokni, Thorup &
// Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018,
// https://arxiv.org/abs/1608.01350) applied at placement: no member ever owns
// more than ceil(c·P/n) of the P partitions, c the LoadFactor. Use it when a
// strict cap on any member's share matters more than the fewest moves.
//
// Placement rule: a key's partition is ⌊Hash(key)·P / 2^64⌋ (the
// multiply-shift reduction of Lemire, "A fast alternative to the modulo
// reduction", 2016,
// https://lemire.me/blog/2016/06/27/a-fast-alternative-to-the-modulo-reduction/).
// Partition p sits at splitmix64(p) on a ring of VirtualNodes points per
// member (placed as Ring places them) and goes to the first member clockwise
// that owns fewer than ceil(c·P/n) partitions, the partitions taken
// nearest-first (by the distance from the partition to its ring successor,
// ties by number).
//
// Adding a member moves at most about twice the ideal 1/(n+1) of partitions
// while each member holds ten or more (P ≥ 10·n). With fewer per member the
// step of the bound itself (ceil(c·P/n) dropping by one as n grows) makes every
// member at the bound shed a partition, several times the ideal movement:
// raise Partitions with the member count. Locate is a hash, a multiply and a
// table read, and never allocates. A Bounded is immutable and safe for
// concurrent use.
type Bounded struct {
	members []string // sorted by name
	owner   []int32  // owner[p] indexes members
	points  []uint64 // member ring, for LocateN
	owners  []int32
	bound   int
	cfg     BoundedConfig
}

const (
	defaultPartitions = 271
	defaultLoadFactor = 1.25
)

// NewBounded returns a bounded-load router over members. It returns an error
// wrapping ErrNoMembers, ErrEmptyMember, ErrDuplicateMember or ErrInvalidConfig
// naming the field and value.
func NewBounded(members []string, cfg BoundedConfig) (*Bounded, error) {
	sorted, err := sortedMembers(members)
	if err != nil {
		return nil, err
	}
	if cfg, err = cfg.withDefaults(len(sorted)); err != nil {
		return nil, err
	}
	counts := make([]int, len(sorted))
	for i := range counts {
		counts[i] = cfg.VirtualNodes
	}
	b := &Bounded{members: sorted, cfg: cfg}
	b.points, b.owners = buildRing(sorted, counts)
	b.bound = int(math.Ceil(cfg.LoadFactor * float64(cfg.Partitions) / float64(len(sorted))))
	b.owner = b.place()
	return b, nil
}

func (c BoundedConfig) withDefaults(members int) (BoundedConfig, error) {
	if c.Partitions == 0 {
		c.Partitions = defaultPartitions
	}
	if c.LoadFactor == 0 {
		c.LoadFactor = defaultLoadFactor
	}
	if c.VirtualNodes == 0 {
		c.VirtualNodes = defaultVirtualNodes
	}
	switch {
	case c.Partitions > maxTableSize:
		return c, configErrorf("BoundedConfig.Partitions %d above %d", c.Partitions, maxTableSize)
	case c.Partitions < members:
		return c, configErrorf("BoundedConfig.Partitions %d < %d members", c.Partitions, members)
	case !(c.LoadFactor > 1) || math.IsInf(c.LoadFactor, 1):
		return c, configErrorf("BoundedConfig.LoadFactor %v not a finite number > 1", c.LoadFactor)
	case c.VirtualNodes < 1:
		return c, configErrorf("BoundedConfig.VirtualNodes %d < 1", c.VirtualNodes)
	case c.VirtualNodes > maxRingPoints/members:
		return c, configErrorf("BoundedConfig.VirtualNodes %d over %d members above %d ring points",
			c.VirtualNodes, members, maxRingPoints)
	}
	return c, nil
}

// place assigns every partition to the first member clockwise under the bound.
// The bound times n is ≥ c·P > P, so a member with room always exists.
//
// Partitions are placed nearest-first rather than by number: a partition close
// to a member's point keeps it, and the ones that overflow are those that sit
// far out on an arc. When a member joins, fewer placements change order, so
// fewer overflows cascade (on adding a member to 2, 4, …, 24 members with 10
// name sets: at most 1.5× the ideal movement nearest-first versus 1.8× in
// partition-number order).
func (b *Bounded) place() []int32 {
	order := make([]int, b.cfg.Partitions)
	start := make([]int, b.cfg.Partitions) // ring successor of each partition
	dist := make([]uint64, b.cfg.Partitions)
	for p := range order {
		h := mix.Mix64(uint64(p))
		order[p], start[p] = p, successor(b.points, h)
		dist[p] = b.points[start[p]] - h // wraps correctly past the top
	}
	slices.SortFunc(order, func(p, q int) int {
		return cmp.Or(cmp.Compare(dist[p], dist[q]), cmp.Compare(p, q))
	})
	load := make([]int, len(b.members))
	owner := make([]int32, b.cfg.Partitions)
	for _, p := range order {
		i := start[p]
		for load[b.owners[i]] >= b.bound {
			i = (i + 1) % len(b.points)
		}
		owner[p] = b.owners[i]
		load[b.owners[i]]++
	}
	return owner
}

// Partition returns the partition key hashes into, in [0, Partitions).
func (b *Bounded) Partition(key string) int {
	return int(reduce(Hash(key), uint64(len(b.owner))))
}

// Locate returns the member that owns key's partition.
func (b *Bounded) Locate(key string) string {
	return b.members[b.owner[reduce(Hash(key), uint64(len(b.owner)))]]
}

// LocateN returns up to n distinct members: the partition's owner, then the
// members met walking the ring clockwise from the partition.
func (b *Bounded) LocateN(key string, n int) []string {
	if n <= 0 {
		return nil
	}
	p := b.Partition(key)
	out := append(make([]string, 0, min(n, len(b.members))), b.members[b.owner[p]])
	return walkDistinct(b.members, b.points, b.owners, successor(b.points, mix.Mix64(uint64(p))), n, out)
}

// Owner returns the member that owns partition p, or "" if p is out of range.
func (b *Bounded) Owner(p int) string {
	if p < 0 || p >= len(b.owner) {
		return ""
	}
	return b.members[b.owner[p]]
}

// Bound returns ceil(LoadFactor·Partitions/members), the most partitions any
// member owns.
func (b *Bounded) Bound() int { return b.bound }

// Members returns the members sorted by name.
func (b *Bounded) Members() []string { return slices.Clone(b.members) }

// With returns a router with member added.
func (b *Bounded) With(member string) (*Bounded, error) {
	members, err := withMember(b.members, member)
	if err != nil {
		return nil, err
	}
	return NewBounded(members, b.cfg)
}

// Without returns a router with member removed.
func (b *Bounded) Without(member string) (*Bounded, error) {
	members, err := withoutMember(b.members, member)
	if err != nil {
		return nil, err
	}
	return NewBounded(members, b.cfg)
}
