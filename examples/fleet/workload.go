package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// outcome is what the caller saw for one request.
type outcome struct {
	ok      bool
	latency time.Duration
}

// runWorkload sends n GETs from workers goroutines through client and returns
// one outcome per request. A request succeeds when it gets a 200 with its body
// read in full. Each request has perRequest to finish, so the run is bounded.
func runWorkload(ctx context.Context, client *http.Client, n, workers int, perRequest time.Duration) []outcome {
	out := make([]outcome, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				out[i] = get(ctx, client, fmt.Sprintf("http://fleet/item/%d", i), perRequest)
			}
		}()
	}
	wg.Wait()
	return out
}

func get(ctx context.Context, client *http.Client, url string, timeout time.Duration) outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return outcome{latency: time.Since(start)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return outcome{latency: time.Since(start)}
	}

	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return outcome{ok: err == nil && resp.StatusCode == http.StatusOK, latency: time.Since(start)}
}

// summary condenses a run for the report.
type summary struct {
	requests      int
	succeeded     int
	p50, p90, p99 time.Duration
	hits          map[string]int64 // requests sent to each backend (refused connections included)
	faults        map[string]int64 // faults each backend injected (spikes, 503s)
	retries       int64            // extra attempts the client sent
	trips         int64            // times a breaker opened
}

// sent is the number of requests the backends were sent, over the fleet.
func (s summary) sent() int64 {
	var n int64
	for _, h := range s.hits {
		n += h
	}
	return n
}

// amplification is the load amplification: requests the backends were sent
// for each request the caller made (1 means no extra load from retries).
func (s summary) amplification() float64 {
	if s.requests == 0 {
		return 0
	}
	return float64(s.sent()) / float64(s.requests)
}

func (s summary) successRate() float64 {
	if s.requests == 0 {
		return 0
	}
	return float64(s.succeeded) / float64(s.requests)
}

func summarize(outs []outcome) summary {
	s := summary{requests: len(outs)}
	lat := make([]time.Duration, len(outs))
	for i, o := range outs {
		if o.ok {
			s.succeeded++
		}
		lat[i] = o.latency
	}
	slices.Sort(lat)
	s.p50, s.p90, s.p99 = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	return s
}

// percentile returns the nearest-rank percentile q of sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// newPlainClient is the baseline: an http.Client that round-robins over the
// fleet, with no other protection.
// The returned func closes its idle connections.
func newPlainClient(f *fleet, workers int) (*http.Client, func()) {
	network := &http.Transport{MaxIdleConnsPerHost: workers}
	return &http.Client{Transport: &roundRobin{addrs: f.addrs(), base: f.counting(network)}}, network.CloseIdleConnections
}

// roundRobin is the plain client's load balancing: the hand-written loop most
// services start with, rewriting each request to the next backend in turn.
type roundRobin struct {
	addrs []string
	next  atomic.Uint64
	base  http.RoundTripper
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	addr := rr.addrs[(rr.next.Add(1)-1)%uint64(len(rr.addrs))]
	out := req.Clone(req.Context())
	out.URL.Host = addr
	out.Host = addr
	return rr.base.RoundTrip(out)
}
