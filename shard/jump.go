package shard

import (
	"slices"

	"github.com/bulwark-go/bulwark/internal/mix"
)

// maxRejumps bounds how often Locate re-jumps past removed slots before it
// falls back to choosing among the live members directly. With half the slots
// removed the chance of needing the fallback is 2^-64.
const maxRejumps = 64

// Jump routes keys with jump consistent hashing (JumpHash; Lamping & Veach,
// "A Fast, Minimal Memory, Consistent Hash Algorithm", 2014,
// https://arxiv.org/abs/1406.2294) over a list of named slots. It needs no
// table and balances perfectly; use it when members are mostly appended
// (storage buckets, numbered partitions).
//
// Placement rule: slot i is the i-th member given to NewJump, and key k
// belongs to slot JumpHash(Hash(k), slots). With appends a slot, and exactly
// the keys that move go to the new member (about 1/(n+1)).
//
// Removal of an arbitrary member (which plain jump hashing cannot do) uses a
// remap rule instead of renumbering: Without leaves the member's slot in place,
// marked removed. A key whose jump lands on a removed slot jumps again with
// h = splitmix64(h), until it lands on a live slot (after 64 re-jumps it takes
// live member JumpHash(h, live) in slot order, which half-removed slot lists
// reach with probability 2^-64). So Without moves only the removed member's
// keys, spread evenly over the rest, and With first refills the lowest removed
// slot, which takes back exactly the keys that slot held. Each removed slot
// costs a re-jump for the keys that land on it (on average n/live jumps in
// total); build a fresh NewJump when most slots are removed and a full remap
// is acceptable.
//
// Locate never allocates. A Jump is immutable and safe for concurrent use.
type Jump struct {
	slots []string // member per slot, "" for a removed slot
	live  []string // live members in slot order
	// keep is one past the highest slot With has refilled. Without marks such
	// a slot removed again instead of dropping it even when it is the last,
	// so that it undoes the refill: dropping it would also drop the removed
	// slot that was there before, and the keys that slot re-jumped would land
	// elsewhere among the survivors.
	keep int
}

// NewJump returns a jump router over members, in order. It returns an error
// wrapping ErrNoMembers, ErrEmptyMember or ErrDuplicateMember.
func NewJump(members []string) (*Jump, error) {
	if err := checkMembers(members); err != nil {
		return nil, err
	}
	return newJumpSlots(slices.Clone(members), 0), nil
}

func newJumpSlots(slots []string, keep int) *Jump {
	j := &Jump{slots: slots, keep: keep}
	for _, m := range slots {
		if m != "" {
			j.live = append(j.live, m)
		}
	}
	return j
}

// Locate returns the member that owns key.
func (j *Jump) Locate(key string) string {
	h := Hash(key)
	n := int64(len(j.slots))
	if m := j.slots[jump(h, n)]; m != "" {
		return m
	}
	return j.locateSlow(h)
}

// locateSlow re-jumps past removed slots, out of line so the common path of
// Locate (a live slot) stays short.
func (j *Jump) locateSlow(h uint64) string {
	n := int64(len(j.slots))
	for range maxRejumps {
		h = mix.Mix64(h)
		if m := j.slots[jump(h, n)]; m != "" {
			return m
		}
	}
	return j.live[jump(h, int64(len(j.live)))]
}

// LocateN returns up to n distinct members for key: the owner, then the
// members found by continuing the re-jump sequence. Removing one of them
// leaves the order of the others unchanged.
func (j *Jump) LocateN(key string, n int) []string {
	if n <= 0 {
		return nil
	}
	n = min(n, len(j.live))
	out := make([]string, 0, n)
	out = append(out, j.Locate(key))
	h := Hash(key)
	slotsN := int64(len(j.slots))
	// A coupon-collector walk finishes in about slots·ln(n) jumps; past a
	// generous cap, fill the rest in slot order so LocateN always ends.
	for tries := 0; len(out) < n && tries < 16*len(j.slots)+maxRejumps; tries++ {
		h = mix.Mix64(h)
		if m := j.slots[jump(h, slotsN)]; m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	for _, m := range j.live {
		if len(out) == n {
			break
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Members returns the live members in slot order.
func (j *Jump) Members() []string { return slices.Clone(j.live) }

// With returns a router with member added: into the lowest removed slot if
// there is one, else in a new slot at the end.
func (j *Jump) With(member string) (*Jump, error) {
	if _, err := withMember(j.live, member); err != nil {
		return nil, err
	}
	slots, keep := slices.Clone(j.slots), j.keep
	if i := slices.Index(slots, ""); i >= 0 {
		slots[i] = member
		keep = max(keep, i+1)
	} else {
		slots = append(slots, member)
	}
	return newJumpSlots(slots, keep), nil
}

// Without returns a router with member removed: only its keys move. If the
// member holds the last slot and With appended that slot, the slot is dropped
// rather than marked (the keys of the other members jump identically over one
// slot fewer); a slot that With refilled is marked removed again. Either way
// Without exactly undoes the With before it.
func (j *Jump) Without(member string) (*Jump, error) {
	if _, err := withoutMember(j.live, member); err != nil {
		return nil, err
	}
	slots := slices.Clone(j.slots)
	if i := slices.Index(slots, member); i == len(slots)-1 && i >= j.keep {
		slots = slots[:i]
	} else {
		slots[i] = ""
	}
	return newJumpSlots(slots, j.keep), nil
}
