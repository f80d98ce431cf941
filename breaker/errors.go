package breaker

import (
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark"
)

// ErrOpen is matched (errors.Is) by every rejection of a Breaker, a Throttle
// and a Transport: an *OpenError, ErrThrottled, and the Transport's errors
// wrapping them.
//
// ErrOpen itself matches bulwark.ErrNotAttempted, and so does every error
// that wraps it: the protected call never ran, so layers above (a retry
// loop, a balancer) know that the rejection cost the dependency nothing.
var ErrOpen error = &rejection{"breaker: open"}

// ErrThrottled is the rejection of a Throttle. errors.Is(err, ErrOpen) and
// errors.Is(err, bulwark.ErrNotAttempted) also hold, so code that handles
// breaker rejections handles it too. A Throttle rejects at random, so it
// names no moment at which it will admit again.
var ErrThrottled = fmt.Errorf("breaker: throttled (%w)", ErrOpen)

// ErrInvalidConfig matches every configuration error of this package: from
// New, NewGroup, NewThrottle and NewTransport and its options. The message
// names the field (or option) and its value, e.g.
// "breaker: Config.FailureRate 1.5 outside (0,1]".
var ErrInvalidConfig = errors.New("breaker: invalid config")

// rejection is a sentinel that also matches bulwark.ErrNotAttempted.
type rejection struct{ msg string }

func (e *rejection) Error() string { return e.msg }

// Is makes the sentinel match bulwark.ErrNotAttempted.
func (e *rejection) Is(target error) bool { return target == bulwark.ErrNotAttempted }

// OpenError is the rejection returned by Allow, Do and Call. It says which
// breaker rejected and, when Open, until when. errors.Is(err, ErrOpen) and
// errors.Is(err, bulwark.ErrNotAttempted) hold, and bulwark.RetryAt(err)
// finds Until through any wrapping (a Transport's error, say).
type OpenError struct {
	Name  string
	State State     // Open, or HalfOpen when every probe slot is taken
	Until time.Time // end of the open period; zero in HalfOpen
}

// Error describes the rejection.
func (e *OpenError) Error() string {
	if e.State == HalfOpen {
		return fmt.Sprintf("breaker %q: half-open, probe slots taken", e.Name)
	}
	return fmt.Sprintf("breaker %q: open until %s", e.Name, e.Until.Format(time.RFC3339Nano))
}

// RetryAt returns Until, the end of the open period: the moment the breaker
// starts admitting probes again. It is zero for a HalfOpen rejection, whose
// slots free when the probes in flight finish (so bulwark.RetryAt reports
// no moment). RetryAt implements bulwark.RetryAter.
func (e *OpenError) RetryAt() time.Time { return e.Until }

// Unwrap returns ErrOpen.
func (e *OpenError) Unwrap() error { return ErrOpen }

// configError is an ErrInvalidConfig whose message names the field and value.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "breaker: " + fmt.Sprintf(format, args...)}
}
