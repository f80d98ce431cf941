package shard

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// RendezvousConfig configures NewRendezvous.
type RendezvousConfig struct {
	// Weights gives members a relative weight (default 1): a member wins a key
	// with probability w/Σw. Every weight must be a finite number > 0 and name
	// a member.
	Weights map[string]float64
}

// Rendezvous is highest-random-weight hashing (Thaler & Ravishankar, IEEE/ACM
// ToN 1998): every member scores the key and the highest score wins. Member m
// scores key k as foldedMul(Hash(k) ⊕ Hash(m), φ·2^64), a 128-bit multiply
// whose halves are xored. With weights the score is −w/ln(h), h the score
// mapped into (0,1) (Schindelhauer & Schomaker, SPAA 2005, logarithmic
// method): −ln h is Exp(1), so a member wins with probability exactly w/Σw.
// With equal weights the raw scores are compared (the same order, no log),
// their lowest ⌈log2 n⌉ bits replaced by the member's rank so the maximum is
// found without branches; ties in the remaining bits go to the smaller name.
//
// Removing a member moves only its keys; adding one moves only the keys it
// now wins. Locate costs one score per member, so prefer Maglev or Ring past
// a few dozen members.
// A Rendezvous is immutable and safe for concurrent use.
type Rendezvous struct {
	members []string  // sorted by name
	seeds   []uint64  // Hash(member)
	weights []float64 // nil when all weights are equal
	mask    uint64    // 2^bits − 1 ≥ index of the last member
	cfg     RendezvousConfig
}

// golden is 2^64/φ, odd: the multiplier of the per-member score.
const golden = 0x9e3779b97f4a7c15

// NewRendezvous returns a rendezvous router over members. It returns an error
// wrapping ErrNoMembers, ErrEmptyMember, ErrDuplicateMember, ErrUnknownMember
// (a weight for a non-member) or ErrInvalidConfig naming the weight.
func NewRendezvous(members []string, cfg RendezvousConfig) (*Rendezvous, error) {
	sorted, err := sortedMembers(members)
	if err != nil {
		return nil, err
	}
	weights, uniform, err := memberWeights("RendezvousConfig", sorted, cfg.Weights)
	if err != nil {
		return nil, err
	}
	if uniform {
		weights = nil
	}
	r := &Rendezvous{members: sorted, seeds: make([]uint64, len(sorted)), weights: weights}
	for r.mask < uint64(len(sorted)-1) {
		r.mask = r.mask<<1 | 1
	}
	for i, m := range sorted {
		r.seeds[i] = Hash(m)
	}
	r.cfg.Weights = copyWeights(cfg.Weights)
	return r, nil
}

// Locate returns the member with the highest score for key.
func (r *Rendezvous) Locate(key string) string {
	h := Hash(key)
	if r.weights != nil {
		return r.members[r.locateWeighted(h)]
	}
	// The index rides in the low bits of the score, so the running maximum is
	// branch-free (maxUint): a compare-and-branch per member is mispredicted
	// about ln(n) times per key. Two running maxima halve the dependency chain.
	mask, seeds := r.mask, r.seeds
	var top0, top1 uint64
	i := 0
	for ; i+1 < len(seeds); i += 2 {
		top0 = maxUint(top0, foldedMul(h^seeds[i], golden)&^mask|(mask-uint64(i)))
		top1 = maxUint(top1, foldedMul(h^seeds[i+1], golden)&^mask|(mask-uint64(i+1)))
	}
	if i < len(seeds) {
		top0 = maxUint(top0, foldedMul(h^seeds[i], golden)&^mask|(mask-uint64(i)))
	}
	return r.members[mask-maxUint(top0, top1)&mask]
}

// maxUint is max without a branch: the borrow of a−b selects b.
func maxUint(a, b uint64) uint64 {
	diff, borrow := bits.Sub64(a, b, 0)
	return a - diff&(0-borrow)
}

// packed replaces the low bits of score with mask−i: a larger packed value is
// a larger score, ties in the remaining high bits (probability about
// n²·2^(bits−64)) going to the smaller index, which is the smaller name.
func (r *Rendezvous) packed(i int, score uint64) uint64 {
	return score&^r.mask | (r.mask - uint64(i))
}

func (r *Rendezvous) locateWeighted(h uint64) int {
	best, top := 0, math.Inf(-1)
	for i, s := range r.seeds {
		if score := r.weightedScore(i, foldedMul(h^s, golden)); score > top {
			best, top = i, score
		}
	}
	return best
}

// weightedScore is −w/ln(u) with u = (top 53 bits + ½)/2^53, strictly inside (0,1).
func (r *Rendezvous) weightedScore(i int, score uint64) float64 {
	u := (float64(score>>11) + 0.5) / (1 << 53)
	return -r.weights[i] / math.Log(u)
}

// LocateN returns up to n distinct members in descending score order: the
// owner first, then the member that would own key if the owner left, and so on.
func (r *Rendezvous) LocateN(key string, n int) []string {
	if n <= 0 {
		return nil
	}
	h := Hash(key)
	type scored struct {
		i     int
		raw   uint64
		score float64
	}
	all := make([]scored, len(r.seeds))
	for i, s := range r.seeds {
		raw := foldedMul(h^s, golden)
		all[i] = scored{i: i, raw: r.packed(i, raw)}
		if r.weights != nil {
			all[i].score = r.weightedScore(i, raw)
		}
	}
	slices.SortFunc(all, func(a, b scored) int {
		if r.weights != nil {
			return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.i, b.i))
		}
		return cmp.Or(cmp.Compare(b.raw, a.raw), cmp.Compare(a.i, b.i))
	})
	out := make([]string, min(n, len(all)))
	for k := range out {
		out[k] = r.members[all[k].i]
	}
	return out
}

// Members returns the members sorted by name.
func (r *Rendezvous) Members() []string { return slices.Clone(r.members) }

// With returns a router with member added at weight 1.
func (r *Rendezvous) With(member string) (*Rendezvous, error) { return r.WithWeight(member, 1) }

// WithWeight returns a router with member added at the given weight.
func (r *Rendezvous) WithWeight(member string, weight float64) (*Rendezvous, error) {
	members, err := withMember(r.members, member)
	if err != nil {
		return nil, err
	}
	cfg := RendezvousConfig{Weights: copyWeights(r.cfg.Weights)}
	if weight != 1 || cfg.Weights != nil {
		if cfg.Weights == nil {
			cfg.Weights = map[string]float64{}
		}
		cfg.Weights[member] = weight
	}
	return NewRendezvous(members, cfg)
}

// Without returns a router with member removed.
func (r *Rendezvous) Without(member string) (*Rendezvous, error) {
	members, err := withoutMember(r.members, member)
	if err != nil {
		return nil, err
	}
	cfg := RendezvousConfig{Weights: copyWeights(r.cfg.Weights)}
	delete(cfg.Weights, member)
	return NewRendezvous(members, cfg)
}
