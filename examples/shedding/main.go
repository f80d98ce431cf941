// Command shedding shows server-side load shedding with an adaptive
// concurrency limit: an HTTP server on 127.0.0.1 (ephemeral port) whose
// service has a fixed capacity (a few workers, a fixed service time) is hit by
// an in-process load generator sending twice as many requests per second as it
// can serve, once without protection and once behind
//
//	bulkhead.NewHandler(service, limiter)
//
// with limiter a bulkhead.NewAdaptive (Vegas) limit.
//
// Without shedding every request is accepted and waits in the server's queue:
// the queue grows for as long as the burst lasts, latency climbs toward the
// client timeout, and many clients give up on requests the server then serves
// (or cancels) for nobody. With shedding the limiter learns the service's
// capacity from latency, the excess is answered at once with 503 and
// Retry-After, and the accepted requests keep a latency near the service time.
//
// The program prints, for both runs, goodput (200 responses per second) and
// the p50/p99 latency of the accepted requests, and exits non-zero if its
// sanity check fails: shedding must lower the p99 of accepted requests, must
// shed something, and must keep goodput.
//
//	go run ./examples/shedding [-rate 400] [-duration 2s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/bulkhead"
)

// config is one experiment: the service's capacity and the burst sent at it.
type config struct {
	workers  int           // service concurrency: its hidden capacity
	work     time.Duration // service time of one request
	rate     int           // requests per second sent (open loop)
	duration time.Duration // length of the burst
	timeout  time.Duration // client timeout per request
}

// capacity is the most requests per second the service can complete.
func (c config) capacity() float64 { return float64(c.workers) / c.work.Seconds() }

func main() {
	cfg := config{workers: 4, work: 20 * time.Millisecond, timeout: time.Second}
	flag.IntVar(&cfg.rate, "rate", 400, "requests per second during the burst (capacity is 200)")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Second, "length of each burst")
	flag.Parse()
	if err := run(os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "shedding:", err)
		os.Exit(1)
	}
}

// run sends the burst without and with shedding, prints the report and
// returns the sanity check's verdict.
func run(w io.Writer, cfg config) error {
	plain, err := experiment(cfg, func(h http.Handler) (http.Handler, error) { return h, nil })
	if err != nil {
		return err
	}
	shed, err := experiment(cfg, func(h http.Handler) (http.Handler, error) {
		lim, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{Algorithm: bulkhead.Vegas})
		if err != nil {
			return nil, err
		}
		return bulkhead.NewHandler(h, lim)
	})
	if err != nil {
		return err
	}
	report(w, cfg, plain, shed)
	return check(plain, shed)
}

// service is the protected server: workers slots, each request holding one
// for work. Requests beyond capacity wait in line; a request whose client
// has gone leaves the line (as a Go server's request context is cancelled).
func service(workers int, work time.Duration) http.Handler {
	slots := make(chan struct{}, workers)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		time.Sleep(work)
		<-slots
		_, _ = io.WriteString(w, "ok\n")
	})
}

// experiment starts a server with the wrapped service, sends the burst and
// shuts the server down.
func experiment(cfg config, wrap func(http.Handler) (http.Handler, error)) (result, error) {
	h, err := wrap(service(cfg.workers, cfg.work))
	if err != nil {
		return result{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	return burst("http://"+ln.Addr().String()+"/", cfg), nil
}

// burst sends cfg.rate requests per second for cfg.duration, each on its own
// goroutine (open loop: arrivals do not wait for answers, as with real users),
// and waits for all of them.
func burst(url string, cfg config) result {
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.rate, MaxIdleConns: cfg.rate}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.timeout}
	var (
		mu  sync.Mutex
		res result
		wg  sync.WaitGroup
	)
	total := int(cfg.duration.Seconds() * float64(cfg.rate))
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for sent := 0; sent < total; {
		<-tick.C
		// Catch up to the schedule: a late tick on a busy machine must not
		// lower the offered load.
		for due := min(total, dueBy(time.Since(start), cfg.rate)); sent < due; sent++ {
			wg.Go(func() {
				t0 := time.Now()
				status := get(client, url)
				mu.Lock()
				res.record(status, time.Since(t0))
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// dueBy is how many requests an open-loop sender at rate per second has sent
// after elapsed.
func dueBy(elapsed time.Duration, rate int) int {
	return int(elapsed.Seconds() * float64(rate))
}

// get returns the response status, or 0 if the request failed (timeout).
func get(client *http.Client, url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// result is the outcome of one burst.
type result struct {
	ok, shed, failed int
	accepted         []time.Duration // latency of every 200 response
	elapsed          time.Duration
}

// record files one request: 200 is accepted, 503 shed, anything else
// (including 0, a client-side timeout or error) failed.
func (r *result) record(status int, latency time.Duration) {
	switch status {
	case http.StatusOK:
		r.ok++
		r.accepted = append(r.accepted, latency)
	case http.StatusServiceUnavailable:
		r.shed++
	default:
		r.failed++
	}
}

func (r result) sent() int { return r.ok + r.shed + r.failed }

// goodput is 200 responses per second of the run.
func (r result) goodput() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method, or 0 for no data. ds is not modified.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// report prints both runs side by side.
func report(w io.Writer, cfg config, plain, shed result) {
	fmt.Fprintf(w, "service capacity %.0f req/s (%d workers x %v); burst %d req/s for %v; client timeout %v\n\n",
		cfg.capacity(), cfg.workers, cfg.work, cfg.rate, cfg.duration, cfg.timeout)
	fmt.Fprintf(w, "%-22s %12s %12s\n", "", "no shedding", "shedding")
	row := func(name string, f func(result) string) {
		fmt.Fprintf(w, "%-22s %12s %12s\n", name, f(plain), f(shed))
	}
	row("requests sent", func(r result) string { return fmt.Sprint(r.sent()) })
	row("accepted (200)", func(r result) string { return fmt.Sprint(r.ok) })
	row("shed (503)", func(r result) string { return fmt.Sprint(r.shed) })
	row("failed / timed out", func(r result) string { return fmt.Sprint(r.failed) })
	row("goodput (200/s)", func(r result) string { return fmt.Sprintf("%.0f", r.goodput()) })
	row("p50 accepted", func(r result) string { return percentile(r.accepted, 50).Round(time.Millisecond).String() })
	row("p99 accepted", func(r result) string { return percentile(r.accepted, 99).Round(time.Millisecond).String() })
}

// check is the example's sanity check: shedding must shed, must lower the
// p99 of accepted requests, and must keep at least half the goodput of the
// unprotected server (in practice it matches or beats it).
func check(plain, shed result) error {
	var errs []error
	if shed.shed == 0 {
		errs = append(errs, errors.New("the shedding run shed nothing: the burst did not exceed capacity"))
	}
	if len(shed.accepted) == 0 || len(plain.accepted) == 0 {
		errs = append(errs, errors.New("a run accepted no request"))
	} else if p, s := percentile(plain.accepted, 99), percentile(shed.accepted, 99); s >= p {
		errs = append(errs, fmt.Errorf("p99 of accepted requests with shedding %v, want below %v without", s, p))
	}
	if shed.goodput() < plain.goodput()/2 {
		errs = append(errs, fmt.Errorf("goodput with shedding %.0f/s, want at least half of %.0f/s without",
			shed.goodput(), plain.goodput()))
	}
	return errors.Join(errs...)
}
