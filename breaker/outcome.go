package breaker

import (
	"context"
	"errors"
	"fmt"
)

// Outcome is how a finished call counts.
type Outcome uint8

const (
	// Success counts toward the window as a success.
	Success Outcome = iota
	// Failure counts toward the window as a failure.
	Failure
	// Ignore counts toward nothing (Stats.Ignored only).
	Ignore
)

// String returns "success", "failure" or "ignore".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignore:
		return "ignore"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// DefaultClassify is the classification used when Config.Classify is nil:
// nil → Success, context.Canceled (the caller gave up) → Ignore, anything
// else → Failure.
func DefaultClassify(err error) Outcome {
	if err == nil {
		return Success
	}
	if errors.Is(err, context.Canceled) {
		return Ignore
	}
	return Failure
}
