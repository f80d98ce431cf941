// Command stack records OpenTelemetry metrics for a small client stack: a
// retrying, bulkheaded, load-balanced HTTP client with one circuit breaker
// per backend, calling three local backends of which one always answers
// 503, and a cache of pages loaded through that client. The meter provider
// exports through OpenTelemetry's Prometheus exporter, so the program can
// serve /metrics on a loopback port; it sends a few dozen requests, reads
// some pages twice through the cache, then sends one more request after
// every backend has left the picker (refused: no nodes) and a few once
// they are back, scrapes itself once, prints the interesting series and
// exits (non-zero if the numbers do not add up). An OTLP exporter would
// take the same instruments unchanged.
//
//	go run ./examples/stack
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/cache"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/bulwark-go/bulwark/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

const (
	requests = 40
	pages    = 8 // distinct pages, each read twice through the cache
	after    = 6 // requests once the backends are back
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	// Three backends on loopback; the last always answers 503.
	var nodes []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if i == 2 {
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}))
		defer srv.Close()
		nodes = append(nodes, strings.TrimPrefix(srv.URL, "http://"))
	}

	// An SDK meter provider exporting to a Prometheus registry.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	meter := provider.Meter("github.com/bulwark-go/bulwark/otel/examples/stack")

	// One metrics value per building block.
	breakers, err := bulwarkotel.Breaker(meter)
	if err != nil {
		return err
	}
	limits, err := bulwarkotel.Bulkhead(meter)
	if err != nil {
		return err
	}
	picks, err := bulwarkotel.Balance(meter)
	if err != nil {
		return err
	}
	retries, err := bulwarkotel.Retry(meter)
	if err != nil {
		return err
	}
	caches, err := bulwarkotel.Cache(meter)
	if err != nil {
		return err
	}

	// The stack, outside in: retry → bulkhead → balance → breaker, each
	// with its metrics' Observe in its Config and watched for gauges.
	group, err := breaker.NewGroup(breaker.Config{Name: "backends", ConsecutiveFailures: 3,
		OpenFor: time.Minute, Observer: breakers.Observe}, breaker.GroupConfig{})
	if err != nil {
		return err
	}
	if _, err := breakers.WatchGroup(group); err != nil {
		return err
	}
	picker, err := balance.NewRoundRobin(nodes, balance.Config{Name: "backends", Observer: picks.Observe})
	if err != nil {
		return err
	}
	if _, err := bulwarkotel.WatchPicker(picks, "backends", picker, nil); err != nil {
		return err
	}
	limit, err := bulkhead.New(bulkhead.Config{Name: "client", MaxConcurrent: 8, Observer: limits.Observe})
	if err != nil {
		return err
	}
	if _, err := limits.Watch("client", limit); err != nil {
		return err
	}
	retrier, err := retry.New(retry.Config{Name: "client", MaxAttempts: 3,
		Backoff: retry.Constant(time.Millisecond), Observer: retries.Observe})
	if err != nil {
		return err
	}
	var rt http.RoundTripper
	if rt, err = breaker.NewTransport(nil, group); err != nil {
		return err
	}
	if rt, err = balance.NewTransport(rt, picker); err != nil {
		return err
	}
	if rt, err = bulkhead.NewTransport(rt, limit); err != nil {
		return err
	}
	if rt, err = retry.NewTransport(rt, retrier); err != nil {
		return err
	}
	client := &http.Client{Transport: rt, Timeout: 5 * time.Second}

	ok := 0
	for range requests {
		resp, err := client.Get("http://backend/")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		}
	}
	fmt.Fprintf(out, "%d/%d requests succeeded\n", ok, requests)

	// A cache of pages loaded through the same client: the first read of
	// each page is a load (timed in bulwark.cache.load.duration), the
	// second a hit.
	pageCache, err := cache.New(cache.Config[string, string]{Name: "pages", Capacity: 2 * pages,
		Observer: bulwarkotel.CacheObserver[string](caches)})
	if err != nil {
		return err
	}
	defer pageCache.Close()
	if _, err := caches.Watch("pages", pageCache); err != nil {
		return err
	}
	fetch := func(ctx context.Context, path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://backend"+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return string(body), nil
	}
	for range 2 {
		for i := range pages {
			if _, err := pageCache.GetOrLoad(context.Background(), fmt.Sprint("/page/", i), fetch); err != nil {
				return err
			}
		}
	}
	st := pageCache.Stats()
	fmt.Fprintf(out, "pages: %d loads, %d hits\n", st.Loads, st.Hits)

	// Every backend leaves (service discovery reports none): a request now
	// finds no node, which the picker reports and Observe counts.
	if err := picker.Update(nil); err != nil {
		return err
	}
	if resp, err := client.Get("http://backend/"); err == nil {
		resp.Body.Close()
		return errors.New("a request with no backend succeeded")
	} else if !errors.Is(err, balance.ErrNoNodes) {
		return fmt.Errorf("a request with no backend: %w, want balance.ErrNoNodes", err)
	}

	// The backends come back. Nodes that left and returned start with fresh
	// counters, so the per-node series count only these requests. The
	// failing backend's breaker is still open: the picker sees its refusal
	// as a local rejection, holds the node while the breaker stays open,
	// and the retrier moves on to another node.
	if err := picker.Update(nodes); err != nil {
		return err
	}
	for range after {
		resp, err := client.Get("http://backend/")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("a request after the backends came back: %s", resp.Status)
		}
	}
	fmt.Fprintf(out, "%d/%d requests succeeded after the backends came back\n", after, after)

	// Serve /metrics, scrape it once, stop.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	fmt.Fprintf(out, "GET http://%s/metrics: %s; the non-zero bulwark series:\n", ln.Addr(), resp.Status)
	return printSeries(out, resp.Body, nodes[0], nodes[2])
}

// printSeries prints the non-zero samples of the bulwark series (histogram
// buckets left out) and checks that the failing node's breaker is open,
// that the retrier counted every request and page load as a call, that
// every page load was timed, that the request with no backend was counted
// as a rejection, that a healthy node's picks and the failing node's local
// rejections are reported.
func printSeries(out io.Writer, body io.Reader, good, bad string) error {
	open, counted, timed, rejected, picked, refused := false, false, false, false, false, false
	calls := fmt.Sprintf(`bulwark_retry_calls_total{name="client",outcome="success"} %d`, requests+pages+after)
	picks := fmt.Sprintf(`bulwark_balance_picks_total{name="backends",node="%s"} `, good)
	localRejections := fmt.Sprintf(`bulwark_balance_local_rejections_total{name="backends",node="%s"} `, bad)
	loads := fmt.Sprintf(`bulwark_cache_load_duration_seconds_count{kind="foreground",name="pages",outcome="success"} %d`, pages)
	const rejections = `bulwark_balance_rejections_total{name="backends",reason="no_nodes"} `
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "bulwark_") || strings.Contains(line, "_bucket{") || strings.HasSuffix(line, " 0") {
			continue
		}
		fmt.Fprintln(out, "  "+line)
		if strings.HasPrefix(line, "bulwark_breaker_state") && strings.Contains(line, `name="backends/`+bad+`"`) &&
			strings.Contains(line, `state="open"`) && strings.HasSuffix(line, " 1") {
			open = true
		}
		counted = counted || line == calls
		timed = timed || line == loads
		rejected = rejected || (strings.HasPrefix(line, rejections) && !strings.HasSuffix(line, " 0"))
		picked = picked || strings.HasPrefix(line, picks) // a zero is not printed
		refused = refused || strings.HasPrefix(line, localRejections)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !open {
		return errors.New("the failing backend's breaker is not reported open")
	}
	if !counted {
		return fmt.Errorf("no series %q", calls)
	}
	if !timed {
		return fmt.Errorf("no series %q", loads)
	}
	if !rejected {
		return fmt.Errorf("no series %q above 0", rejections)
	}
	if !picked {
		return fmt.Errorf("no series %q above 0", picks)
	}
	if !refused {
		return fmt.Errorf("no series %q above 0", localRejections)
	}
	return nil
}
