package shard

import (
	"math"
	"slices"

	"github.com/bulwark-go/bulwark/internal/mix"
)

// MaglevConfig configures NewMaglev.
type MaglevConfig struct {
	// TableSize is the number of lookup-table entries, M. Zero means 65537,
	// the paper's default and the smallest prime above 2^16 (Eisenbud et al.
	// §5.3; Envoy's table_size default). Must be prime, ≥ the number of
	// members and ≤ 2^31−1; the paper advises M > 100·members for ≤ 1%
	// imbalance.
	TableSize int
	// Weights gives members a relative weight (default 1): in each round of
	// the population a member of weight w takes a turn w/max(w) of the time,
	// as Envoy does, so entries split in proportion. Every weight must be a
	// finite number > 0 and name a member.
	Weights map[string]float64
}

// Maglev is Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, §3.4,
// https://www.usenix.org/conference/nsdi16/technical-sessions/presentation/eisenbud):
// a prime-sized lookup table with near-perfect balance, the choice of load
// balancers that route many keys to a fleet that changes rarely.
//
// Placement rule: members take turns, in name order, claiming their next
// preferred empty slot of the table. Member m's preference list is
// offset + j·skip mod M with offset = Hash(m) mod M and
// skip = splitmix64(Hash(m)) mod (M−1) + 1. A key's slot is
// ⌊Hash(key)·M / 2^64⌋ (Lemire's multiply-shift reduction, as for Bounded).
// Unweighted, every member owns ⌊M/n⌋ or ⌈M/n⌉ entries.
//
// A membership change also rewrites a few entries between survivors (about
// twice a ring's movement, per Envoy's documentation). Locate is a hash, a
// multiply and a table read, and never allocates. A Maglev is immutable and
// safe for concurrent use.
type Maglev struct {
	members []string // sorted by name
	table   []int32  // table[slot] indexes members
	cfg     MaglevConfig
}

const defaultTableSize = 65537

// maxTableSize bounds Maglev's TableSize and Bounded's Partitions: both
// tables are built in full in memory, and one of 2^31 entries is already
// 8 GiB (Envoy stops at 5,000,011).
const maxTableSize = math.MaxInt32

// NewMaglev returns a Maglev router over members. It returns an error wrapping
// ErrNoMembers, ErrEmptyMember, ErrDuplicateMember, ErrUnknownMember (a weight
// for a non-member) or ErrInvalidConfig naming the field and value.
func NewMaglev(members []string, cfg MaglevConfig) (*Maglev, error) {
	sorted, err := sortedMembers(members)
	if err != nil {
		return nil, err
	}
	if cfg.TableSize == 0 {
		cfg.TableSize = defaultTableSize
	}
	if cfg.TableSize > maxTableSize {
		return nil, configErrorf("MaglevConfig.TableSize %d above %d", cfg.TableSize, maxTableSize)
	}
	if !isPrime(cfg.TableSize) {
		return nil, configErrorf("MaglevConfig.TableSize %d not prime", cfg.TableSize)
	}
	if cfg.TableSize < len(sorted) {
		return nil, configErrorf("MaglevConfig.TableSize %d < %d members", cfg.TableSize, len(sorted))
	}
	weights, uniform, err := memberWeights("MaglevConfig", sorted, cfg.Weights)
	if err != nil {
		return nil, err
	}
	if uniform {
		weights = nil
	}
	m := uint64(cfg.TableSize)
	perms := make([]permutation, len(sorted))
	for i, name := range sorted {
		h := Hash(name)
		perms[i] = permutation{offset: h % m, skip: mix.Mix64(h)%(m-1) + 1}
	}
	cfg.Weights = copyWeights(cfg.Weights)
	return &Maglev{members: sorted, table: populate(perms, weights, m), cfg: cfg}, nil
}

// permutation is a member's preference list: slot j is offset + j·skip mod M.
type permutation struct{ offset, skip uint64 }

// populate is the paper's Pseudocode 1, with Envoy's weighting: in round k a
// member of normalized weight nw takes a turn only if k·nw ≥ turns taken, so a
// member of the largest weight takes one every round. With weights nil every
// member takes a turn every round.
func populate(perms []permutation, weights []float64, m uint64) []int32 {
	table := make([]int32, m)
	for i := range table {
		table[i] = -1
	}
	next := make([]uint64, len(perms)) // current preferred slot of each member
	for i, p := range perms {
		next[i] = p.offset
	}
	norm, turns := normalize(weights), make([]float64, len(perms))
	filled := uint64(0)
	for round := 0; ; round++ {
		for i, p := range perms {
			if norm != nil && float64(round)*norm[i] < turns[i] {
				continue
			}
			turns[i]++
			c := next[i]
			for table[c] >= 0 {
				c = advance(c, p.skip, m)
			}
			table[c] = int32(i)
			next[i] = advance(c, p.skip, m)
			if filled++; filled == m {
				return table
			}
		}
	}
}

func advance(c, skip, m uint64) uint64 {
	if c += skip; c >= m {
		c -= m
	}
	return c
}

// normalize divides weights by their maximum; nil stays nil.
func normalize(weights []float64) []float64 {
	if weights == nil {
		return nil
	}
	top := slices.Max(weights)
	out := make([]float64, len(weights))
	for i, w := range weights {
		out[i] = w / top
	}
	return out
}

// isPrime reports whether n is prime, by trial division (n is a table size).
func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// Locate returns the member that owns key.
func (g *Maglev) Locate(key string) string {
	return g.members[g.table[reduce(Hash(key), uint64(len(g.table)))]]
}

// LocateN returns up to n distinct members: the owners of key's slot and of the
// slots after it, in table order.
func (g *Maglev) LocateN(key string, n int) []string {
	if n <= 0 {
		return nil
	}
	n = min(n, len(g.members))
	out := make([]string, 0, n)
	slot := int(reduce(Hash(key), uint64(len(g.table))))
	for k := 0; k < len(g.table) && len(out) < n; k++ {
		m := g.members[g.table[(slot+k)%len(g.table)]]
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Entries returns how many table entries each member owns, by member name.
func (g *Maglev) Entries() map[string]int {
	out := make(map[string]int, len(g.members))
	for _, i := range g.table {
		out[g.members[i]]++
	}
	return out
}

// Members returns the members sorted by name.
func (g *Maglev) Members() []string { return slices.Clone(g.members) }

// With returns a table with member added at weight 1.
func (g *Maglev) With(member string) (*Maglev, error) { return g.WithWeight(member, 1) }

// WithWeight returns a table with member added at the given weight.
func (g *Maglev) WithWeight(member string, weight float64) (*Maglev, error) {
	members, err := withMember(g.members, member)
	if err != nil {
		return nil, err
	}
	cfg := g.cfg
	cfg.Weights = copyWeights(g.cfg.Weights)
	if weight != 1 || cfg.Weights != nil {
		if cfg.Weights == nil {
			cfg.Weights = map[string]float64{}
		}
		cfg.Weights[member] = weight
	}
	return NewMaglev(members, cfg)
}

// Without returns a table with member removed.
func (g *Maglev) Without(member string) (*Maglev, error) {
	members, err := withoutMember(g.members, member)
	if err != nil {
		return nil, err
	}
	cfg := g.cfg
	cfg.Weights = copyWeights(g.cfg.Weights)
	delete(cfg.Weights, member)
	return NewMaglev(members, cfg)
}
