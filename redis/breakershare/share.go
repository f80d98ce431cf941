package breakershare

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/redis"
)

// run is the Breaker's one goroutine: it keeps the subscription open,
// publishes queued transitions, and renews the report every Heartbeat.
// Every Redis call in it is bounded by Config.Timeout.
func (b *Breaker) run() {
	defer b.done.Done()
	tick := time.NewTicker(b.hb)
	defer tick.Stop()
	var watch redis.Watch
	defer func() {
		if watch != nil {
			watch.Close()
		}
	}()
	for {
		if watch == nil {
			watch = b.subscribe()
			b.report(nil) // after subscribing, so no transition is missed between
		}
		var lost <-chan struct{}
		if watch != nil {
			lost = watch.Lost()
		}
		select {
		case <-b.stop:
			return
		case <-b.wake:
			b.publishQueued()
		case <-tick.C:
			b.report(nil)
		case <-lost:
			watch.Close()
			watch = nil
			b.markDown(errLost)
		}
	}
}

var errLost = errorString("breakershare: subscription lost")

type errorString string

func (e errorString) Error() string { return string(e) }

func (b *Breaker) subscribe() redis.Watch {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	w, err := b.client.Subscribe(ctx, b.channel, b.onMessage)
	if err != nil {
		b.markDown(err)
		return nil
	}
	return w
}

func (b *Breaker) publishQueued() {
	b.queueMu.Lock()
	q := b.queue
	b.queue = nil
	b.queueMu.Unlock()
	for i := range q {
		b.report(&q[i])
		if q[i].release {
			b.release()
		}
	}
}

// letter is a state's one-letter form in reports.
func letter(s breaker.State) string {
	switch s {
	case breaker.Open:
		return "o"
	case breaker.HalfOpen:
		return "h"
	}
	return "c"
}

func parseLetter(s string) (breaker.State, bool) {
	switch s {
	case "o":
		return breaker.Open, true
	case "h":
		return breaker.HalfOpen, true
	case "c":
		return breaker.Closed, true
	}
	return 0, false
}

// report writes this instance's report — the transition t, or the current
// state for a heartbeat — and refreshes the view from the reply.
func (b *Breaker) report(t *transition) {
	state, own, transitionArg, probeArg := b.local.State(), b.own.Load(), "0", "0"
	if t != nil {
		state, own, transitionArg = t.to, t.own, "1"
		if t.probeOK {
			probeArg = "1"
		}
	}
	ownArg := "1"
	if state != breaker.Closed && !own {
		ownArg = "0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	sent := time.Now()
	r, err := b.client.Eval(ctx, reportScript, b.states,
		b.instance, letter(state), ownArg, b.ttlArg, b.channel, transitionArg, probeArg)
	if err == nil {
		err = b.refresh(r, sent)
	}
	if err != nil {
		b.markDown(err)
		return
	}
	b.markUp()
	if t != nil {
		b.published.Add(1)
	}
	b.evaluate()
}

// refresh replaces the view by the live reports of reply r (untrusted:
// anything malformed is an error and changes nothing).
func (b *Breaker) refresh(r []string, sent time.Time) error {
	if len(r) < 2 || len(r)%2 != 0 {
		return replyError(r)
	}
	now, err1 := strconv.ParseInt(r[0], 10, 64)
	probeMs, prober, _ := strings.Cut(r[1], "|")
	probeOK, err2 := strconv.ParseInt(probeMs, 10, 64)
	if err1 != nil || err2 != nil {
		return replyError(r)
	}
	view := make(map[string]peerReport, len(r)/2-1)
	for i := 2; i < len(r); i += 2 {
		rep, ok := parseReport(r[i+1], now, sent)
		if !ok {
			return replyError(r)
		}
		view[r[i]] = rep
	}
	var changed []Event
	b.viewMu.Lock()
	for id, rep := range view {
		old, ok := b.view[id]
		if ok && old.since > rep.since {
			// A message delivered while this reply was on its way is newer.
			old.expires = rep.expires
			view[id] = old
			continue
		}
		if id != b.instance && (!ok || old.state != rep.state || old.own != rep.own) {
			changed = append(changed, Event{Kind: EventPeer, Instance: id, State: rep.state, Own: rep.own})
		}
	}
	b.view = view
	newProbe := probeOK > b.lastProbeOK
	b.lastProbeOK = max(b.lastProbeOK, probeOK)
	self, hasSelf := view[b.instance]
	b.viewMu.Unlock()
	for _, e := range changed {
		b.events.Push(e)
	}
	// A successful probe this instance did not hear of (its message was
	// lost, or came before the subscription) closes it here, within a
	// Heartbeat, if the probe came after this instance opened.
	if newProbe && prober != b.instance && hasSelf && self.state != breaker.Closed && self.since < probeOK {
		b.fleetClose(prober)
	}
	return nil
}

// fleetClose closes the local breaker after prober's successful probe.
func (b *Breaker) fleetClose(prober string) {
	if b.local.State() == breaker.Closed {
		return
	}
	b.fleetCloses.Add(1)
	b.resetting.Store(true)
	b.local.Reset()
	b.events.Push(Event{Kind: EventFleetClosed, Instance: prober})
}

// parseReport parses "state|own|since|expires" (server ms); the local
// expiry is measured from when the request was sent, so it is never later
// than Redis's.
func parseReport(v string, now int64, sent time.Time) (peerReport, bool) {
	f := strings.Split(v, "|")
	if len(f) != 4 {
		return peerReport{}, false
	}
	st, ok := parseLetter(f[0])
	since, err1 := strconv.ParseInt(f[2], 10, 64)
	exp, err2 := strconv.ParseInt(f[3], 10, 64)
	if !ok || (f[1] != "0" && f[1] != "1") || err1 != nil || err2 != nil || exp < now {
		return peerReport{}, false
	}
	return peerReport{state: st, own: f[1] == "1", since: since,
		expires: sent.Add(time.Duration(exp-now) * time.Millisecond)}, true
}

// onMessage handles a published transition:
// "instance|state|own|since|expires|probeOK|now". Malformed messages are
// ignored: the next heartbeat brings the truth.
func (b *Breaker) onMessage(payload string) {
	id, rest, ok := strings.Cut(payload, "|")
	if !ok || id == b.instance {
		return
	}
	f := strings.Split(rest, "|")
	if len(f) != 6 {
		return
	}
	now, err := strconv.ParseInt(f[5], 10, 64)
	if err != nil {
		return
	}
	rep, ok := parseReport(strings.Join(f[:4], "|"), now, time.Now())
	if !ok {
		return
	}
	probeOK := f[4] == "1" && rep.state == breaker.Closed
	b.viewMu.Lock()
	if old, ok := b.view[id]; ok && old.since > rep.since {
		b.viewMu.Unlock()
		return
	}
	b.view[id] = rep
	if probeOK {
		b.lastProbeOK = max(b.lastProbeOK, rep.since)
	}
	b.viewMu.Unlock()
	b.events.Push(Event{Kind: EventPeer, Instance: id, State: rep.state, Own: rep.own})
	if probeOK && b.local.State() != breaker.Closed {
		b.fleetClose(id)
		return
	}
	b.evaluate()
}

// evaluate opens the local breaker when the quorum holds. It waits while
// a transition of this instance is unpublished: after a successful probe
// the peers' open reports are stale, which the probe's publication (and
// its reply) establishes.
func (b *Breaker) evaluate() {
	b.queueMu.Lock()
	pending := len(b.queue) > 0
	b.queueMu.Unlock()
	// The local state must be the one the observer last delivered: a
	// transition the breaker made but has not delivered yet (a probe's
	// success, say) is as unpublished as a queued one.
	if pending || b.local.State() != breaker.Closed || breaker.State(b.seen.Load()) != breaker.Closed {
		return
	}
	now := time.Now()
	live, open := 1, 0
	b.viewMu.Lock()
	for id, r := range b.view {
		if id == b.instance || !now.Before(r.expires) {
			continue
		}
		live++
		if r.state == breaker.Open && r.own && r.since > b.lastProbeOK {
			open++
		}
	}
	b.viewMu.Unlock()
	need := b.quorum
	if b.fraction > 0 {
		need = max(1, int(math.Ceil(b.fraction*float64(live)-1e-9)))
	}
	if open < need {
		return
	}
	b.quorumTrips.Add(1)
	b.tripping.Store(true)
	b.local.Trip()
	if b.local.State() == breaker.Closed { // raced with a Reset
		b.tripping.Store(false)
		return
	}
	b.events.Push(Event{Kind: EventQuorumOpen, Open: open, Live: live})
}

// Refresh renews this instance's report and reads its peers' now, in one
// round trip bounded by Config.Timeout, instead of waiting for the next
// Heartbeat; it may open the local breaker by the quorum.
func (b *Breaker) Refresh() { b.report(nil) }
