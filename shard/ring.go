package shard

import (
	"cmp"
	"math"
	"slices"
	"strconv"
)

// RingConfig configures NewRing.
type RingConfig struct {
	// VirtualNodes is the number of ring points of a member with weight 1.
	// Zero means 160, the figure libketama uses: with V points for each of n
	// members, a member's load over the mean has a standard deviation of
	// about √((n−1)/(nV+1)), about 7.5% at V = 160 and n = 10 (the arc
	// lengths of nV uniform points). Must be ≥ 1, and the ring's points in
	// total (the sum of every member's) at most 2^31−1.
	VirtualNodes int
	// Weights gives members a relative weight (default 1): a member with
	// weight w gets round(w·VirtualNodes) points, which must be ≥ 1. Every
	// weight must be a finite number > 0 and name a member.
	Weights map[string]float64
}

// Ring is a consistent-hash ring with virtual nodes (Karger et al.,
// "Consistent Hashing and Random Trees", STOC 1997,
// https://doi.org/10.1145/258533.258660). It is the router most users want.
//
// Placement rule: each member owns round(weight·VirtualNodes) points on a ring
// of uint64 hashes, and a key belongs to the first point at or after
// Hash(key), wrapping. Point j of member m sits at Hash(m + "#" + decimal(j));
// ties between points go to the smaller member name, so the ring depends only
// on the member set.
//
// Adding a member moves only keys to it (about w/Σw of them); removing one
// moves only its keys. Locate is a search over the sorted points and never
// allocates. A Ring is immutable and safe for concurrent use.
type Ring struct {
	members []string // sorted by name
	points  []uint64 // sorted ring positions
	owners  []int32  // owners[i] indexes members for points[i]
	index   ringIndex
	cfg     RingConfig
}

const defaultVirtualNodes = 160

// maxRingPoints bounds the points of a ring: ringIndex stores point indexes
// as int32 (half the memory of int), and a ring this size already takes 32 GiB.
const maxRingPoints = math.MaxInt32

// NewRing returns a ring over members. It returns an error wrapping
// ErrNoMembers, ErrEmptyMember, ErrDuplicateMember, ErrUnknownMember (a weight
// for a non-member) or ErrInvalidConfig naming the field and value.
func NewRing(members []string, cfg RingConfig) (*Ring, error) {
	sorted, err := sortedMembers(members)
	if err != nil {
		return nil, err
	}
	if cfg.VirtualNodes == 0 {
		cfg.VirtualNodes = defaultVirtualNodes
	}
	if cfg.VirtualNodes < 1 {
		return nil, configErrorf("RingConfig.VirtualNodes %d < 1", cfg.VirtualNodes)
	}
	weights, _, err := memberWeights("RingConfig", sorted, cfg.Weights)
	if err != nil {
		return nil, err
	}
	counts := make([]int, len(sorted))
	total := 0
	for i, w := range weights {
		c := math.Round(w * float64(cfg.VirtualNodes))
		if c < 1 || c > maxRingPoints {
			return nil, configErrorf("RingConfig.Weights[%q] %v gives %v ring points, want 1..%d",
				sorted[i], w, c, maxRingPoints)
		}
		counts[i] = int(c)
		total += counts[i]
	}
	if total > maxRingPoints {
		return nil, configErrorf("RingConfig.VirtualNodes %d gives %d ring points for %d members, want ≤ %d",
			cfg.VirtualNodes, total, len(sorted), maxRingPoints)
	}
	cfg.Weights = copyWeights(cfg.Weights)
	r := &Ring{members: sorted, cfg: cfg}
	r.points, r.owners = buildRing(sorted, counts)
	r.index = newRingIndex(r.points)
	return r, nil
}

// buildRing places counts[i] points for members[i] and sorts them.
func buildRing(members []string, counts []int) ([]uint64, []int32) {
	type point struct {
		pos   uint64
		owner int32
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	pts := make([]point, 0, total)
	var buf []byte
	for i, m := range members {
		for j := range counts[i] {
			buf = strconv.AppendInt(append(append(buf[:0], m...), '#'), int64(j), 10)
			pts = append(pts, point{HashBytes(buf), int32(i)})
		}
	}
	// members are sorted, so a smaller owner index is a smaller name.
	slices.SortFunc(pts, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(a.owner, b.owner))
	})
	positions := make([]uint64, total)
	owners := make([]int32, total)
	for i, p := range pts {
		positions[i], owners[i] = p.pos, p.owner
	}
	return positions, owners
}

// successor returns the index of the first point ≥ h, wrapping to 0.
func successor(points []uint64, h uint64) int {
	return wrap(points, search(points, h, 0, len(points)))
}

// search returns the first index in [lo, hi) whose point is ≥ h, or hi.
func search(points []uint64, h uint64, lo, hi int) int {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if points[mid] < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func wrap(points []uint64, i int) int {
	if i == len(points) {
		return 0
	}
	return i
}

// ringIndex narrows the binary search: bucket b of the top bits of a hash
// holds the points first[b] … first[b+1]−1. With four buckets per point most
// buckets are empty and the search that remains is zero or one step, instead
// of ~log2(points) data-dependent branches that the CPU mispredicts half the
// time. It costs 16 bytes per point (capped at 2^22 buckets).
type ringIndex struct {
	first []int32 // 2^bits + 1 entries
	shift uint    // 64 − bits
}

func newRingIndex(points []uint64) ringIndex {
	bits := 1
	for 1<<bits < 4*len(points) && bits < 22 {
		bits++
	}
	idx := ringIndex{first: make([]int32, 1<<bits+1), shift: uint(64 - bits)}
	p := 0
	for b := range 1 << bits {
		for p < len(points) && points[p]>>idx.shift < uint64(b) {
			p++
		}
		idx.first[b] = int32(p)
	}
	idx.first[1<<bits] = int32(len(points))
	return idx
}

// Locate returns the member that owns key.
func (r *Ring) Locate(key string) string {
	h := Hash(key)
	b := h >> r.index.shift
	i := search(r.points, h, int(r.index.first[b]), int(r.index.first[b+1]))
	return r.members[r.owners[wrap(r.points, i)]]
}

// LocateN returns up to n distinct members met walking the ring clockwise
// from key: the owner first.
func (r *Ring) LocateN(key string, n int) []string {
	return walkDistinct(r.members, r.points, r.owners, successor(r.points, Hash(key)), n, nil)
}

// walkDistinct collects up to n distinct members clockwise from point i, after
// the members already in out.
func walkDistinct(members []string, points []uint64, owners []int32, i, n int, out []string) []string {
	if n <= 0 {
		return nil
	}
	n = min(n, len(members))
	if out == nil {
		out = make([]string, 0, n)
	}
	for k := 0; k < len(points) && len(out) < n; k++ {
		m := members[owners[(i+k)%len(points)]]
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Members returns the members sorted by name.
func (r *Ring) Members() []string { return slices.Clone(r.members) }

// With returns a ring with member added at weight 1.
func (r *Ring) With(member string) (*Ring, error) { return r.WithWeight(member, 1) }

// WithWeight returns a ring with member added at the given weight.
func (r *Ring) WithWeight(member string, weight float64) (*Ring, error) {
	members, err := withMember(r.members, member)
	if err != nil {
		return nil, err
	}
	cfg := r.cfg
	cfg.Weights = copyWeights(r.cfg.Weights)
	if weight != 1 || cfg.Weights != nil {
		if cfg.Weights == nil {
			cfg.Weights = map[string]float64{}
		}
		cfg.Weights[member] = weight
	}
	return NewRing(members, cfg)
}

// Without returns a ring with member removed.
func (r *Ring) Without(member string) (*Ring, error) {
	members, err := withoutMember(r.members, member)
	if err != nil {
		return nil, err
	}
	cfg := r.cfg
	cfg.Weights = copyWeights(r.cfg.Weights)
	delete(cfg.Weights, member)
	return NewRing(members, cfg)
}
