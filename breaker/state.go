package breaker

import "fmt"

// State is a breaker state.
type State uint8

const (
	// Closed lets every call through and records outcomes in the window.
	Closed State = iota
	// Open rejects every call (with an *OpenError) until the open period
	// ends.
	Open
	// HalfOpen admits HalfOpenCalls probes and rejects the rest.
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText returns the String form, so that encoding/json and expvar
// show "closed", "open" or "half-open" rather than a number. A value other
// than the three states is an error.
func (s State) MarshalText() ([]byte, error) {
	if s > HalfOpen {
		return nil, fmt.Errorf("breaker: cannot marshal State(%d)", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses the String form of a state, so that a marshalled
// Stats decodes back.
func (s *State) UnmarshalText(text []byte) error {
	for _, v := range []State{Closed, Open, HalfOpen} {
		if string(text) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("breaker: unknown State %q", text)
}

// The state word (Breaker.state) packs, from the low bits up:
//
//   - the State (two bits);
//   - timedBit, set when Config.SlowCall > 0: an admission needs a start
//     time;
//   - classifiedBit, set when Config.Classify is set: a nil error is not
//     known to be a Success until Classify says so;
//   - observedBit, set when Config.Observer is set: a success is an event
//     to deliver;
//   - a generation, bumped by every transition, so that a Permit can tell
//     whether the state it was admitted under is still current.
//
// The three configuration bits never change after New. Keeping them in the
// word lets the hot paths decide with one test of the word they load anyway:
// a closed admission needs no start time when word&admitMask == 0, and a nil
// error is a plain success (no classification, no clock, no event) when
// word&plainMask == 0. So an unset Observer costs the hot paths nothing:
// its bit rides on a test they make anyway.
const (
	stateBits     = 2
	stateMask     = 1<<stateBits - 1
	timedBit      = 1 << stateBits
	classifiedBit = 1 << (stateBits + 1)
	observedBit   = 1 << (stateBits + 2)
	configBits    = timedBit | classifiedBit | observedBit
	genShift      = stateBits + 3
	admitMask     = stateMask | timedBit
	plainMask     = admitMask | classifiedBit | observedBit
)

func stateOf(word uint64) State { return State(word & stateMask) }

// nextWord is the word after a transition from old to s: same configuration
// bits, next generation.
func nextWord(old uint64, s State) uint64 {
	return (old>>genShift+1)<<genShift | old&configBits | uint64(s)
}
