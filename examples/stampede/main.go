// Command stampede shows what cache.GetOrLoad does for a slow origin.
//
// First, 1,000 concurrent requests arrive for one cold key. Sent straight to
// the origin they cost 1,000 origin calls; through cache.GetOrLoad the
// first request loads the key and the other 999 wait for that one load, so
// the origin sees a single call.
//
// Second, one client reads the key every few milliseconds across its TTL.
// With a TTL alone the request that finds the key expired waits for the
// origin: a latency spike of one origin round trip at every expiry. With
// Config.StaleFor (stale-while-revalidate) that request gets the stale value
// at once while one background load refreshes it, and latency stays flat.
//
//	go run ./examples/stampede
//
// It finishes in about two seconds and exits with status 1 if any of its
// checks fails: origin calls, a reader waiting a whole origin round trip
// with a TTL alone, and, with StaleFor, the reload running in the background
// (cache.Stats counts it as a refresh, not as a load a reader waited for).
// The checks count events rather than compare latencies, so a slow or busy
// machine cannot make them fail.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/cache"
)

// origin is a slow backend: every fetch takes delay, and it counts calls.
type origin struct {
	delay time.Duration
	calls atomic.Int64
}

func (o *origin) fetch(ctx context.Context, key string) (string, error) {
	n := o.calls.Add(1)
	select {
	case <-time.After(o.delay):
		return fmt.Sprintf("%s@v%d", key, n), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stampede sends n concurrent requests for one cold key through get and
// returns how long the slowest took.
func stampede(ctx context.Context, n int, get func(context.Context, string) (string, error)) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() { _, errs[i] = get(ctx, "cold-key") })
	}
	wg.Wait()
	return time.Since(start), firstError(errs)
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// stampedeResult is one row of the first table.
type stampedeResult struct {
	originCalls int64
	wall        time.Duration
}

func runStampede(ctx context.Context, n int, delay time.Duration, useCache bool) (stampedeResult, error) {
	o := &origin{delay: delay}
	get := o.fetch
	if useCache {
		c, err := cache.New(cache.Config[string, string]{Capacity: 1000, TTL: time.Minute})
		if err != nil {
			return stampedeResult{}, err
		}
		defer c.Close()
		get = func(ctx context.Context, key string) (string, error) { return c.GetOrLoad(ctx, key, o.fetch) }
	}
	wall, err := stampede(ctx, n, get)
	return stampedeResult{originCalls: o.calls.Load(), wall: wall}, err
}

// expiryPlan is the second scenario: one client reads a key every period
// for length, while the key's TTL ends at ttl.
type expiryPlan struct {
	delay, ttl, staleFor, period, length time.Duration
}

// expiryResult summarises request latencies around the expiry.
type expiryResult struct {
	p50, max    time.Duration
	originCalls int64
	requests    int
	// foreground counts loads a reader waited for (the warm-up included);
	// refreshes counts background loads, which nobody waits for.
	foreground, refreshes int64
}

// runExpiry warms the key, then reads it every period and records each
// read's latency; the TTL ends in the middle of the run.
func runExpiry(ctx context.Context, p expiryPlan) (expiryResult, error) {
	o := &origin{delay: p.delay}
	c, err := cache.New(cache.Config[string, string]{Capacity: 1000, TTL: p.ttl, StaleFor: p.staleFor})
	if err != nil {
		return expiryResult{}, err
	}
	defer c.Close()
	if _, err := c.GetOrLoad(ctx, "hot-key", o.fetch); err != nil {
		return expiryResult{}, err
	}
	var latencies []time.Duration
	tick := time.NewTicker(p.period)
	defer tick.Stop()
	for end := time.Now().Add(p.length); time.Now().Before(end); <-tick.C {
		start := time.Now()
		if _, err := c.GetOrLoad(ctx, "hot-key", o.fetch); err != nil {
			return expiryResult{}, err
		}
		latencies = append(latencies, time.Since(start))
	}
	slices.Sort(latencies)
	st := c.Stats()
	return expiryResult{
		foreground:  st.Loads - st.Refreshes,
		refreshes:   st.Refreshes,
		p50:         latencies[len(latencies)/2],
		max:         latencies[len(latencies)-1],
		originCalls: o.calls.Load(),
		requests:    len(latencies),
	}, nil
}

type config struct {
	requests int
	delay    time.Duration
}

// run prints both scenarios to w and returns an error if a check fails.
func run(ctx context.Context, cfg config, w io.Writer) error {
	if cfg.requests < 1 || cfg.delay <= 0 {
		return fmt.Errorf("need -requests >= 1 and -delay > 0, got %d and %v", cfg.requests, cfg.delay)
	}
	fmt.Fprintf(w, "stampede: %d concurrent requests for one cold key, origin takes %v\n", cfg.requests, cfg.delay)
	plain, err := runStampede(ctx, cfg.requests, cfg.delay, false)
	if err != nil {
		return err
	}
	cached, err := runStampede(ctx, cfg.requests, cfg.delay, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  %-22s origin calls %5d   slowest request %v\n", "without cache", plain.originCalls, plain.wall.Round(time.Millisecond))
	fmt.Fprintf(w, "  %-22s origin calls %5d   slowest request %v\n", "with cache.GetOrLoad", cached.originCalls, cached.wall.Round(time.Millisecond))

	plan := expiryPlan{delay: cfg.delay, ttl: 10 * cfg.delay, period: cfg.delay / 10, length: 12 * cfg.delay}
	fmt.Fprintf(w, "\nexpiry: one read every %v for %v, TTL %v ends mid-run\n", plan.period, plan.length, plan.ttl)
	fmt.Fprintf(w, "  %-22s %10s %10s %14s\n", "", "p50", "max", "origin calls")
	ttlOnly, err := runExpiry(ctx, plan)
	if err != nil {
		return err
	}
	plan.staleFor = time.Minute
	swr, err := runExpiry(ctx, plan)
	if err != nil {
		return err
	}
	for _, row := range []struct {
		name string
		r    expiryResult
	}{{"TTL only", ttlOnly}, {"TTL + StaleFor", swr}} {
		fmt.Fprintf(w, "  %-22s %10v %10v %14d\n", row.name, row.r.p50.Round(time.Microsecond), row.r.max.Round(time.Microsecond), row.r.originCalls)
	}
	return check(cfg, plain, cached, ttlOnly, swr)
}

// check states what the run must show; main exits non-zero otherwise.
func check(cfg config, plain, cached stampedeResult, ttlOnly, swr expiryResult) error {
	switch {
	case plain.originCalls != int64(cfg.requests):
		return fmt.Errorf("without cache: %d origin calls, want %d", plain.originCalls, cfg.requests)
	case cached.originCalls != 1:
		return fmt.Errorf("with GetOrLoad: %d origin calls, want 1", cached.originCalls)
	case ttlOnly.originCalls != 2 || swr.originCalls != 2:
		return fmt.Errorf("expiry: origin calls %d and %d, want 2 each (warm-up, one reload)", ttlOnly.originCalls, swr.originCalls)
	case ttlOnly.max < cfg.delay:
		return fmt.Errorf("TTL only: max latency %v, want a reader to wait >= %v for the reload", ttlOnly.max, cfg.delay)
	case ttlOnly.foreground != 2 || ttlOnly.refreshes != 0:
		return fmt.Errorf("TTL only: %d foreground loads and %d refreshes, want 2 and 0", ttlOnly.foreground, ttlOnly.refreshes)
	case swr.foreground != 1 || swr.refreshes != 1:
		return fmt.Errorf("TTL + StaleFor: %d foreground loads and %d refreshes, want 1 (the warm-up) and 1 (no reader waited)",
			swr.foreground, swr.refreshes)
	}
	return nil
}

func main() {
	cfg := config{}
	flag.IntVar(&cfg.requests, "requests", 1000, "concurrent requests for the cold key")
	flag.DurationVar(&cfg.delay, "delay", 50*time.Millisecond, "origin latency")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stampede: check failed:", err)
		os.Exit(1)
	}
	fmt.Println("\nall checks passed")
}
