package balance

import "time"

// Passive health: outlier ejection after consecutive failures (with the
// MaxEjectedPercent cap and doubling ejection times), the panic threshold,
// and slow start. Unavailability after local rejections is separate: see
// availability.go.

// forgive resets the ejection doubling once a reinstated node has stayed
// healthy for a base ejection time.
func (s *nodeState) forgive() {
	if s.cfg.now()-s.backAt.Load() >= s.cfg.ejectFor {
		s.streak.Store(0)
	}
}

func (s *nodeState) fail() {
	s.failures.Add(1)
	s.strike()
}

// strike extends the node's run of failures (a failed Permit, or with
// Config.SlowFactor a slow success) and ejects it when the run reaches
// EjectAfter.
func (s *nodeState) strike() {
	if s.consecFail.Add(1) < s.cfg.ejectAfter || s.cfg.noEject {
		return
	}
	if s.gate.Load() > 0 {
		return
	}
	s.tryEject(s.cfg.now(), 0)
}

// tryEject ejects the node unless that would exceed MaxEjectedPercent, and
// reports the ejection to the observer. pushback > 0 is the node's own
// requested pause (Permit.Pushback), which sets the ejection's length in
// place of the doubling EjectFor; it reports whether the node is ejected.
func (s *nodeState) tryEject(now, pushback int64) bool {
	cfg := s.cfg
	if !cfg.obs.Enabled() {
		return s.eject(now, pushback, nil)
	}
	var e Event
	cfg.obsMu.Lock()
	ok := s.eject(now, pushback, &e)
	if ok {
		cfg.obs.PushLocked(e)
	}
	cfg.obs.UnlockAndDeliver(&cfg.obsMu, nil, nil)
	return ok
}

// eject is tryEject's transition. When it ejects the node and e is not nil,
// it fills in the EventEjected.
func (s *nodeState) eject(now, pushback int64, e *Event) bool {
	c := s.counts.Load()
	if c == nil {
		return false // removed by Update
	}
	for {
		k := c.ejected.Load()
		if (k+1)*100 > s.cfg.maxEjectedPct*c.n {
			return false
		}
		if c.ejected.CompareAndSwap(k, k+1) {
			break
		}
	}
	d, streak := s.ejectionLength(pushback)
	for {
		g := s.gate.Load()
		if g > 0 {
			c.ejected.Add(-1) // a concurrent Done ejected it first
			s.streak.Add(-streak)
			return false
		}
		if s.gate.CompareAndSwap(g, now+d) { // ends any slow start too
			break
		}
	}
	n := s.ejections.Add(1)
	failures := s.consecFail.Swap(0)
	if e != nil {
		*e = Event{Kind: EventEjected, Node: s.nodeValue(), Until: s.cfg.timeOf(now + d),
			Failures: failures, Ejections: n, Pushback: time.Duration(pushback)}
	}
	return true
}

// ejectionLength is how long an ejection lasts: the node's pushback, capped
// by MaxEjectFor, or else EjectFor doubled once per ejection in the streak
// (which it extends: streak is what it added to it).
func (s *nodeState) ejectionLength(pushback int64) (d, streak int64) {
	if pushback > 0 {
		return min(pushback, s.cfg.maxEjectFor), 0
	}
	d = s.cfg.ejectFor
	for i := s.streak.Add(1) - 1; i > 0 && d < s.cfg.maxEjectFor; i-- {
		d *= 2
	}
	return min(d, s.cfg.maxEjectFor), 1
}

// pushback is Permit.Pushback: an ejection for d, within MaxEjectedPercent,
// that needs no run of failures. It reports whether the node is ejected
// afterwards (also when it already was).
func (s *nodeState) pushback(d time.Duration) bool {
	if d <= 0 || s.cfg.noEject {
		return false
	}
	now := s.cfg.now()
	g := s.gate.Load()
	if g > now {
		return true // ejected already
	}
	if g > 0 {
		s.reinstate(g, now) // an ejection that ended, which no Pick has seen yet
	}
	return s.tryEject(now, int64(d))
}

// nodeValue is the node for an event.
func (s *nodeState) nodeValue() any {
	if s.node == nil {
		return nil
	}
	return *s.node
}

// clear reports whether the node is available, not ejected and at full
// share: the fast path of every health check, inlined (two loads from the
// node's first cache line, which Pick reads anyway for the in-flight count,
// and no clock read). When it fails, usableNow or usableAt decides.
func (s *nodeState) clear() bool {
	return s.gate.Load()|s.until.Load() == 0
}

// usableNow reports whether the node may be picked now: available, and not
// ejected (or the panic threshold is in force), and admitted by slow start.
// Callers test clear first; usableNow is kept out of line so that the
// caller's "clear() || usableNow()" stays small.
//
//go:noinline
func (s *nodeState) usableNow() bool {
	var now int64
	return s.usableSlow(&now)
}

// usableAt is usable for the loops that may test many nodes: they share one
// lazily read clock reading (*now, 0 until read), so a Pick reads the clock
// at most once however many unhealthy nodes it meets. Hot paths call clear
// first themselves: usableAt is one step too large to inline.
func (s *nodeState) usableAt(now *int64) bool {
	return s.clear() || s.usableSlow(now)
}

// usableSlow is for nodes that are unavailable, ejected or warming up.
// Unavailability comes first: neither panic mode nor anything else sends a
// request to a node whose guard is known to refuse it.
func (s *nodeState) usableSlow(nowp *int64) bool {
	if !s.availableAt(nowp) {
		return false
	}
	g := s.gate.Load()
	if g == 0 {
		return true
	}
	if *nowp == 0 {
		*nowp = s.cfg.now()
	}
	now := *nowp
	if g > 0 {
		if now < g {
			return s.panicking()
		}
		g = s.reinstate(g, now)
	}
	if g == 0 {
		return true
	}
	elapsed := now + g // g = -start
	if elapsed >= s.cfg.slowStart {
		s.gate.CompareAndSwap(g, 0)
		return true
	}
	// Linear ramp: admitted with probability elapsed/SlowStart.
	return elapsed > 0 && s.cfg.rand()%uint64(s.cfg.slowStart) < uint64(elapsed)
}

// reinstate ends an expired ejection (starting slow start if configured)
// and returns the new gate. The Pick whose CAS ends the ejection reports
// EventReturned: exactly one per ejection, since a node is only ejected
// again from a gate that is not ejected (fail and eject skip a gate > 0,
// expired or not).
func (s *nodeState) reinstate(until, now int64) int64 {
	cfg := s.cfg
	if !cfg.obs.Enabled() {
		next, _ := s.unEject(until, now)
		return next
	}
	cfg.obsMu.Lock()
	next, won := s.unEject(until, now)
	if won {
		cfg.obs.PushLocked(Event{Kind: EventReturned, Node: s.nodeValue()})
	}
	cfg.obs.UnlockAndDeliver(&cfg.obsMu, nil, nil)
	return next
}

// unEject is reinstate's transition; won reports that this call made it.
func (s *nodeState) unEject(until, now int64) (next int64, won bool) {
	if s.cfg.slowStart > 0 {
		next = -now
	}
	if !s.gate.CompareAndSwap(until, next) {
		return s.gate.Load(), false // another Pick reinstated it
	}
	if c := s.counts.Load(); c != nil {
		c.ejected.Add(-1)
	}
	s.backAt.Store(now)
	return next, true
}

// panicking reports whether fewer than PanicPercent of the nodes are not
// ejected, in which case ejected nodes are picked too. Unavailable nodes do
// not enter the count: they neither push a picker into panic nor are picked
// in it.
func (s *nodeState) panicking() bool {
	c := s.counts.Load()
	if c == nil || s.cfg.panicPct == 0 {
		return false
	}
	healthy := c.n - c.ejected.Load()
	return healthy*100 < s.cfg.panicPct*c.n
}
