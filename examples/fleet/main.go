// Command fleet is bulwark's main demo: a client calling a small local fleet of
// unreliable HTTP backends, first through a plain round-robin http.Client and
// then through the bulwark stack, with the results side by side.
//
// The fleet runs in this process on 127.0.0.1. Every live backend is the same
// plain handler behind package chaos's fault injectors (seeded, so a run's
// faults are reproducible): a 1–3 ms service time, and on some backends
// 300 ms latency spikes or 503 answers with Retry-After: 1. A dead backend is
// a closed port that refuses connections. Two fleets, chosen with -scenario:
//
//	default  2 healthy, 1 slow (10% of responses spike to 300 ms),
//	         1 flaky (30% answered 503), 1 dead
//	hard     1 healthy, 1 slow (the same spikes), 1 flaky (50% answered 503),
//	         2 dead
//
// The bulwark client nests, from the outside in: a retry transport (three
// attempts, jittered backoff, a shared retry budget, Retry-After honoured but
// capped, 150 ms per attempt), a bulkhead (bounded concurrency and queue), a
// PeakEWMA picker with outlier ejection (a fresh backend for every attempt),
// and a per-host circuit breaker group in front of the network that trips on
// a backend that is down or slow.
//
// Expected outcome: the plain client loses every request it sends to a dead
// node and the flaky node's share of 503s (about a quarter of its requests
// on the default fleet, half on the hard one), and its p99 is the slow node's
// 300 ms spike. The bulwark client succeeds on (nearly) every request with a
// lower p99: breakers take the dead node and the slow one out of the
// rotation, ejection the flaky one, retries cover the failures that happen
// before they do, and PeakEWMA and the per-attempt timeout steer load away
// from the slow node until its breaker opens.
// The price is load amplification, the requests the backends were sent for
// each request made, which the report shows. The program prints a verdict
// and exits non-zero if bulwark does not win on both success rate and p99.
//
//	go run ./examples/fleet [-scenario default|hard] [-requests 2000] [-workers 32] [-seed 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// The default workload, which the test runs too.
const (
	defaultRequests = 2000
	defaultWorkers  = 32
)

func main() {
	scenario := flag.String("scenario", "default", "the fleet: default or hard")
	requests := flag.Int("requests", defaultRequests, "requests per run")
	workers := flag.Int("workers", defaultWorkers, "concurrent workers")
	seed := flag.Uint64("seed", 1, "seed for the backends' injected faults")
	flag.Parse()
	if err := run(os.Stdout, *scenario, *requests, *workers, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// run starts the fleet, sends the workload through both clients, prints the
// comparison and the verdict, and reports an error when bulwark does not win.
func run(w io.Writer, scenario string, requests, workers int, seed uint64) error {
	if requests < 1 || workers < 1 {
		return fmt.Errorf("-requests %d and -workers %d must both be at least 1", requests, workers)
	}
	f, err := startFleet(scenario, seed)
	if err != nil {
		return err
	}
	defer f.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	fmt.Fprintf(w, "fleet %q: %d backends on loopback, %d GETs from %d workers per client\n\n", scenario, len(f.backends), requests, workers)
	plain, bulwark, err := compare(ctx, f, requests, workers, 2*time.Second)
	if err != nil {
		return err
	}
	printReport(w, f, plain, bulwark)
	err = verdict(plain, bulwark)
	if err != nil {
		fmt.Fprintf(w, "\nverdict: bulwark does not win: %v\n", err)
		return err
	}
	fmt.Fprintf(w, "\nverdict: bulwark wins: success %s vs %s, p99 %s vs %s, load amplification %.2f\n",
		percent(bulwark.successRate()), percent(plain.successRate()), ms(bulwark.p99), ms(plain.p99), bulwark.amplification())
	return nil
}

// compare sends the workload through the plain client, then through the
// bulwark stack, and returns what each saw.
func compare(ctx context.Context, f *fleet, requests, workers int, perRequest time.Duration) (plain, bulwark summary, err error) {
	plainClient, closePlain := newPlainClient(f, workers)
	defer closePlain()
	plain = summarize(runWorkload(ctx, plainClient, requests, workers, perRequest))
	plain.hits, plain.faults = f.takeHits()

	stack, err := newStack(f.addrs(), workers, f.counting)
	if err != nil {
		return plain, bulwark, err
	}
	defer stack.close()
	bulwark = summarize(runWorkload(ctx, stack.client, requests, workers, perRequest))
	bulwark.hits, bulwark.faults = f.takeHits()
	bulwark.retries, bulwark.trips = stack.retries(), stack.trips.Load()
	return plain, bulwark, nil
}

// verdict is the demo's own check: bulwark must win on success rate and p99.
func verdict(plain, bulwark summary) error {
	if bulwark.successRate() <= plain.successRate() {
		return fmt.Errorf("bulwark success rate %s is not above plain %s", percent(bulwark.successRate()), percent(plain.successRate()))
	}
	if bulwark.p99 >= plain.p99 {
		return fmt.Errorf("bulwark p99 %v is not below plain %v", bulwark.p99, plain.p99)
	}
	return nil
}

func percent(r float64) string  { return fmt.Sprintf("%.2f%%", 100*r) }
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func printReport(w io.Writer, f *fleet, plain, bulwark summary) {
	row := func(label, a, b string) { fmt.Fprintf(w, "%-28s %14s %14s\n", label, a, b) }
	row("", "plain", "bulwark")
	row("success rate", percent(plain.successRate()), percent(bulwark.successRate()))
	row("p50 latency", ms(plain.p50), ms(bulwark.p50))
	row("p90 latency", ms(plain.p90), ms(bulwark.p90))
	row("p99 latency", ms(plain.p99), ms(bulwark.p99))
	for _, b := range f.backends {
		row("requests to "+b.name, fmt.Sprint(plain.hits[b.name]), fmt.Sprint(bulwark.hits[b.name]))
		if plain.faults[b.name]+bulwark.faults[b.name] > 0 {
			row("  faults injected", fmt.Sprint(plain.faults[b.name]), fmt.Sprint(bulwark.faults[b.name]))
		}
	}
	row("requests to the fleet", fmt.Sprint(plain.sent()), fmt.Sprint(bulwark.sent()))
	row("load amplification", fmt.Sprintf("%.2f", plain.amplification()), fmt.Sprintf("%.2f", bulwark.amplification()))
	row("retries spent", fmt.Sprint(plain.retries), fmt.Sprint(bulwark.retries))
	row("breaker trips", fmt.Sprint(plain.trips), fmt.Sprint(bulwark.trips))
	fmt.Fprintf(w, "\nThe per-backend counts add up to more than the %d requests because bulwark\n"+
		"retries a failed attempt on another backend: one request may reach two or\n"+
		"three backends. Load amplification is requests to the fleet ÷ requests made\n"+
		"(a refused connection counts: it was sent).\n", bulwark.requests)
}
