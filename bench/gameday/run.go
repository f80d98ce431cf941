package gameday

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/failsafe-go/failsafe-go/budget"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/retry"
)

// Options sets the workload of a client game day. The zero Options is the
// full game day's workload.
type Options struct {
	// Rate is the open-loop arrival rate in requests per second: request i
	// is sent at i/Rate whatever happened to the others, as real traffic
	// arrives. 0 means 400.
	Rate float64
	// Timeout is each request's deadline, retries included. 0 means 2 s.
	Timeout time.Duration
	// Seed seeds every fault injector. 0 means 1.
	Seed uint64
	// Bucket is the width of the time series' buckets. 0 means 250 ms.
	Bucket time.Duration
	// Clients are the clients to drive. Nil means the four of Clients, and
	// BulwarkHedge too in a scenario with Hedge.
	Clients []Client
	// Parallel runs the clients at the same time, each on its own fleet
	// (the same seeded faults): faster, but they share the CPU, so the
	// latencies are not for publishing. False runs them one after another.
	Parallel bool
}

func (o Options) withDefaults() Options {
	if o.Rate == 0 {
		o.Rate = 400
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Bucket == 0 {
		o.Bucket = 250 * time.Millisecond
	}
	return o
}

// Result is what one client saw during one scenario.
type Result struct {
	Scenario    string  `json:"scenario"`
	Client      Client  `json:"client"`
	Requests    int     `json:"requests"`  // requests made
	Succeeded   int     `json:"succeeded"` // 200 with the body read in full
	SuccessRate float64 `json:"success_rate"`
	// Latency of every request, successes and failures, as the caller
	// waited for it (milliseconds).
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	// The same over the requests sent during the fault window.
	FaultRequests    int     `json:"fault_requests"`
	FaultSuccessRate float64 `json:"fault_success_rate"`
	FaultP99         float64 `json:"fault_p99_ms"`

	Sent          int64   `json:"sent"`          // requests handed to the network, over the fleet
	Served        int64   `json:"served"`        // requests the backends' servers read
	Amplification float64 `json:"amplification"` // Sent ÷ Requests

	// RecoveryMs is the time from the end of the fault until the client is
	// back to normal (see recovery); -1 for a steady scenario. Recovered
	// is false when it was not back to normal by the end of the run, and
	// RecoveryMs is then the whole remaining time.
	RecoveryMs float64 `json:"recovery_ms"`
	Recovered  bool    `json:"recovered"`

	Nodes       []NodeCount      `json:"nodes"`
	Errors      map[string]int   `json:"errors"`       // failed requests by cause
	ClientStats map[string]int64 `json:"client_stats"` // the client's own counters
	Series      []Point          `json:"series"`
}

// NodeCount is one backend's load during a run.
type NodeCount struct {
	Name   string `json:"name"`
	Sent   int64  `json:"sent"`
	Served int64  `json:"served"`
}

// Point is one bucket of a time series, by the time requests were sent.
type Point struct {
	T           float64 `json:"t_s"` // bucket start, seconds into the run
	Requests    int     `json:"requests"`
	SuccessRate float64 `json:"success_rate"`
	P99         float64 `json:"p99_ms"`
}

// outcome is what the caller saw for one request.
type outcome struct {
	at      time.Duration // when it was due, from the start of the run
	latency time.Duration
	ok      bool
	cause   string // why it failed
}

// RunScenario drives every client of opts through sc and returns one Result
// per client, in the order of opts.Clients.
func RunScenario(ctx context.Context, sc Scenario, opts Options) ([]Result, error) {
	opts = opts.withDefaults()
	if opts.Clients == nil {
		opts.Clients = slices.Clone(Clients)
		if sc.Hedge {
			opts.Clients = slices.Insert(opts.Clients, 2, BulwarkHedge)
		}
	}
	results := make([]Result, len(opts.Clients))
	errs := make([]error, len(opts.Clients))
	runOne := func(i int) { results[i], errs[i] = runClient(ctx, opts.Clients[i], sc, opts) }
	if opts.Parallel {
		var wg sync.WaitGroup
		for i := range opts.Clients {
			wg.Go(func() { runOne(i) })
		}
		wg.Wait()
	} else {
		for i := range opts.Clients {
			runOne(i)
		}
	}
	return results, errors.Join(errs...)
}

func runClient(ctx context.Context, c Client, sc Scenario, opts Options) (Result, error) {
	f, err := startFleet(sc.Nodes, opts.Seed)
	if err != nil {
		return Result{}, err
	}
	defer f.stop()
	b, err := build(c, f, sc)
	if err != nil {
		return Result{}, fmt.Errorf("gameday: build %s: %w", c, err)
	}
	outs, err := drive(ctx, b.http, f, sc, opts)
	b.close()
	if err != nil {
		return Result{}, fmt.Errorf("gameday: %s on %s: %w", c, sc.Name, err)
	}
	f.stop() // every request has returned; the servers' counts are final
	r := summarize(outs, sc, opts.Bucket)
	r.Scenario, r.Client, r.ClientStats = sc.Name, c, b.stats()
	for _, n := range f.nodes {
		r.Nodes = append(r.Nodes, NodeCount{Name: n.name, Sent: n.sent.Load(), Served: n.served.Load()})
		r.Sent += n.sent.Load()
		r.Served += n.served.Load()
	}
	if r.Requests > 0 {
		r.Amplification = float64(r.Sent) / float64(r.Requests)
	}
	return r, nil
}

// drive sends the scenario's open-loop workload through client and fires
// the scenario's events on time. It returns when every request has.
func drive(ctx context.Context, client *http.Client, f *fleet, sc Scenario, opts Options) ([]outcome, error) {
	n := int(sc.Duration.Seconds() * opts.Rate)
	out := make([]outcome, n)
	events := slices.Clone(sc.Events)
	slices.SortStableFunc(events, func(a, b Event) int { return int(a.At - b.At) })
	var evErr error
	fire := func(upTo time.Duration) {
		for len(events) > 0 && events[0].At <= upTo {
			if err := events[0].Do(f); err != nil && evErr == nil {
				evErr = fmt.Errorf("event %q at %v: %w", events[0].What, events[0].At, err)
			}
			events = events[1:]
		}
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; {
		elapsed := time.Since(start)
		fire(elapsed)
		due := min(n, int(elapsed.Seconds()*opts.Rate)+1)
		for ; i < due; i++ {
			j, at := i, time.Duration(float64(i)/opts.Rate*float64(time.Second))
			wg.Go(func() { out[j] = get(ctx, client, j, at, opts.Timeout) })
		}
		time.Sleep(time.Millisecond)
	}
	fire(sc.Duration)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, evErr
}

func get(ctx context.Context, client *http.Client, i int, at, timeout time.Duration) outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	o := outcome{at: at}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://fleet/item/%d", i), nil)
	if err != nil {
		o.cause = "request: " + err.Error()
		return o
	}
	resp, err := client.Do(req)
	if err != nil {
		o.latency, o.cause = time.Since(start), cause(err)
		return o
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	o.latency = time.Since(start)
	switch {
	case err != nil:
		o.cause = "body: " + cause(err)
	case resp.StatusCode != http.StatusOK:
		o.cause = fmt.Sprintf("status %d", resp.StatusCode)
	default:
		o.ok = true
	}
	return o
}

// cause names why a request failed, in a few words shared by all clients.
func cause(err error) string {
	switch {
	case errors.Is(err, bulwark.ErrNotAttempted),
		errors.Is(err, circuitbreaker.ErrOpen), errors.Is(err, gobreaker.ErrOpenState),
		errors.Is(err, gobreaker.ErrTooManyRequests), errors.Is(err, bulkhead.ErrFull):
		return "rejected locally"
	case errors.Is(err, budget.ErrExceeded), errors.Is(err, retry.ErrBudget):
		return "retry budget exceeded"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, timeout.ErrExceeded), isTimeout(err):
		return "timeout"
	}
	return fmt.Sprintf("other (%T)", err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func summarize(outs []outcome, sc Scenario, bucket time.Duration) Result {
	r := Result{Requests: len(outs), Errors: map[string]int{}}
	lat := make([]time.Duration, 0, len(outs))
	var faultLat []time.Duration
	faultOK := 0
	for _, o := range outs {
		lat = append(lat, o.latency)
		if o.ok {
			r.Succeeded++
		} else {
			r.Errors[o.cause]++
		}
		if o.at >= sc.FaultStart && o.at < sc.FaultEnd {
			faultLat = append(faultLat, o.latency)
			if o.ok {
				faultOK++
			}
		}
	}
	r.SuccessRate = ratio(r.Succeeded, r.Requests)
	slices.Sort(lat)
	r.P50, r.P99, r.P999 = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)), ms(percentile(lat, 0.999))
	slices.Sort(faultLat)
	r.FaultRequests, r.FaultSuccessRate, r.FaultP99 = len(faultLat), ratio(faultOK, len(faultLat)), ms(percentile(faultLat, 0.99))
	r.Series = series(outs, sc.Duration, bucket)
	r.RecoveryMs, r.Recovered = recovery(outs, sc, bucket)
	return r
}

// window is the success rate and p99 of the requests due in [from, to).
func window(outs []outcome, from, to time.Duration) (n int, success float64, p99 time.Duration) {
	var lat []time.Duration
	ok := 0
	for _, o := range outs {
		if o.at >= from && o.at < to {
			lat = append(lat, o.latency)
			if o.ok {
				ok++
			}
		}
	}
	slices.Sort(lat)
	return len(lat), ratio(ok, len(lat)), percentile(lat, 0.99)
}

func series(outs []outcome, d, bucket time.Duration) []Point {
	var pts []Point
	for t := time.Duration(0); t < d; t += bucket {
		n, s, p := window(outs, t, t+bucket)
		pts = append(pts, Point{T: t.Seconds(), Requests: n, SuccessRate: s, P99: ms(p)})
	}
	return pts
}

// recovery is the time from the end of the fault to the first moment from
// which the client stays normal for a sustained stretch (1 s, or a third of
// what is left of the run if that is shorter), bucket by bucket. Normal is
// measured against the client's own warm-up (the second half of the time
// before the fault): a success rate no more than one point below it (and at
// least 99% of it), and a p99 no more than twice the warm-up's or 20 ms
// above it, whichever is larger.
func recovery(outs []outcome, sc Scenario, bucket time.Duration) (float64, bool) {
	if sc.Steady() {
		return -1, false
	}
	_, s0, l0 := window(outs, sc.FaultStart/2, sc.FaultStart)
	minSuccess := min(s0-0.01, 0.99*s0)
	maxP99 := max(2*l0, l0+20*time.Millisecond)
	sustain := min(time.Second, (sc.Duration-sc.FaultEnd)/3)
	normal := func(t time.Duration) bool {
		n, s, p := window(outs, t, t+bucket)
		return n == 0 || (s >= minSuccess && p <= maxP99)
	}
	for t := sc.FaultEnd; t+sustain <= sc.Duration; t += bucket {
		ok := true
		for u := t; u < t+sustain && ok; u += bucket {
			ok = normal(u)
		}
		if ok {
			return ms(t - sc.FaultEnd), true
		}
	}
	return ms(sc.Duration - sc.FaultEnd), false
}

// percentile returns the nearest-rank percentile q of sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
