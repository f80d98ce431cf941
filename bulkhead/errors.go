package bulkhead

import "errors"

// ErrRejected matches every rejection by a Bulkhead or an Adaptive limiter:
// errors.Is(err, ErrRejected) holds for ErrFull, ErrTimeout and ErrRateLimited.
// A caller whose own context ends gets ctx.Err() instead, which is not a rejection.
var ErrRejected = errors.New("bulkhead: rejected")

var (
	// ErrFull reports that no slot was free and the call could not queue
	// (MaxWaiting is 0 or the queue already holds MaxWaiting callers), or, for
	// an Adaptive limiter, that the current limit is reached.
	ErrFull error = &rejection{"bulkhead: full"}
	// ErrTimeout reports that the call waited Config.MaxWait in the queue
	// without getting a slot.
	ErrTimeout error = &rejection{"bulkhead: timed out waiting for a slot"}
	// ErrRateLimited reports that the admission rate (Config.Rate, Config.Burst)
	// refused the call.
	ErrRateLimited error = &rejection{"bulkhead: admission rate exceeded"}
)

// rejection is a distinct sentinel that also matches ErrRejected.
type rejection struct{ msg string }

func (e *rejection) Error() string { return e.msg }

// Is makes every rejection sentinel match ErrRejected.
func (e *rejection) Is(target error) bool { return target == ErrRejected }
