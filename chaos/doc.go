// Package chaos injects faults on purpose — errors, error statuses,
// latency, dropped connections, truncated bodies, calls that never answer —
// into HTTP clients, HTTP servers and plain functions, so that a test or a
// game day can show what a service does when its dependencies misbehave.
//
// The three-line use, a client whose requests fail 30% of the time with
// 503 and Retry-After: 1:
//
//	flaky, err := chaos.New(chaos.Config{Fault: chaos.Status(503, time.Second), Rate: 0.3})
//	rt, err := chaos.NewTransport(http.DefaultTransport, flaky)
//	client := &http.Client{Transport: rt}
//
// Most users want that: NewTransport around the client of the code under
// test, or NewHandler in front of a test server or a staging backend, with
// a Seed in tests so that the same requests fail on every run.
//
// # Injectors
//
// An Injector is one Fault with the knobs of a fault-injection experiment:
//
//   - Rate, the share of eligible calls it strikes (each call an
//     independent draw);
//   - Target and When, which calls are eligible: by host, path or header
//     (Host, Path, Header) or by any predicate of the request or of the
//     context;
//   - a switch, Enable and Disable, flipped at run time while traffic flows
//     (SetRate ramps the rate);
//   - Seed, which fixes the sequence of draws: the n-th eligible call of an
//     Injector seeded s always draws the same number, so a test that makes
//     its calls in order sees exactly the same faults and delays every run;
//   - Stats, counters of the calls it saw and struck and of the latency it
//     added, and Config.Observer, which is told of every strike and every
//     flip of the switch (see Events).
//
// The faults are Error, Status (with Retry-After), Latency (a Delay drawn
// from Fixed, Uniform, Exponential or Pareto), Reset (a connection reset),
// Truncate (a body cut after N bytes) and Hang (no answer until the
// context ends). The table under Fault says how each one acts on a client,
// a server and a function.
//
// # Wrappers
//
// NewTransport wraps an http.RoundTripper (the client side), NewHandler an
// http.Handler (the server side), and Injector.Do and Call a function.
// Transport and Handler take several injectors, applied in order, so that
// one backend can be slow now and then and fail now and then; they nest
// like any middleware. One Injector may serve several wrappers.
//
// # Events
//
// Config.Observer receives an Event for each strike (EventInjected: which
// fault, the status or the delay it drew, and the request's method and
// host on HTTP), delivered on the struck call's goroutine before the fault
// acts, and for each change of the switch or the rate (EventSwitched,
// EventRateChanged), delivered in the order the changes took effect. The
// observer runs under no lock, may call the Injector back, and cannot
// change what the Injector does: a panic in it is recovered and counted in
// Stats.ObserverPanics. With no Observer a struck call pays one branch; an
// Event is a value, so delivering one allocates nothing.
//
// # Cost and concurrency
//
// Every type is safe for concurrent use. A switched-off Injector costs a
// wrapper one atomic load: no draw, no predicate, no allocation, so chaos
// can stay compiled into a service and be switched on for a game day. A
// switched-on Injector takes no lock; its draw is one atomic add. Faults
// block only the caller's goroutine and never start one: a Latency or Hang
// wait ends with the call's context, leaving nothing behind.
//
// Sequences are deterministic in draw order. Under concurrent calls the
// order of draws is the order in which calls reach the Injector, so the
// share of faults holds but which request gets which draw may vary; a test
// that asserts exact sequences makes its calls from one goroutine.
package chaos
