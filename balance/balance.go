package balance

import (
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark"
)

// ErrNoNodes is matched by Pick's error when there is no node to pick: the
// node set is empty (Update to an empty set is allowed), or every node is
// unavailable (then the error is an *UnavailableError). It is a local
// rejection: errors.Is(err, bulwark.ErrNotAttempted) holds for it too.
// A constructor given no nodes returns an error matching ErrNoNodes and
// ErrInvalidConfig.
var ErrNoNodes error = &localRejection{"balance: no nodes"}

// ErrInvalidConfig is matched (errors.Is) by every error of a constructor,
// Update and NewTransport: a Config field or option out of range, a
// duplicate node, a weight that is not positive. The message names the field
// and the value, as in "balance: Config.LoadFactor 0.9 below 1".
var ErrInvalidConfig = errors.New("balance: invalid config")

// localRejection is a sentinel that also matches bulwark.ErrNotAttempted.
type localRejection struct{ msg string }

func (e *localRejection) Error() string        { return e.msg }
func (e *localRejection) Is(target error) bool { return target == bulwark.ErrNotAttempted }

// configError is an ErrInvalidConfig whose message names the field and the
// value; also is a second sentinel it matches (ErrNoNodes for an empty set).
type configError struct {
	msg  string
	also error
}

func (e *configError) Error() string { return e.msg }

// Is matches ErrInvalidConfig and also; it does not unwrap to also, so an
// empty node set given to a constructor does not read as a local rejection.
func (e *configError) Is(target error) bool {
	return target == ErrInvalidConfig || (e.also != nil && target == e.also)
}

func configErrorf(format string, args ...any) error {
	return &configError{msg: "balance: " + fmt.Sprintf(format, args...)}
}

// Picker is what every picker in this package implements: Pick chooses a node
// and returns a Permit for the request sent to it. Pick never blocks.
// NewTransport takes a Picker.
type Picker[N comparable] interface {
	Pick() (Permit[N], error)
}

// KeyPicker is a Picker that can also route by key (Consistent). A Transport
// built WithKey needs one.
type KeyPicker[N comparable] interface {
	Picker[N]
	PickKey(key string) (Permit[N], error)
}

// Weighted is a node with its weight, the input of NewWeightedRoundRobin and
// NewWeightedRandom. Weight must be positive; a node with weight 2 receives
// twice the share of a node with weight 1.
type Weighted[N comparable] struct {
	Node   N
	Weight int
}

// unit gives every node weight 1.
func unit[N comparable](nodes []N) []Weighted[N] {
	ws := make([]Weighted[N], len(nodes))
	for i, n := range nodes {
		ws[i] = Weighted[N]{Node: n, Weight: 1}
	}
	return ws
}

// checkNodes validates a node set: no duplicates, positive weights; empty
// only when allowed (Update may empty the set, a constructor may not).
func checkNodes[N comparable](nodes []Weighted[N], allowEmpty bool) error {
	if len(nodes) == 0 && !allowEmpty {
		return &configError{msg: "balance: no nodes", also: ErrNoNodes}
	}
	seen := make(map[N]int, len(nodes))
	for i, w := range nodes {
		if j, dup := seen[w.Node]; dup {
			return configErrorf("duplicate node %v at indexes %d and %d", w.Node, j, i)
		}
		seen[w.Node] = i
		if w.Weight <= 0 {
			return configErrorf("node %v weight %d is not positive", w.Node, w.Weight)
		}
	}
	return nil
}
