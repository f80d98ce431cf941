package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

// plainHandler is the one service every live backend runs: it answers 200
// with the backend's name at once. Service time and faults are chaos
// injectors around it.
func plainHandler(name string) http.Handler {
	body := []byte(name + " ok\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(body)
	})
}

// serviceTime is every live backend's latency: 1–3 ms, uniformly.
var serviceTime = chaos.Config{Fault: chaos.Latency(chaos.Uniform(time.Millisecond, 3*time.Millisecond))}

// latencySpikes delays rate of requests by spike on top of serviceTime.
func latencySpikes(rate float64, spike time.Duration) chaos.Config {
	return chaos.Config{Fault: chaos.Latency(chaos.Fixed(spike)), Rate: rate}
}

// unavailable answers rate of requests with 503 and Retry-After: 1.
func unavailable(rate float64) chaos.Config {
	return chaos.Config{Fault: chaos.Status(http.StatusServiceUnavailable, time.Second), Rate: rate}
}

// spec describes one backend: its injectors over plainHandler, in order
// (service time first), or dead for a port that refuses connections.
type spec struct {
	name   string
	faults []chaos.Config
	dead   bool
}

// scenarios are the fleets -scenario chooses from.
var scenarios = map[string][]spec{
	// The default fleet: two healthy backends, one with 300 ms spikes on 10%
	// of requests, one answering 30% with 503, one dead.
	"default": {
		{name: "healthy-1", faults: []chaos.Config{serviceTime}},
		{name: "healthy-2", faults: []chaos.Config{serviceTime}},
		{name: "slow", faults: []chaos.Config{serviceTime, latencySpikes(0.10, 300*time.Millisecond)}},
		{name: "flaky", faults: []chaos.Config{serviceTime, unavailable(0.30)}},
		{name: "dead", dead: true},
	},
	// The hard fleet: one healthy backend carries what the others drop;
	// the flaky one fails half its requests and two are dead.
	"hard": {
		{name: "healthy", faults: []chaos.Config{serviceTime}},
		{name: "slow", faults: []chaos.Config{serviceTime, latencySpikes(0.10, 300*time.Millisecond)}},
		{name: "flaky", faults: []chaos.Config{serviceTime, unavailable(0.50)}},
		{name: "dead-1", dead: true},
		{name: "dead-2", dead: true},
	},
}

// backend is one member of the local fleet: an HTTP server on 127.0.0.1, the
// chaos injectors in front of its plain handler, and a count of the requests
// clients sent it.
type backend struct {
	name      string
	addr      string // host:port
	injectors []*chaos.Injector
	sent      atomic.Int64 // requests sent to it, counted by countingTransport
	injected  int64        // faults injected up to the last takeHits (service time excluded)
	close     func()
	held      net.Listener // a dead node's port, closed by startFleet
}

// faults returns the faults injected since the last call: latency spikes or
// 503s (the service-time injector, first, is not a fault).
func (b *backend) faults() int64 {
	var n int64
	for _, in := range b.injectors[min(1, len(b.injectors)):] {
		n += in.Stats().Injected
	}
	d := n - b.injected
	b.injected = n
	return d
}

// injectorSeed is the seed of injector j of backend i in a fleet of n
// backends started with seed; never zero (zero asks chaos for a random seed).
func injectorSeed(seed uint64, n, i, j int) uint64 {
	return (seed*uint64(n)+uint64(i))<<8 | uint64(j+1)
}

// startBackend serves s on an ephemeral loopback port until close is called.
// Its injectors' seeds come from seed(j), so a run's faults are reproducible.
func startBackend(s spec, seed func(j int) uint64) (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fleet: listen for %s: %w", s.name, err)
	}
	be := &backend{name: s.name, addr: ln.Addr().String()}
	if s.dead {
		// A node that died after service discovery saw it: its port is
		// closed, so every connection is refused. startFleet closes it once
		// every backend has its port, so that no other backend of the fleet
		// is given the same one.
		be.close = func() {}
		be.held = ln
		return be, nil
	}
	for i, cfg := range s.faults {
		cfg.Seed = seed(i)
		in, err := chaos.New(cfg)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("fleet: %s: %w", s.name, err)
		}
		be.injectors = append(be.injectors, in)
	}
	h, err := chaos.NewHandler(plainHandler(s.name), be.injectors...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("fleet: %s: %w", s.name, err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	be.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close() // a request still waiting on a fault: end it
		}
		<-done
	}
	return be, nil
}

// fleet is the set of backends the demo calls.
type fleet struct {
	scenario string
	backends []*backend
}

// startFleet starts the backends of scenario.
func startFleet(scenario string, seed uint64) (*fleet, error) {
	specs, ok := scenarios[scenario]
	if !ok {
		return nil, fmt.Errorf("-scenario %q unknown; want default or hard", scenario)
	}
	f := &fleet{scenario: scenario}
	for i, s := range specs {
		be, err := startBackend(s, func(j int) uint64 { return injectorSeed(seed, len(specs), i, j) })
		if err != nil {
			f.close()
			return nil, err
		}
		f.backends = append(f.backends, be)
	}
	for _, be := range f.backends {
		if be.held != nil {
			if err := be.held.Close(); err != nil {
				f.close()
				return nil, fmt.Errorf("fleet: close the port of %s: %w", be.name, err)
			}
			be.held = nil
		}
	}
	return f, nil
}

func (f *fleet) addrs() []string {
	out := make([]string, len(f.backends))
	for i, b := range f.backends {
		out[i] = b.addr
	}
	return out
}

// takeHits returns the requests sent to each backend and the faults each
// injected since the last call.
func (f *fleet) takeHits() (hits, faults map[string]int64) {
	hits = make(map[string]int64, len(f.backends))
	faults = make(map[string]int64, len(f.backends))
	for _, b := range f.backends {
		hits[b.name] = b.sent.Swap(0)
		faults[b.name] = b.faults()
	}
	return hits, faults
}

// countingTransport is the innermost layer of both clients: it counts every
// request that goes to the network, per backend, so a connection refused by a
// dead node counts too.
type countingTransport struct {
	byAddr map[string]*atomic.Int64
	base   http.RoundTripper
}

func (f *fleet) counting(base http.RoundTripper) *countingTransport {
	byAddr := make(map[string]*atomic.Int64, len(f.backends))
	for _, b := range f.backends {
		byAddr[b.addr] = &b.sent
	}
	return &countingTransport{byAddr: byAddr, base: base}
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if n, ok := c.byAddr[req.URL.Host]; ok {
		n.Add(1)
	}
	return c.base.RoundTrip(req)
}

func (f *fleet) close() {
	for _, b := range f.backends {
		if b.held != nil {
			b.held.Close()
		}
		b.close()
	}
}
