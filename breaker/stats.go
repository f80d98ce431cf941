package breaker

import "time"

// Stats is a snapshot of a breaker's counters.
type Stats struct {
	State State
	// Lifetime outcome counts. Every completed Permit adds one to exactly one
	// of Successes, Failures and Ignored. SlowCalls counts calls (successes
	// or failures) that took at least SlowCall; a call ignored only after it
	// had taken SlowCall counts as a slow success (see Config.SlowCall).
	Successes, Failures, Ignored, SlowCalls int64
	// Rejected counts calls refused (in Shadow mode: that would have been).
	Rejected int64
	// Trips counts the times the breaker opened: Closed→Open, HalfOpen→Open
	// and Trip().
	Trips int64
	// The current window (meaningful in Closed): what the trip rule sees.
	WindowCalls, WindowFailures, WindowSlowCalls int64
	// ConsecutiveFailures is the current run of failures (see Counts);
	// meaningful in Closed.
	ConsecutiveFailures int64
	// OpenUntil is the end of the open period; zero unless Open.
	OpenUntil time.Time
	// ObserverPanics counts panics of Config.Observer, recovered.
	ObserverPanics int64
}

// Stats returns a snapshot. It takes the breaker's lock briefly; the
// lifetime counters are exact once calls have completed.
func (b *Breaker) Stats() Stats {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.state.Load()
	s := Stats{
		State:          stateOf(w),
		Successes:      int64(b.successes.Sum()),
		Failures:       b.failures.Load(),
		Ignored:        b.ignored.Load(),
		SlowCalls:      b.slow.Load(),
		Rejected:       b.rejected.Load(),
		Trips:          b.trips.Load(),
		ObserverPanics: b.obs.Panics(),
	}
	if s.State == Closed {
		c := b.win.counts(b.total(), now)
		s.WindowCalls, s.WindowFailures, s.WindowSlowCalls = c.Calls, c.Failures, c.SlowCalls
		s.ConsecutiveFailures = c.ConsecutiveFailures
	}
	if s.State == Open {
		s.OpenUntil = b.epoch.Add(time.Duration(b.openUntil.Load()))
	}
	return s
}
