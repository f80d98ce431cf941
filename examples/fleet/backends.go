package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// backend is one member of the local fleet: an HTTP server on 127.0.0.1 with an
// injected behaviour, and a count of the requests clients sent it.
type backend struct {
	name  string
	addr  string       // host:port
	sent  atomic.Int64 // requests sent to it, counted by countingTransport
	close func()
}

// behaviour decides how a backend answers one request. It may sleep (latency
// spike) and returns the status code to send.
type behaviour func(rnd func() float64) (delay time.Duration, status int)

func healthy(rnd func() float64) (time.Duration, int) {
	return time.Duration(1+rnd()*2) * time.Millisecond, http.StatusOK
}

// slowSpikes answers like a healthy backend, except spikeRate of responses take spike.
func slowSpikes(spikeRate float64, spike time.Duration) behaviour {
	return func(rnd func() float64) (time.Duration, int) {
		if rnd() < spikeRate {
			return spike, http.StatusOK
		}
		return healthy(rnd)
	}
}

// flaky answers 503 with Retry-After: 1 for failRate of requests.
func flaky(failRate float64) behaviour {
	return func(rnd func() float64) (time.Duration, int) {
		if rnd() < failRate {
			return time.Millisecond, http.StatusServiceUnavailable
		}
		return healthy(rnd)
	}
}

// lockedRand is a seeded source shared by a backend's handler goroutines.
type lockedRand struct {
	mu  sync.Mutex
	rnd *rand.Rand
}

func (r *lockedRand) Float64() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rnd.Float64()
}

// startBackend serves b on an ephemeral loopback port until close is called.
func startBackend(name string, seed uint64, b behaviour) (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fleet: listen for %s: %w", name, err)
	}
	be := &backend{name: name, addr: ln.Addr().String()}
	rnd := &lockedRand{rnd: rand.New(rand.NewPCG(seed, uint64(len(name))))}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delay, status := b(rnd.Float64)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %d\n", name, status)
	})}
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
		_ = srv.Shutdown(ctx)
		<-done
	}
	return be, nil
}

// startDeadBackend reserves a loopback port and closes it at once, so every
// connection to it is refused: a node that died after service discovery saw it.
func startDeadBackend(name string) (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fleet: listen for %s: %w", name, err)
	}
	be := &backend{name: name, addr: ln.Addr().String(), close: func() {}}
	return be, ln.Close()
}

// fleet is the set of backends the demo calls.
type fleet struct {
	backends []*backend
}

// startFleet starts two healthy backends, one with latency spikes, one flaky
// and one dead.
func startFleet(seed uint64) (*fleet, error) {
	f := &fleet{}
	specs := []struct {
		name string
		b    behaviour
	}{
		{"healthy-1", healthy},
		{"healthy-2", healthy},
		{"slow", slowSpikes(0.10, 300*time.Millisecond)},
		{"flaky", flaky(0.30)},
	}
	for i, s := range specs {
		be, err := startBackend(s.name, seed+uint64(i), s.b)
		if err != nil {
			f.close()
			return nil, err
		}
		f.backends = append(f.backends, be)
	}
	dead, err := startDeadBackend("dead")
	if err != nil {
		f.close()
		return nil, err
	}
	f.backends = append(f.backends, dead)
	return f, nil
}

func (f *fleet) addrs() []string {
	out := make([]string, len(f.backends))
	for i, b := range f.backends {
		out[i] = b.addr
	}
	return out
}

// takeHits returns the requests sent to each backend since the last call, and
// resets the counts.
func (f *fleet) takeHits() map[string]int64 {
	out := make(map[string]int64, len(f.backends))
	for _, b := range f.backends {
		out[b.name] = b.sent.Swap(0)
	}
	return out
}

// countingTransport is the innermost layer of both clients: it counts every
// request that goes to the network, per backend, so a connection refused by the
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
		b.close()
	}
}
