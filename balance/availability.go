package balance

import (
	"fmt"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark"
)

// Rejection-aware routing. A node is unavailable while a layer between the
// picker and the node refuses work for it locally (an open circuit breaker,
// a full bulkhead, a rate limit): the call would not reach the network, so
// picking the node only wastes an attempt. Done learns it from the error
// (errors.Is(err, bulwark.ErrNotAttempted)); MarkUnavailable is the same for
// callers who learn it otherwise. Unavailability is not ejection: it is
// not counted by MaxEjectedPercent or the panic threshold, panic mode does
// not override it, and it ends at the moment the guard named, not after
// EjectFor.
//
// The state is one word per node, until (0 when available), beside gate in
// the node's first cache line, so the common check costs one more load from
// a line that Pick reads anyway. An expired hold is cleared lazily by the
// first Pick that meets it.

// rejection keeps the error that made a node unavailable, for the error Pick
// returns when no node is available. guessed marks a hold of
// Config.UnavailableFor, taken because the guard named no moment: a
// success on the node ends it early (see admitted).
type rejection struct {
	err     error
	guessed bool
}

// rejected records a local rejection reported by Done.
func (s *nodeState) rejected(err error) {
	s.rejections.Add(1)
	now := s.cfg.now()
	until, guessed := now+s.cfg.unavailableFor, true
	if at, ok := bulwark.RetryAt(err); ok {
		until, guessed = s.cfg.at(at), false
	}
	if until <= now {
		return // the guard admits again already
	}
	s.reason.Store(&rejection{err, guessed})
	s.holdReport(until, true, err)
}

// admitted is a success's news for a node held for Config.UnavailableFor:
// the guard below let a call through and it worked (a half-open breaker's
// probe that closed it, a bulkhead slot that a finished call freed), so the
// hold, a guess at how long the guard would refuse, ends now. A hold whose
// guard named its end stays. Should the guard still refuse, the next
// rejection holds the node again, at the cost of one rerouted attempt.
func (s *nodeState) admitted() {
	u := s.until.Load()
	if r := s.reason.Load(); u == 0 || r == nil || !r.guessed {
		return
	}
	if s.until.CompareAndSwap(u, 0) {
		if c := s.counts.Load(); c != nil {
			c.unavailable.Add(-1)
		}
	}
}

// holdReport is hold, reporting EventUnavailable with reason when it makes an
// available node (or one whose hold had expired) unavailable.
func (s *nodeState) holdReport(until int64, later bool, reason error) {
	cfg := s.cfg
	if !cfg.obs.Enabled() {
		s.hold(until, later)
		return
	}
	cfg.obsMu.Lock()
	if old, ok := s.hold(until, later); ok && until != 0 && (old == 0 || old <= cfg.now()) {
		cfg.obs.PushLocked(Event{Kind: EventUnavailable, Node: s.nodeValue(),
			Until: cfg.timeOf(until), Err: reason})
	}
	cfg.obs.UnlockAndDeliver(&cfg.obsMu, nil, nil)
}

// hold makes the node unavailable until the given now() reading, or
// available again for until == 0. With later set (a Done's report) it only
// ever extends a hold, so that a stale report from a request that was in
// flight cannot shorten a newer one; MarkUnavailable sets it exactly.
//
// It returns the previous value and whether it changed it.
func (s *nodeState) hold(until int64, later bool) (int64, bool) {
	for {
		u := s.until.Load()
		if later && u >= until {
			return u, false
		}
		if !s.until.CompareAndSwap(u, until) {
			continue
		}
		if c := s.counts.Load(); c != nil {
			switch {
			case u == 0 && until != 0:
				c.unavailable.Add(1)
			case u != 0 && until == 0:
				c.unavailable.Add(-1)
			}
		}
		return u, true
	}
}

// availableAt reports whether the node is available at *now (read into *now
// if still 0, and only if the node has a hold). An expired hold is cleared.
func (s *nodeState) availableAt(nowp *int64) bool {
	u := s.until.Load()
	if u == 0 {
		return true
	}
	if *nowp == 0 {
		*nowp = s.cfg.now()
	}
	if *nowp < u {
		return false
	}
	if s.until.CompareAndSwap(u, 0) {
		if c := s.counts.Load(); c != nil {
			c.unavailable.Add(-1)
		}
	}
	return true
}

// markUnavailable is MarkUnavailable for every picker.
func (p *pool[N]) markUnavailable(node N, until time.Time, reason error) bool {
	p.mu.Lock()
	s := p.snap.Load()
	i, ok := indexOf(s, node)
	p.mu.Unlock()
	if !ok {
		return false
	}
	st := s.states[i]
	v := int64(0)
	if !until.IsZero() {
		if v = p.cfg.at(until); v <= p.cfg.now() {
			v = 0
		}
	}
	if v != 0 {
		if reason == nil {
			reason = errMarked
		}
		st.reason.Store(&rejection{err: reason})
	}
	st.holdReport(v, false, reason)
	return true
}

var errMarked = &localRejection{"balance: marked unavailable"}

// UnavailableError is Pick's error when every node is unavailable: each is
// refused locally by a layer below (Permit.Done reported an error matching
// bulwark.ErrNotAttempted) or was marked with MarkUnavailable. It matches
// ErrNoNodes and bulwark.ErrNotAttempted, unwraps to the rejections that
// made the nodes unavailable (so errors.Is(err, breaker.ErrOpen) holds when
// open breakers are the reason), and RetryAt reports the earliest moment a
// node becomes available again, so a retry layer above can wait until then
// rather than spin.
type UnavailableError struct {
	// Until is the earliest moment a node becomes available again.
	Until time.Time
	// Nodes is the number of nodes, all of them unavailable.
	Nodes int
	// Reasons are the distinct rejections behind the unavailability, in
	// node order.
	Reasons []error

	wait time.Duration // Until minus the moment of the Pick, for the message
}

func (e *UnavailableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "balance: all %d nodes unavailable, the first back in %v", e.Nodes, e.wait)
	for i, r := range e.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(r.Error())
	}
	return b.String()
}

// Is matches ErrNoNodes and bulwark.ErrNotAttempted.
func (e *UnavailableError) Is(target error) bool {
	return target == ErrNoNodes || target == bulwark.ErrNotAttempted
}

// Unwrap returns the reasons.
func (e *UnavailableError) Unwrap() []error { return e.Reasons }

// RetryAt returns Until (bulwark.RetryAter).
func (e *UnavailableError) RetryAt() time.Time { return e.Until }

// noneUsable is every picker's last resort when no node passed the health
// check: the first available node from position i on, ejected or warming up
// as it may be (better a node than a failure), or, if every node is
// unavailable, an *UnavailableError. It scans the nodes once.
func (p *pool[N]) noneUsable(s *snapshot[N], i int) (int, error) {
	n := len(s.nodes)
	var now int64
	for k := range n {
		j := i + k
		if j >= n {
			j -= n
		}
		if s.states[j].availableAt(&now) {
			return j, nil
		}
	}
	return -1, p.unavailableError(s, now)
}

// unavailableError describes a snapshot whose nodes all have a hold
// (checked at now by the caller).
func (p *pool[N]) unavailableError(s *snapshot[N], now int64) error {
	e := &UnavailableError{Nodes: len(s.nodes)}
	first := int64(0)
	for _, st := range s.states {
		u := st.until.Load()
		if u != 0 && (first == 0 || u < first) {
			first = u
		}
		if r := st.reason.Load(); r != nil && !containsErr(e.Reasons, r.err) {
			e.Reasons = append(e.Reasons, r.err)
		}
	}
	if first == 0 || first < now {
		first = now // a hold ended meanwhile: a node is back already
	}
	e.Until = p.cfg.timeOf(first)
	e.wait = time.Duration(first - now)
	if p.cfg.obs.Enabled() {
		p.cfg.obs.Emit(Event{Kind: EventNoNodes, Until: e.Until, Err: e})
	}
	return e
}

// noNodes is Pick's error for an empty node set, reported as EventNoNodes.
func (p *pool[N]) noNodes() error {
	if p.cfg.obs.Enabled() {
		p.cfg.obs.Emit(Event{Kind: EventNoNodes, Err: ErrNoNodes})
	}
	return ErrNoNodes
}

func containsErr(errs []error, err error) bool {
	for _, e := range errs {
		if e.Error() == err.Error() {
			return true
		}
	}
	return false
}
