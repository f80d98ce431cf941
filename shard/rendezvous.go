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

// Rendezvous is highest-random-weight hashing (Thaler & Ravishankar, "Using
// Name-Based Mappings to Increase Hit Rates", IEEE/ACM Transactions on
// Networking, 1998, https://doi.org/10.1109/90.663936): every member scores
// the key and the highest score wins. Use it for exact weighted shares over a
// few dozen members; Locate scores every member, so prefer Ring or Maglev
// past that.
//
// Placement rule: member m scores key k as
//
//	score(m, k) = Hash(k) · (Hash(m) | 1)  mod 2^64
//
// a multiply-shift hash of the key (Dietzfelbinger, Hagerup, Katajainen &
// Penttonen, "A Reliable Randomized Algorithm for the Closest-Pair Problem",
// Journal of Algorithms, 1997, https://doi.org/10.1006/jagm.1997.0873) with
// the member's own odd multiplier, so every member applies an independent
// universal hash to the key's hash: the scores of one key are independent and
// uniform in their high bits, which is all HRW needs. With equal weights the
// raw scores are compared, the lowest ⌈log2 n⌉ bits of each replaced by the
// complement of the member's rank in name order, so a tie in the remaining
// bits goes to the smaller name. With weights the score is −w/ln(u), u the top 53
// bits of the score mapped into (0,1) as (u + ½)/2^53 (the logarithmic method
// of Schindelhauer & Schomaker, "Weighted Distributed Hash Tables", SPAA 2005,
// https://doi.org/10.1145/1073970.1074008): −ln u is Exp(1), so a member wins
// with probability exactly w/Σw; ties go to the smaller name.
//
// Removing a member moves only its keys; adding one moves only the keys it
// now wins. Locate never allocates. A Rendezvous is immutable and safe for
// concurrent use.
type Rendezvous struct {
	// Hashing the key once and scoring each member with one multiply is what
	// makes Locate cheap: about a dozen instructions per member and no
	// mispredicted branch (see Locate), where a per-member re-mix and
	// compare-and-branch is the usual implementation.
	members []string  // sorted by name
	seeds   []uint64  // Hash(member) | 1: the member's multiplier
	weights []float64 // nil when all weights are equal
	mask    uint64    // 2^bits − 1 ≥ index of the last member
	cfg     RendezvousConfig
}

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
		r.seeds[i] = Hash(m) | 1
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
	// Each score carries mask−i in its low bits, so the maximum alone names
	// the winner. Four scores are reduced with compare-and-move (the
	// compiler's CMOV: no loop-carried dependency) and folded into the
	// running maximum with maxUint (branch-free: a compare-and-branch per
	// member is mispredicted about ln(n) times per key).
	mask, s := r.mask, r.seeds
	keep, idx := ^mask, mask
	var top uint64
	for len(s) >= 4 {
		a := h*s[0]&keep | idx
		b := h*s[1]&keep | (idx - 1)
		c := h*s[2]&keep | (idx - 2)
		d := h*s[3]&keep | (idx - 3)
		if b > a {
			a = b
		}
		if d > c {
			c = d
		}
		if c > a {
			a = c
		}
		top = maxUint(top, a)
		idx -= 4
		s = s[4:]
	}
	for ; len(s) > 0; s = s[1:] {
		top = maxUint(top, h*s[0]&keep|idx)
		idx--
	}
	return r.members[mask-top&mask]
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
		if score := r.weightedScore(i, h*s); score > top {
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
		raw := h * s
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
