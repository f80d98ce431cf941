// Package balance provides client-side load-balancing pickers, from round
// robin to power-of-two-choices with peak EWMA and bounded-load consistent
// hashing, with passive health checking and an http.RoundTripper.
//
// The three-line use:
//
//	p, err := balance.NewPeakEWMA([]string{"10.0.0.1:80", "10.0.0.2:80"}, balance.Config{})
//	lease, err := p.Pick()
//	defer func() { lease.Done(err) }() // err: the request's outcome
//
// or, for HTTP, hand the picker to NewTransport and use the http.Client as
// usual:
//
//	client := &http.Client{Transport: balance.NewTransport(nil, p)}
//	resp, err := client.Get("http://backend/path") // "backend" is replaced by the picked node
//
// # Pickers
//
// Every picker works over nodes of any comparable type N ("host:port"
// strings, *url.URL, your own struct) and is built by NewX(nodes, Config):
//
//   - RoundRobin: in turn.
//   - WeightedRoundRobin: nginx's smooth weighted round robin ({5,1,1} gives
//     a a b a c a a), one precomputed period walked by an atomic counter.
//   - Random and WeightedRandom (Walker/Vose alias method, O(1)).
//   - LeastLoaded: fewest Leases in flight, O(nodes) scan, random tie-break.
//   - P2C: the less loaded of two random nodes (Azar, Broder, Karlin, Upfal,
//     "Balanced Allocations", 1999; grpc-go and Envoy least_request). With
//     10,000 requests over 10,000 nodes the fullest node holds 3 or 4, against
//     6 to 9 for Random (REFERENCES.md §5).
//   - PeakEWMA: P2C on latency EWMA × (in-flight+1) with Finagle's peak
//     sensitivity and decay (Config.DecayTime, default 10s as in Finagle).
//     A failed Lease records at least Config.FailurePenalty (default 10× a
//     recent healthy latency), so a node that fails fast does not look
//     cheap.
//   - Consistent: by key (PickKey) on a hash ring with bounded loads: a node
//     already at ceil(c·m/n) in-flight Leases is skipped (Mirrokni, Thorup,
//     Zadimoghaddam, SODA 2018; c = Config.LoadFactor, default 1.25).
//
// Pick (PickKey for Consistent) returns a Lease: Lease.Node is the node to
// use, and Lease.Done(err) must be called once the request has finished. It
// never blocks, takes no lock and allocates nothing; per-node counters sit in
// their own cache lines. Every picker implements Picker, the interface
// NewTransport takes.
//
// The hot path is a few atomic operations: a request costs one atomic add at
// Pick and one at Done on a single per-node word (in flight and done,
// packed), random pickers add one for their wyrand state, and health is
// checked by one load of the picked node's state word (ejected and warming
// nodes are only discovered when drawn, so Pick never scans for health).
// PeakEWMA also reads the monotonic clock once in Pick and once in Done;
// its exponential decay uses a Taylor polynomial (relative error below
// 1e-7, see expNeg) instead of math.Exp. LeastLoaded's scan and PeakEWMA's
// choice between its two candidates use conditional moves, not branches:
// their outcomes are random, and a mispredicted branch cost more than the
// scan.
//
// Update swaps the node set through an immutable snapshot (atomic.Pointer):
// nodes that stay keep their counters, ejection state and latency estimate;
// Leases of removed nodes remain safe to Done. Update to an empty set is
// allowed and makes Pick return ErrNoNodes. Nodes returns the set and Stats
// the per-node picks, in-flight count, failures, ejections and latency.
//
// # Passive health
//
// All pickers share the same outlier detection, configured by Config and
// modelled on Envoy's: after EjectAfter consecutive failures (default 5) a
// node is ejected for EjectFor (default 30s), doubling for each further
// ejection up to MaxEjectFor (default 300s); at most MaxEjectedPercent of
// the nodes (default 50) are ejected at once; when fewer than PanicPercent
// of the nodes are healthy (default off; Envoy uses 50) pickers use all
// nodes; and a node added by Update or back from ejection ramps up linearly
// over SlowStart (default off). A Done with an error matching
// context.Canceled is neither a success nor a failure. Ejections expire
// lazily, on a later Pick: there are no background goroutines.
//
// # Deviations from DESIGN.md, and why
//
// Randomness comes from wyrand on per-picker atomic words rather than
// math/rand/v2 (DESIGN.md's default): the runtime's ChaCha8 source cost
// 8–11 ns per draw on the benchmark machine against 3–4 ns, a third of
// P2C's budget, while node picking needs neither its cryptographic strength
// nor per-goroutine streams. To keep parallel Picks from all writing one
// cache line, a picker has 8 such words and a goroutine uses the one picked
// by a hash of its stack address (the package's only use of unsafe, and only
// to read an address). Tests seed the words.
//
// Lease.Done has a pointer receiver and clears the Lease: that is what makes
// a second Done a no-op without allocating per Pick. Copies of a Lease are
// the same lease (call Done on one). Latency is measured (two monotonic
// clock readings per request) only by PeakEWMA, the one picker that uses it;
// the others record outcome and completion only, which keeps them at a few
// atomic operations. Consistent also has Pick (a random key) so that it is
// a Picker.
//
// All types are safe for concurrent use.
package balance
