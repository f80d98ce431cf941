// Package bulwark holds the vocabulary that bulwark's guards share: how a
// caller tells that a guard refused a call locally, before anything reached
// the network, and when the guard expects to admit calls again.
//
// Every local rejection in the module — an open circuit breaker
// (breaker.ErrOpen), a full or rate-limited bulkhead (bulkhead.ErrRejected),
// a picker with no available node (balance.ErrNoNodes) — satisfies
//
//	errors.Is(err, bulwark.ErrNotAttempted)
//
// and, where the guard knows, RetryAt(err) returns the moment it expects to
// admit again (the end of a breaker's open period, say). Layers above use it:
// a retry after a local rejection is not charged to the retry budget and does
// not wait for backoff, and a balancing transport stops picking a node whose
// guards refuse work until that moment.
//
// The sub-packages import this package; it imports none of them.
package bulwark

import (
	"errors"
	"time"
)

// ErrNotAttempted matches every error with which a bulwark guard refused a
// call locally: the protected dependency never saw the call, so it says
// nothing about the dependency's health and cost it nothing.
var ErrNotAttempted = errors.New("bulwark: not attempted")

// RetryAter is implemented by local rejections that know when their guard
// expects to admit calls again.
type RetryAter interface {
	RetryAt() time.Time
}

// RetryAt returns the earliest moment at which the guard that produced err
// expects to admit calls again, found by errors.As on RetryAter through err's
// chain. ok is false when err carries no such moment (or the moment is zero).
func RetryAt(err error) (at time.Time, ok bool) {
	var r RetryAter
	if !errors.As(err, &r) {
		return time.Time{}, false
	}
	at = r.RetryAt()
	return at, !at.IsZero()
}
