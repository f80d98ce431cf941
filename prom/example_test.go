package bulwarkprom_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/cache"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/bulwark-go/bulwark/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// A breaker that trips on its first failure reports the failure, the
// transition, the rejection that follows and, through Watch, its state. A
// real program registers the collector with the registry its /metrics
// handler serves (promhttp.HandlerFor); the example prints a few series of
// what a scrape would return.
func ExampleBreaker() {
	reg := prometheus.NewRegistry()
	m := bulwarkprom.Breaker()
	reg.MustRegister(m)
	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 1, Observer: m.Observe})
	if err != nil {
		panic(err)
	}
	defer m.Watch(b)() // the state gauge, until the returned func is called

	ctx := context.Background()
	_ = b.Do(ctx, func(context.Context) error { return errors.New("down") }) // trips the breaker
	_ = b.Do(ctx, func(context.Context) error { return nil })                // rejected: the breaker is open

	printSeries(reg, "bulwark_breaker_calls_total", "bulwark_breaker_rejections_total", "bulwark_breaker_state")
	// Output:
	// # HELP bulwark_breaker_calls_total Calls a circuit breaker admitted that ended, by outcome.
	// # TYPE bulwark_breaker_calls_total counter
	// bulwark_breaker_calls_total{name="payments",outcome="failure"} 1
	// bulwark_breaker_calls_total{name="payments",outcome="ignored"} 0
	// bulwark_breaker_calls_total{name="payments",outcome="success"} 0
	// # HELP bulwark_breaker_rejections_total Calls a circuit breaker or throttle refused, by reason.
	// # TYPE bulwark_breaker_rejections_total counter
	// bulwark_breaker_rejections_total{name="payments",reason="half_open"} 0
	// bulwark_breaker_rejections_total{name="payments",reason="open"} 1
	// bulwark_breaker_rejections_total{name="payments",reason="throttled"} 0
	// # HELP bulwark_breaker_state 1 for the breaker's current state, 0 for the others.
	// # TYPE bulwark_breaker_state gauge
	// bulwark_breaker_state{name="payments",state="closed"} 0
	// bulwark_breaker_state{name="payments",state="half_open"} 0
	// bulwark_breaker_state{name="payments",state="open"} 1
}

// A retrier whose call succeeds at its second attempt reports one call,
// two attempts (the load it caused) and one retry.
func ExampleRetry() {
	reg := prometheus.NewRegistry()
	m := bulwarkprom.Retry()
	reg.MustRegister(m)
	r, err := retry.New(retry.Config{Name: "fetch", MaxAttempts: 3,
		Backoff: retry.Constant(10 * time.Millisecond), Observer: m.Observe})
	if err != nil {
		panic(err)
	}
	failures := 1
	_ = r.Do(context.Background(), func(context.Context) error {
		if failures > 0 {
			failures--
			return errors.New("connection reset")
		}
		return nil
	})

	printSeries(reg, "bulwark_retry_calls_total", "bulwark_retry_attempts_total", "bulwark_retry_retries_total")
	// Output:
	// # HELP bulwark_retry_attempts_total Attempts made by the calls that ended, by the call's outcome.
	// # TYPE bulwark_retry_attempts_total counter
	// bulwark_retry_attempts_total{name="fetch",outcome="failure"} 0
	// bulwark_retry_attempts_total{name="fetch",outcome="success"} 2
	// # HELP bulwark_retry_calls_total Calls through a retry loop that ended, by outcome.
	// # TYPE bulwark_retry_calls_total counter
	// bulwark_retry_calls_total{name="fetch",outcome="failure"} 0
	// bulwark_retry_calls_total{name="fetch",outcome="success"} 1
	// # HELP bulwark_retry_retries_total Retries scheduled, by the reason of the failed attempt.
	// # TYPE bulwark_retry_retries_total counter
	// bulwark_retry_retries_total{name="fetch",reason="error"} 1
	// bulwark_retry_retries_total{name="fetch",reason="not_attempted"} 0
}

// A full bulkhead reports each refusal by reason; Watch adds what Stats
// knows (admissions, slots held, queue, limit) at every scrape.
func ExampleBulkhead() {
	reg := prometheus.NewRegistry()
	m := bulwarkprom.Bulkhead()
	reg.MustRegister(m)
	b, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 1, Observer: m.Observe})
	if err != nil {
		panic(err)
	}
	defer m.Watch("db", b)()

	held, _ := b.TryAcquire()
	defer held.Done(nil)
	_, ok := b.TryAcquire() // refused: the one slot is held
	fmt.Println("second call admitted:", ok)

	printSeries(reg, "bulwark_bulkhead_rejections_total", "bulwark_bulkhead_in_flight")
	// Output:
	// second call admitted: false
	// # HELP bulwark_bulkhead_in_flight Slots held right now.
	// # TYPE bulwark_bulkhead_in_flight gauge
	// bulwark_bulkhead_in_flight{name="db"} 1
	// # HELP bulwark_bulkhead_rejections_total Calls a concurrency limiter refused, by reason.
	// # TYPE bulwark_bulkhead_rejections_total counter
	// bulwark_bulkhead_rejections_total{name="db",reason="full"} 1
	// bulwark_bulkhead_rejections_total{name="db",reason="rate_limited"} 0
	// bulwark_bulkhead_rejections_total{name="db",reason="timeout"} 0
}

// A picker whose node set service discovery emptied refuses its Picks;
// Observe, set as its Config.Observer, counts them. WatchPicker reads the
// per-node series, none here.
func ExampleBalance() {
	reg := prometheus.NewRegistry()
	m := bulwarkprom.Balance()
	reg.MustRegister(m)
	p, err := balance.NewRoundRobin([]string{"10.0.0.1:80"}, balance.Config{Name: "backends", Observer: m.Observe})
	if err != nil {
		panic(err)
	}
	defer bulwarkprom.WatchPicker(m, "backends", p, nil)()

	if err := p.Update(nil); err != nil { // every node left
		panic(err)
	}
	_, err = p.Pick()
	fmt.Println(errors.Is(err, balance.ErrNoNodes))

	printSeries(reg, "bulwark_balance_rejections_total", "bulwark_balance_picks_total")
	// Output:
	// true
	// # HELP bulwark_balance_rejections_total Picks that found no usable node, by reason.
	// # TYPE bulwark_balance_rejections_total counter
	// bulwark_balance_rejections_total{name="backends",reason="no_nodes"} 1
}

// A cache whose Config.Observer is CacheObserver's function times each
// loader call, by kind and outcome; Watch reads its counters and size. The
// example prints the histograms' sample counts (their sums are the
// machine's timings).
func ExampleCacheObserver() {
	reg := prometheus.NewRegistry()
	m := bulwarkprom.Cache()
	reg.MustRegister(m)
	c, err := cache.New(cache.Config[string, string]{Name: "users", Capacity: 100,
		Observer: bulwarkprom.CacheObserver[string](m)})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	defer m.Watch("users", c)()

	ctx := context.Background()
	load := func(_ context.Context, id string) (string, error) { return "user " + id, nil }
	_, _ = c.GetOrLoad(ctx, "1", load) // a miss: the loader runs
	_, _ = c.GetOrLoad(ctx, "1", load) // a hit
	_, _ = c.GetOrLoad(ctx, "2", func(context.Context, string) (string, error) { return "", errors.New("down") })

	text, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, "bulwark_cache_load_duration_seconds")
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "bulwark_cache_load_duration_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// bulwark_cache_load_duration_seconds_count{kind="foreground",name="users",outcome="failure"} 1
	// bulwark_cache_load_duration_seconds_count{kind="foreground",name="users",outcome="success"} 1
}

// printSeries prints the named series of g in the text exposition format.
func printSeries(g prometheus.Gatherer, names ...string) {
	text, err := testutil.GatherAndFormat(g, expfmt.TypeTextPlain, names...)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(text)
}
