// Package balance provides client-side load balancing: pickers that choose
// which node (backend, replica, host) gets the next request, from round
// robin to power-of-two-choices with peak EWMA and bounded-load consistent
// hashing, with passive health checking, routing around nodes that the
// layers below refuse, and an http.RoundTripper.
//
// A picker hands out a Permit per request; the request's outcome goes back
// through Done:
//
//	p, err := balance.NewPeakEWMA([]string{"10.0.0.1:80", "10.0.0.2:80"}, balance.Config{})
//	permit, err := p.Pick()
//	defer func() { permit.Done(err) }() // err: the request's outcome
//
// Most HTTP users want NewTransport, which does the three steps for every
// request of an http.Client:
//
//	rt, err := balance.NewTransport(nil, p)
//	client := &http.Client{Transport: rt}
//	resp, err := client.Get("http://backend/path") // "backend" is replaced by the picked node
//
// Every picker is safe for concurrent use. Pick never blocks, takes no lock
// and allocates nothing; Done never blocks. Update swaps the node set while
// Picks go on.
//
// # Pickers
//
// Every picker works over nodes of any comparable type N ("host:port"
// strings, *url.URL, your own struct) and is built by NewX(nodes, Config):
//
//   - RoundRobin: in turn.
//   - WeightedRoundRobin: nginx's smooth weighted round robin ({5,1,1} gives
//     a a b a c a a).
//   - Random and WeightedRandom (Walker's alias method, O(1)).
//   - LeastLoaded: fewest Permits in flight, O(nodes) scan, random tie-break.
//   - P2C: the less loaded of two random nodes (Azar, Broder, Karlin, Upfal,
//     "Balanced Allocations", 1999; grpc-go's and Envoy's least_request).
//     Its fullest node holds about ln ln n / ln 2 requests where Random's
//     holds ln n / ln ln n.
//   - PeakEWMA: P2C on a latency estimate × (in-flight+1) with Finagle's peak
//     sensitivity and decay. The one to start with for HTTP and RPC fleets:
//     it steers away from slow nodes within a few requests.
//   - Consistent: by key (PickKey) on a hash ring with bounded loads
//     (Mirrokni, Thorup, Zadimoghaddam, SODA 2018), placing string nodes as
//     package shard's Ring does.
//
// Pick (PickKey for Consistent) returns a Permit: Permit.Node is the node to
// use, and Permit.Done(err) reports the outcome once the request has
// finished. Done is idempotent; see Permit for the rules. Every picker
// implements Picker, the interface NewTransport takes. Update to an empty
// set is allowed and makes Pick return ErrNoNodes; nodes that stay keep
// their counters, health and latency estimate. Stats reports the per-node
// picks, in-flight count, failures, ejections, availability and latency.
//
// # Passive health: ejection, the cap and panic mode
//
// All pickers share one outlier detection, configured by Config and
// modelled on Envoy's: after EjectAfter consecutive failures (default 5) a
// node is ejected for EjectFor (default 30s), doubling for each further
// ejection up to MaxEjectFor (default 300s), and a node added by Update or
// back from ejection can ramp up linearly over SlowStart (default off). A
// Done with an error matching context.Canceled is neither a success nor a
// failure. Ejections expire lazily, on a later Pick: there are no
// background goroutines.
//
// Two settings answer "what if failures take out too much of the fleet",
// as in Envoy. The cap, MaxEjectedPercent (default 50; Envoy's
// max_ejection_percent defaults to 10), stops ejection: a node whose
// ejection would exceed the cap stays in with its share, and the nodes
// ejected before it stay out. The panic threshold, PanicPercent (default
// off; Envoy's healthy_panic_threshold defaults to 50,
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold),
// is all or nothing: once fewer than that share of the nodes are not
// ejected, the picker ignores ejection and balances over every node, on the
// view that health information which condemns most of a fleet is more
// likely wrong than the fleet. Ejection alone cannot cross the threshold
// unless MaxEjectedPercent > 100 − PanicPercent, which is why the default
// cap of 50 makes a panic threshold unnecessary: at most half the nodes
// are ever ejected, gently, and the other half keep the traffic.
//
// A node can also ask for a pause itself: Permit.Pushback ejects it at once
// for the time it names, capped by MaxEjectFor, within the same cap and
// threshold. NewTransport calls it for a 503 or 429 response with
// Retry-After (capped by WithRetryAfterCap, default 1 minute), and marks
// the response so that a retry.Transport above sends its retry to another
// node after its own backoff instead of waiting out the pause. When the cap
// keeps the node in (a fleet of one, say), nothing is marked and the retry
// honours Retry-After as usual. The pause replaces EjectFor for that
// ejection and does not lengthen the next one.
//
// PeakEWMA can eject for latency too: with Config.SlowFactor set (5 suits
// a fleet of alike nodes), a successful answer slower than SlowFactor × the
// median of the nodes' latency estimates counts as a failure in the run,
// so a node in a brownout leaves rotation after EjectAfter slow answers in
// a row, within the same cap. P2C by itself keeps sending a slow node the
// picks in which both candidates are slow (one in ten with two slow nodes
// of five), and those set the p99. The median follows the fleet: when
// every node slows down together nobody is an outlier.
//
// # Rejection-aware routing
//
// A layer between the picker and the node may refuse a call locally,
// before anything reaches the network: an open circuit breaker, a full
// bulkhead, a rate limit. Every such refusal in this module matches
// bulwark.ErrNotAttempted and, when its guard knows, says when it admits
// again (bulwark.RetryAt: an open breaker's deadline). Given to Done, it
// makes the node unavailable until that moment, or for
// Config.UnavailableFor (default 100ms) when the guard does not say, and
// Pick skips the node meanwhile. A hold of UnavailableFor is a guess and
// ends early at the node's next success: after an outage, the request
// that finds a half-open breaker busy with its probe does not keep the node
// out for 100ms once the probe has closed the breaker. NewTransport does this with no wiring:
// the breaker's error comes back through it. Other users pass the guard's
// error to Done, or call MarkUnavailable when they learn of unavailability
// otherwise (a health check, a connection state).
//
// Unavailability is not ejection, and neither the cap nor panic mode
// touches it. A local rejection is not a failure: it costs the node no
// ejection count and no latency sample. An unavailable node is skipped even
// when the cap kept it from being ejected and even in panic mode, since a
// call sent to it would certainly be refused; and it counts neither as
// ejected (it does not use up the cap) nor as unhealthy for the threshold
// (it cannot push a picker into panic). The cap and the threshold limit
// what guesses from observed failures may do; unavailability is a fact the
// layer below states. When nothing is usable, a picker falls back to an
// ejected or warming node (better a node than a failure), but never to an
// unavailable one: when every node is unavailable, Pick returns an
// *UnavailableError, which matches ErrNoNodes and bulwark.ErrNotAttempted,
// names the rejections, and whose RetryAt is the earliest moment a node
// returns, so that a retry layer waits for it instead of looping.
//
// The health check costs the common Pick two loads (the ejection word and
// the availability word) from the picked node's first cache line, which
// Pick reads anyway for the in-flight count; the clock is read only when a
// node is ejected, warming or unavailable.
//
// # Events and AllStats
//
// Config.Observer receives a picker's state changes as Events, tagged with
// Config.Name:
//
//	p, _ := balance.NewP2C(nodes, balance.Config{Name: "api", Observer: func(e balance.Event) {
//		log.Printf("%s %s %v until %v", e.Name, e.Kind, e.Node, e.Until)
//	}})
//
// EventEjected and EventReturned bracket each ejection (exactly one
// return per ejection, reported by the Pick that ends it), EventUnavailable
// marks a node becoming unavailable (not every refusal that extends the
// hold), and EventNoNodes is a failed Pick's own report. A node's events
// arrive in the order they took effect, never under a lock of the picker;
// the observer may call the picker back. A panicking observer is recovered
// and counted in Stats.ObserverPanics and changes no decision. Only state
// changes report, so a Pick and Done cost the same with an observer as
// without.
//
// Stats returns a snapshot slice; AllStats yields the same per-node values
// as an iterator, without the slice and without holding a lock while the
// loop body runs, for metrics exporters:
//
//	for node, ns := range p.AllStats() {
//		gauge.Set(node, ns.InFlight)
//	}
package balance
