package shard

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Router maps a key to the name of the member that owns it. Every router in this
// package (Jump, Ring, Bounded, Maglev, Rendezvous, Range) implements it. Routers
// are immutable: membership changes build a new router, so a Router may be read
// from any number of goroutines and swapped atomically (atomic.Pointer) on change.
type Router interface {
	// Locate returns the member that owns key. It never allocates.
	Locate(key string) string
	// Members returns a fresh copy of the member names.
	Members() []string
}

// Replicated is a Router that can also name n distinct members for a key, in
// preference order (the first is Locate's answer): replicas, fallbacks. Jump,
// Ring, Bounded, Maglev and Rendezvous implement it; Range does not (a span has
// one owner).
type Replicated interface {
	Router
	// LocateN returns min(n, len(Members())) distinct members, first the owner.
	// n ≤ 0 returns nil.
	LocateN(key string, n int) []string
}

// Errors returned by constructors and membership changes, matched with
// errors.Is. Each is wrapped in an error that names the offending member,
// field or span; a Config error reads "shard: <Config>.<Field> <value>
// <reason>", e.g. "shard: MaglevConfig.TableSize 65536 not prime".
var (
	// ErrNoMembers: a router needs at least one member.
	ErrNoMembers = errors.New("shard: no members")
	// ErrDuplicateMember: a member name appears twice, or With adds a present one.
	ErrDuplicateMember = errors.New("shard: duplicate member")
	// ErrUnknownMember: Without, a weight or a move names a member that is not there.
	ErrUnknownMember = errors.New("shard: unknown member")
	// ErrEmptyMember: "" is not a member name (it means "none" in results).
	ErrEmptyMember = errors.New("shard: empty member name")
	// ErrInvalidConfig: a Config field is out of range. A weight for a member
	// that is not there matches both ErrInvalidConfig and ErrUnknownMember.
	ErrInvalidConfig = errors.New("shard: invalid config")
)

// configError is an ErrInvalidConfig whose message reads
// "shard: <Config>.<Field> <value> <reason>". member, when set, is the member
// sentinel the error also matches (a weight for a member that is not there).
type configError struct {
	msg    string
	member error
}

func (e *configError) Error() string { return e.msg }

func (e *configError) Unwrap() []error {
	if e.member != nil {
		return []error{ErrInvalidConfig, e.member}
	}
	return []error{ErrInvalidConfig}
}

func configErrorf(format string, args ...any) error {
	return &configError{msg: "shard: " + fmt.Sprintf(format, args...)}
}

// checkMembers rejects an empty list, empty names and duplicates.
func checkMembers(members []string) error {
	if len(members) == 0 {
		return ErrNoMembers
	}
	seen := make(map[string]struct{}, len(members))
	for i, m := range members {
		if m == "" {
			return fmt.Errorf("%w at members[%d]", ErrEmptyMember, i)
		}
		if _, dup := seen[m]; dup {
			return fmt.Errorf("%w %q", ErrDuplicateMember, m)
		}
		seen[m] = struct{}{}
	}
	return nil
}

// sortedMembers validates members and returns them sorted by name, so a hashing
// router depends only on the set of members, never on the order they were given.
func sortedMembers(members []string) ([]string, error) {
	if err := checkMembers(members); err != nil {
		return nil, err
	}
	s := slices.Clone(members)
	slices.Sort(s)
	return s, nil
}

// memberWeights returns one weight per member (1 when absent) and whether they
// are all equal. field names the Config for error messages.
func memberWeights(field string, members []string, weights map[string]float64) ([]float64, bool, error) {
	index := make(map[string]int, len(members))
	for i, m := range members {
		index[m] = i
	}
	for m, w := range weights {
		if _, ok := index[m]; !ok {
			return nil, false, &configError{
				msg:    fmt.Sprintf("shard: %s.Weights[%q] %v names no member", field, m, w),
				member: ErrUnknownMember,
			}
		}
		if !(w > 0) || math.IsInf(w, 1) {
			return nil, false, configErrorf("%s.Weights[%q] %v not a finite number > 0", field, m, w)
		}
	}
	out := make([]float64, len(members))
	uniform := true
	for i, m := range members {
		out[i] = 1
		if w, ok := weights[m]; ok {
			out[i] = w
		}
		if out[i] != out[0] {
			uniform = false
		}
	}
	return out, uniform, nil
}

// withMember and withoutMember check a membership change and return the new list.
func withMember(members []string, m string) ([]string, error) {
	if m == "" {
		return nil, ErrEmptyMember
	}
	if slices.Contains(members, m) {
		return nil, fmt.Errorf("%w %q", ErrDuplicateMember, m)
	}
	return append(slices.Clone(members), m), nil
}

func withoutMember(members []string, m string) ([]string, error) {
	i := slices.Index(members, m)
	if i < 0 {
		return nil, fmt.Errorf("%w %q", ErrUnknownMember, m)
	}
	if len(members) == 1 {
		return nil, fmt.Errorf("%w left after removing %q", ErrNoMembers, m)
	}
	return slices.Delete(slices.Clone(members), i, i+1), nil
}

// copyWeights copies a weights map, optionally setting or deleting one entry.
func copyWeights(w map[string]float64) map[string]float64 {
	if w == nil {
		return nil
	}
	out := make(map[string]float64, len(w))
	for k, v := range w {
		out[k] = v
	}
	return out
}
