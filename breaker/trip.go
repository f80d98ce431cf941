package breaker

// Counts is what the trip decision sees in Closed: the outcomes in the
// window and the current run of failures. Config.ShouldTrip receives it.
type Counts struct {
	// Calls, Failures and SlowCalls count the outcomes in the window
	// (ignored calls count toward nothing). A slow failure is both a
	// failure and a slow call; SlowCalls stays 0 without Config.SlowCall.
	Calls, Failures, SlowCalls int64
	// ConsecutiveFailures is the number of failures recorded since the last
	// success, or since the window was emptied (a close, a Reset). Unlike the
	// window counts it is not bounded by WindowSize or WindowTime.
	ConsecutiveFailures int64
}

// tripQuestion is a Config.ShouldTrip call owed after the lock is released:
// user code never runs under the breaker's lock.
type tripQuestion struct {
	ask       bool
	counts    Counts
	word      uint64 // state word when the counts were taken
	windowGen uint64 // window generation then (a Reset in Closed bumps it)
}

// evaluateLocked applies the trip rule to the window, tripping the breaker
// if it says so. With Config.ShouldTrip it returns the question to ask
// once the lock is released.
func (b *Breaker) evaluateLocked(now int64) tripQuestion {
	w := b.state.Load()
	if stateOf(w) != Closed {
		return tripQuestion{}
	}
	c := b.win.counts(b.total(), now)
	b.setBucketEndLocked(now)
	if b.cfg.ShouldTrip != nil {
		return tripQuestion{ask: true, counts: c, word: w, windowGen: b.win.gen}
	}
	// Below MinCalls a success can complete the evidence for a rate, so
	// successes are evaluated too until then; a success never extends a
	// run of failures.
	b.setWatchLocked(c.Calls < int64(b.cfg.MinCalls) &&
		(c.Failures > 0 && b.cfg.FailureRate > 0 || c.SlowCalls > 0))
	if b.tripsOn(c) {
		b.openLocked(now)
	}
	return tripQuestion{}
}

// tripsOn is the built-in trip rule: a run of ConsecutiveFailures failures,
// or, once the window holds MinCalls outcomes, the failure rate reaching
// FailureRate or the slow-call rate reaching SlowRate.
func (b *Breaker) tripsOn(c Counts) bool {
	if n := b.cfg.ConsecutiveFailures; n > 0 && c.ConsecutiveFailures >= int64(n) {
		return true
	}
	if c.Calls == 0 || c.Calls < int64(b.cfg.MinCalls) {
		return false
	}
	calls := float64(c.Calls)
	return b.cfg.FailureRate > 0 && float64(c.Failures)/calls >= b.cfg.FailureRate ||
		b.slowCall > 0 && float64(c.SlowCalls)/calls >= b.cfg.SlowRate
}

// askShouldTrip calls Config.ShouldTrip for q, outside the lock, and trips
// the breaker if it says so and nothing has moved the breaker or emptied
// its window since the counts were taken.
func (b *Breaker) askShouldTrip(q tripQuestion) {
	if !q.ask || !b.cfg.ShouldTrip(q.counts) {
		return
	}
	now := b.now()
	b.mu.Lock()
	if b.state.Load() == q.word && b.win.gen == q.windowGen {
		b.openLocked(now)
	}
	b.obs.UnlockAndDeliver(&b.mu, nil, nil)
}
