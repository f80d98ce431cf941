// Command fleet is bulwark's main demo: a client calling a small local fleet of
// unreliable HTTP backends, first through a plain round-robin http.Client and
// then through the bulwark stack, with the results side by side.
//
// The fleet runs in this process on 127.0.0.1: two healthy backends, one whose
// responses spike to 300 ms 10% of the time, one that answers 503 with
// Retry-After: 1 to 30% of requests, and one whose port refuses connections.
//
// The bulwark client nests, from the outside in: a retry transport (three
// attempts, jittered backoff, a shared retry budget, Retry-After honoured but
// capped, 150 ms per attempt), a bulkhead (bounded concurrency and queue), a PeakEWMA picker with
// outlier ejection (a fresh backend for every attempt), and a per-host circuit
// breaker group in front of the network.
//
// Expected outcome: the plain client loses about a quarter of its requests
// (every request to the dead node, 30% of the flaky node's) and its p99 is the
// slow node's 300 ms spike; the bulwark client succeeds on (nearly) every
// request with a lower p99, because ejection and breakers take the dead and
// flaky nodes out, retries cover the failures that happen before they do, and
// PeakEWMA steers load away from the slow node. The program exits non-zero if
// the bulwark column does not win on both success rate and p99.
//
//	go run ./examples/fleet [-requests 2000] [-workers 32] [-seed 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	requests := flag.Int("requests", 2000, "requests per run")
	workers := flag.Int("workers", 32, "concurrent workers")
	seed := flag.Uint64("seed", 1, "seed for the backends' injected faults")
	flag.Parse()
	if err := run(os.Stdout, *requests, *workers, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// run starts the fleet, sends the workload through both clients, prints the
// comparison and reports an error when bulwark does not win.
func run(w io.Writer, requests, workers int, seed uint64) error {
	if requests < 1 || workers < 1 {
		return fmt.Errorf("-requests %d and -workers %d must both be at least 1", requests, workers)
	}
	f, err := startFleet(seed)
	if err != nil {
		return err
	}
	defer f.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const perRequest = 2 * time.Second

	fmt.Fprintf(w, "fleet: %d backends on loopback, %d GETs from %d workers per client\n\n", len(f.backends), requests, workers)

	plain, closePlain := newPlainClient(f, workers)
	defer closePlain()
	plainSum := summarize(runWorkload(ctx, plain, requests, workers, perRequest))
	plainSum.hits = f.takeHits()

	stack, err := newStack(f.addrs(), workers, f.counting)
	if err != nil {
		return err
	}
	defer stack.close()
	bulwarkSum := summarize(runWorkload(ctx, stack.client, requests, workers, perRequest))
	bulwarkSum.hits = f.takeHits()
	bulwarkSum.retries, bulwarkSum.trips = stack.retries(), stack.trips.Load()

	printReport(w, f, plainSum, bulwarkSum)
	return verdict(plainSum, bulwarkSum)
}

// verdict is the demo's own check: bulwark must win on success rate and p99.
func verdict(plain, bulwark summary) error {
	if bulwark.successRate() <= plain.successRate() {
		return fmt.Errorf("bulwark success rate %.1f%% is not above plain %.1f%%", 100*bulwark.successRate(), 100*plain.successRate())
	}
	if bulwark.p99 >= plain.p99 {
		return fmt.Errorf("bulwark p99 %v is not below plain %v", bulwark.p99, plain.p99)
	}
	return nil
}

func printReport(w io.Writer, f *fleet, plain, bulwark summary) {
	row := func(label, a, b string) { fmt.Fprintf(w, "%-26s %14s %14s\n", label, a, b) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	row("", "plain", "bulwark")
	row("success rate", fmt.Sprintf("%.1f%%", 100*plain.successRate()), fmt.Sprintf("%.1f%%", 100*bulwark.successRate()))
	row("p50 latency", ms(plain.p50), ms(bulwark.p50))
	row("p90 latency", ms(plain.p90), ms(bulwark.p90))
	row("p99 latency", ms(plain.p99), ms(bulwark.p99))
	for _, b := range f.backends {
		row("requests to "+b.name, fmt.Sprint(plain.hits[b.name]), fmt.Sprint(bulwark.hits[b.name]))
	}
	row("retries spent", fmt.Sprint(plain.retries), fmt.Sprint(bulwark.retries))
	row("breaker trips", fmt.Sprint(plain.trips), fmt.Sprint(bulwark.trips))
}
