package gameday

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

// NodeSpec describes one backend of a fleet: the chaos injectors in front of
// its plain handler, in order, and whether its port is closed from the start.
type NodeSpec struct {
	Name   string
	Faults []chaos.Config // the Seed of each is set from the run's seed
	Dead   bool           // a closed port: every connection is refused
}

// serviceTime is every live backend's own latency: 1–3 ms, uniformly, as in
// the fleet example.
func serviceTime() chaos.Config {
	return chaos.Config{Fault: chaos.Latency(chaos.Uniform(time.Millisecond, 3*time.Millisecond))}
}

// spikes delays rate of the requests by d on top of the service time.
func spikes(rate float64, d time.Duration) chaos.Config {
	return chaos.Config{Fault: chaos.Latency(chaos.Fixed(d)), Rate: rate}
}

// unavailable answers rate of the requests 503, with Retry-After when
// retryAfter is positive.
func unavailable(rate float64, retryAfter time.Duration) chaos.Config {
	return chaos.Config{Fault: chaos.Status(http.StatusServiceUnavailable, retryAfter), Rate: rate}
}

// off returns cfg switched off: a scenario's event switches it on.
func off(cfg chaos.Config) chaos.Config {
	cfg.Disabled = true
	return cfg
}

// node is one running backend: an HTTP server on 127.0.0.1 that can be
// killed (its port closed, its connections dropped) and revived on the same
// address.
type node struct {
	name      string
	addr      string
	handler   http.Handler
	injectors []*chaos.Injector

	sent   atomic.Int64 // requests clients sent it, counted in front of the network
	served atomic.Int64 // requests its server read, counted before any fault

	mu   sync.Mutex // guards srv and done
	srv  *http.Server
	done chan struct{}
}

func startNode(spec NodeSpec, seed uint64) (*node, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gameday: listen for %s: %w", spec.Name, err)
	}
	n := &node{name: spec.Name, addr: ln.Addr().String()}
	faults := append([]chaos.Config{serviceTime()}, spec.Faults...)
	for i, cfg := range faults {
		cfg.Seed = seed<<8 | uint64(i+1) // never zero: zero asks for a random seed
		in, err := chaos.New(cfg)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("gameday: %s: %w", spec.Name, err)
		}
		n.injectors = append(n.injectors, in)
	}
	body := []byte(spec.Name + " ok\n")
	plain := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	faulty, err := chaos.NewHandler(plain, n.injectors...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("gameday: %s: %w", spec.Name, err)
	}
	n.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.served.Add(1)
		faulty.ServeHTTP(w, r)
	})
	if spec.Dead {
		return n, ln.Close()
	}
	n.serve(ln)
	return n, nil
}

// fault returns the i-th injector of spec.Faults (0 is the first fault after
// the service time).
func (n *node) fault(i int) *chaos.Injector { return n.injectors[i+1] }

func (n *node) serve(ln net.Listener) {
	srv := &http.Server{Handler: n.handler}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	n.mu.Lock()
	n.srv, n.done = srv, done
	n.mu.Unlock()
}

// kill closes the node's port and every open connection: from now on
// connections are refused, as to a crashed process.
func (n *node) kill() {
	n.mu.Lock()
	srv, done := n.srv, n.done
	n.srv, n.done = nil, nil
	n.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-done
}

// revive listens again on the node's address.
func (n *node) revive() error {
	n.mu.Lock()
	alive := n.srv != nil
	n.mu.Unlock()
	if alive {
		return nil
	}
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		return fmt.Errorf("gameday: revive %s on %s: %w", n.name, n.addr, err)
	}
	n.serve(ln)
	return nil
}

// stop ends the node's server, waiting at most a moment for requests that
// are still running (a fault may hold one).
func (n *node) stop() {
	n.mu.Lock()
	srv, done := n.srv, n.done
	n.srv, n.done = nil, nil
	n.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		srv.Close()
	}
	<-done
}

// fleet is the set of backends one client calls during one scenario run.
type fleet struct {
	nodes  []*node
	byName map[string]*node
	byAddr map[string]*node
}

func startFleet(specs []NodeSpec, seed uint64) (*fleet, error) {
	f := &fleet{byName: map[string]*node{}, byAddr: map[string]*node{}}
	for i, s := range specs {
		n, err := startNode(s, seed*uint64(len(specs)+1)+uint64(i)+1)
		if err != nil {
			f.stop()
			return nil, err
		}
		f.nodes = append(f.nodes, n)
		f.byName[n.name] = n
		f.byAddr[n.addr] = n
	}
	return f, nil
}

func (f *fleet) addrs() []string {
	out := make([]string, len(f.nodes))
	for i, n := range f.nodes {
		out[i] = n.addr
	}
	return out
}

func (f *fleet) node(name string) *node {
	n, ok := f.byName[name]
	if !ok {
		panic("gameday: scenario names unknown node " + name) // a bug in a scenario table
	}
	return n
}

func (f *fleet) stop() {
	for _, n := range f.nodes {
		n.stop()
	}
}

// counting is the innermost layer of every client: it counts each request
// handed to the network, per backend, so that a connection refused by a dead
// node counts as load too.
type counting struct {
	f    *fleet
	next http.RoundTripper
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	if n, ok := c.f.byAddr[req.URL.Host]; ok {
		n.sent.Add(1)
	}
	return c.next.RoundTrip(req)
}
