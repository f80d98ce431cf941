// Package gameday runs game days: the same seeded faults, injected with
// package chaos into local HTTP backends on 127.0.0.1, against bulwark and
// its peers, measured the same way.
//
// A client game day (RunScenario) drives an open-loop workload — request i
// is sent at i/Rate, whatever became of the others, as real traffic arrives —
// through four clients, each on its own copy of the fleet:
//
//   - plain: an http.Client over a hand-written round robin;
//   - bulwark: the fleet example's stack (retry with a budget and a 150 ms
//     per-attempt timeout, bulkhead, PeakEWMA picker with ejection, per-host
//     breakers);
//   - failsafe-go: failsafehttp with retry, budget, timeout, bulkhead and a
//     hedge where latency is the fault, over a round robin that skips nodes
//     whose per-node breaker is open;
//   - retryablehttp+gobreaker: go-retryablehttp over the same kind of round
//     robin with a sony/gobreaker per node.
//
// Every protected client gets the same numbers (attempts, backoff, timeout,
// breaker window and open time) wherever its library has the knob; the trip
// rule differs: bulwark's breakers trip on a node that is down or slow and
// leave a node that merely fails often to its picker's ejection, while the
// peers, with neither a slow-call rule nor ejection, trip at 25% failures. For each client it
// reports the success rate, p50/p99/p99.9 latency, load amplification (the
// requests the backends were sent ÷ the requests made) and the time to recover
// after the fault ends, with a time series of success rate and p99.
//
// A server game day (RunServer) sends open-loop arrivals at 50%, 100%, 150%
// and 300% of a fixed-capacity service's measured capacity, then lets it
// recover, with no protection, bulwark's fixed bulkhead, each of bulwark's
// adaptive limiters with its defaults, failsafe-go's adaptive limiter and
// go-concurrency-limits; per phase it reports goodput within a latency
// target, the p99 of successes, the shed rate and the time back to normal.
//
// WriteReport writes the raw data (JSON and CSV), markdown tables and one SVG
// chart per scenario. The command in ./cmd runs the whole game day; the tests
// run a short one.
package gameday
