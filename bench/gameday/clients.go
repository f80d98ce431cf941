package gameday

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	fsbudget "github.com/failsafe-go/failsafe-go/budget"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/retry"
)

// Client names one of the four clients a client game day drives.
type Client string

const (
	Plain     Client = "plain"                   // http.Client over a round robin, nothing else
	Bulwark   Client = "bulwark"                 // the fleet example's stack
	Failsafe  Client = "failsafe-go"             // failsafehttp: retry, budget, timeout, bulkhead, per-node breakers
	Retryable Client = "retryablehttp+gobreaker" // go-retryablehttp over per-node sony/gobreaker

	// BulwarkHedge is the bulwark stack with a hedge (retry.NewHedgeTransport,
	// 50 ms, one hedge, the same budget) between retry and bulkhead: the
	// setting that answers failsafe-go's hedge where a scenario has one.
	BulwarkHedge Client = "bulwark+hedge"
)

// Clients lists the four clients every scenario drives, in report order;
// a scenario with Hedge adds BulwarkHedge.
var Clients = []Client{Plain, Bulwark, Failsafe, Retryable}

// The settings every protected client shares, those of the fleet example's
// stack; a peer gets the same number wherever its library has the knob.
const (
	workers        = 32                     // bulkhead slots (and as many queued), idle connections per host
	maxAttempts    = 3                      // first attempt and two retries
	backoffBase    = 5 * time.Millisecond   // exponential backoff from here …
	backoffMax     = 50 * time.Millisecond  // … to here; also the cap on Retry-After
	attemptTimeout = 150 * time.Millisecond // per attempt, headers and body
	breakerWindow  = 20                     // calls in the breaker's window
	breakerMin     = 10                     // calls before it may trip
	breakerRate    = 0.25                   // failure rate that trips the peers' breakers
	breakerOpenFor = 2 * time.Second        // open time before probing
	hedgeDelay     = 50 * time.Millisecond  // failsafe-go's hedge, where the scenario has one
)

// The bulwark stack's trip rule, the fleet example's: its breakers trip on a
// node that is down (90% failures) or slow (a quarter of the calls taking
// 100 ms or more, two thirds of the attempt timeout, which a timed-out
// attempt counts as too), and leave a node that merely fails often to the
// picker, whose failure penalty and ejection compare it with the others.
// The peers' breakers keep breakerRate: they have no slow-call rule and no
// ejection, so their breaker is the only thing that takes a degraded node
// out of their round robin.
const (
	bulwarkDownRate = 0.9
	bulwarkSlowCall = 100 * time.Millisecond
	bulwarkSlowRate = 0.25
)

// built is a client ready to run, and what to do when the run ends.
type built struct {
	http  *http.Client
	close func()
	stats func() map[string]int64 // client-side counters for the report (retries, breaker trips …)
}

func network() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: workers, MaxIdleConns: 4 * workers}
}

func build(c Client, f *fleet, sc Scenario) (built, error) {
	switch c {
	case Plain:
		return buildPlain(f), nil
	case Bulwark:
		return buildBulwark(f, false)
	case BulwarkHedge:
		return buildBulwark(f, true)
	case Failsafe:
		return buildFailsafe(f, sc.Hedge), nil
	case Retryable:
		return buildRetryable(f), nil
	}
	return built{}, fmt.Errorf("gameday: client %q unknown", c)
}

// buildPlain is the baseline: the hand-written round robin most services
// start with.
func buildPlain(f *fleet) built {
	net := network()
	nodes := make([]rrNode, len(f.nodes))
	for i, n := range f.nodes {
		nodes[i] = rrNode{addr: n.addr, rt: &counting{f: f, next: net}}
	}
	return built{
		http:  &http.Client{Transport: &roundRobin{nodes: nodes}},
		close: net.CloseIdleConnections,
		stats: func() map[string]int64 { return nil },
	}
}

// buildBulwark nests, from the outside in, as the fleet example does:
//
//	retry      3 attempts, 5–50 ms full-jitter backoff, a shared token budget
//	           (100 tokens, ratio 0.1); Retry-After honoured, capped at 50 ms;
//	           150 ms per attempt
//	bulkhead   32 in flight, 32 queued
//	balance    PeakEWMA with ejection after 3 consecutive failures, or 3
//	           answers in a row 5× slower than the nodes' median, for 10 s;
//	           at most 60% of the nodes ejected
//	breaker    per host: 90% failures, or a quarter of the calls taking
//	           100 ms or more, over the last 20 calls (10 at least) open it
//	           for 2 s
//
// With hedge, a hedge transport (a second attempt after 50 ms, under the
// same budget) sits between retry and bulkhead.
func buildBulwark(f *fleet, hedge bool) (built, error) {
	var trips atomic.Int64
	group, err := breaker.NewGroup(breaker.Config{
		WindowSize:  breakerWindow,
		MinCalls:    breakerMin,
		FailureRate: bulwarkDownRate,
		SlowCall:    bulwarkSlowCall,
		SlowRate:    bulwarkSlowRate,
		OpenFor:     breakerOpenFor,
		Observer: func(e breaker.Event) {
			if e.Kind == breaker.EventStateChange && e.To == breaker.Open {
				trips.Add(1)
			}
		},
	}, breaker.GroupConfig{})
	if err != nil {
		return built{}, err
	}
	picker, err := balance.NewPeakEWMA(f.addrs(), balance.Config{EjectAfter: 3, EjectFor: 10 * time.Second, MaxEjectedPercent: 60, SlowFactor: 5})
	if err != nil {
		return built{}, err
	}
	limit, err := bulkhead.New(bulkhead.Config{MaxConcurrent: workers, MaxWaiting: workers})
	if err != nil {
		return built{}, err
	}
	budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 100, TokenRatio: 0.1})
	if err != nil {
		return built{}, err
	}
	retrier, err := retry.New(retry.Config{
		MaxAttempts: maxAttempts,
		Backoff:     retry.Exponential{Base: backoffBase, Max: backoffMax, Jitter: retry.FullJitter},
		Budget:      budget,
	})
	if err != nil {
		return built{}, err
	}
	net := network()
	breaking, err := breaker.NewTransport(&counting{f: f, next: net}, group)
	if err != nil {
		return built{}, err
	}
	balancing, err := balance.NewTransport(breaking, picker)
	if err != nil {
		return built{}, err
	}
	bounded, err := bulkhead.NewTransport(balancing, limit)
	if err != nil {
		return built{}, err
	}
	var below http.RoundTripper = bounded
	if hedge {
		below, err = retry.NewHedgeTransport(bounded, retry.HedgeConfig{Delay: hedgeDelay, MaxHedges: 1, Budget: budget})
		if err != nil {
			return built{}, err
		}
	}
	retrying, err := retry.NewTransport(below, retrier, retry.WithAttemptTimeout(attemptTimeout))
	if err != nil {
		return built{}, err
	}
	return built{
		http:  &http.Client{Transport: retrying},
		close: net.CloseIdleConnections,
		stats: func() map[string]int64 {
			s := retrier.Stats()
			return map[string]int64{
				"retries": s.Retries, "not_attempted": s.NotAttempted, "budget_skipped": s.BudgetSkipped,
				"exhausted": s.Exhausted, "breaker_trips": trips.Load(),
			}
		},
	}, nil
}

// serverFailure is the failure rule of both peers' breakers and retries:
// a transport error or a 5xx.
func serverFailure(resp *http.Response, err error) bool {
	return err != nil || resp.StatusCode >= 500
}

// cappedRetryAfter is Retry-After in seconds, capped at backoffMax, the
// bulwark stack's rule, for the peers' delay functions; ok is false without
// one.
func cappedRetryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests) {
		return 0, false
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 0 {
		return 0, false
	}
	return min(time.Duration(secs)*time.Second, backoffMax), true
}

// buildFailsafe is failsafe-go as its documentation composes it for HTTP:
// failsafehttp round trippers with, from the outside in, a retry policy
// (failsafehttp's builder: 5xx, 429 and transport errors, with the same
// attempts and backoff as bulwark, jittered, and a budget of 10% of
// in-flight executions), a hedge where the scenario has one, a 150 ms
// timeout per attempt and a 32-slot bulkhead; then a round robin that skips
// nodes whose breaker is open, and a count-based breaker per node (5 failures
// in the last 20 executions, 2 s open).
func buildFailsafe(f *fleet, hedge bool) built {
	net := network()
	var trips atomic.Int64
	nodes := make([]rrNode, len(f.nodes))
	for i, n := range f.nodes {
		cb := circuitbreaker.NewBuilder[*http.Response]().
			HandleIf(serverFailure).
			WithFailureThresholdRatio(uint(breakerRate*breakerWindow), breakerWindow).
			WithDelay(breakerOpenFor).
			OnOpen(func(circuitbreaker.StateChangedEvent) { trips.Add(1) }).
			Build()
		nodes[i] = rrNode{addr: n.addr, open: cb.IsOpen, rt: failsafehttp.NewRoundTripper(&counting{f: f, next: net}, cb)}
	}
	var retries, budgetExceeded atomic.Int64
	budget := fsbudget.NewBuilder().
		WithMaxRate(0.1).
		OnBudgetExceeded(func(fsbudget.ExceededEvent) { budgetExceeded.Add(1) }).
		Build()
	retryPolicy := failsafehttp.NewRetryPolicyBuilder().
		WithMaxAttempts(maxAttempts).
		WithBackoff(backoffBase, backoffMax).
		WithJitterFactor(0.5).
		WithDelayFunc(func(exec failsafe.ExecutionAttempt[*http.Response]) time.Duration {
			if d, ok := cappedRetryAfter(exec.LastResult()); ok {
				return d
			}
			return -1 // the backoff
		}).
		WithBudget(budget).
		ReturnLastFailure().
		OnRetry(func(failsafe.ExecutionEvent[*http.Response]) { retries.Add(1) }).
		Build()
	policies := []failsafe.Policy[*http.Response]{retryPolicy}
	if hedge {
		policies = append(policies, hedgepolicy.NewBuilderWithDelay[*http.Response](hedgeDelay).WithBudget(budget).Build())
	}
	policies = append(policies,
		timeout.New[*http.Response](attemptTimeout),
		fsbulkhead.NewBuilder[*http.Response](workers).WithMaxWaitTime(attemptTimeout).Build(),
	)
	return built{
		http:  &http.Client{Transport: failsafehttp.NewRoundTripper(&roundRobin{nodes: nodes}, policies...)},
		close: net.CloseIdleConnections,
		stats: func() map[string]int64 {
			return map[string]int64{"retries": retries.Load(), "breaker_trips": trips.Load(), "budget_exceeded": budgetExceeded.Load()}
		},
	}
}

// buildRetryable is go-retryablehttp (the same attempts and backoff bounds as
// bulwark, DefaultBackoff with Retry-After capped at 50 ms, 150 ms per
// attempt) over a round robin that skips open breakers, with a sony/gobreaker
// per node: 25% failures over a rolling 2 s window (10 calls at least) open
// it for 2 s. Neither library has a retry budget or a bulkhead.
func buildRetryable(f *fleet) built {
	net := network()
	var trips atomic.Int64
	nodes := make([]rrNode, len(f.nodes))
	for i, n := range f.nodes {
		cb := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
			Name:         n.name,
			MaxRequests:  5,
			Interval:     2 * time.Second,
			BucketPeriod: 200 * time.Millisecond,
			Timeout:      breakerOpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.Requests >= breakerMin && float64(c.TotalFailures) >= breakerRate*float64(c.Requests)
			},
			OnStateChange: func(_ string, _, to gobreaker.State) {
				if to == gobreaker.StateOpen {
					trips.Add(1)
				}
			},
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		})
		nodes[i] = rrNode{
			addr: n.addr,
			open: func() bool { return cb.State() == gobreaker.StateOpen },
			rt:   &gobreakerTransport{cb: cb, next: &counting{f: f, next: net}},
		}
	}
	var retries atomic.Int64
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: &roundRobin{nodes: nodes}, Timeout: attemptTimeout}
	rc.Logger = nil
	rc.RetryMax = maxAttempts - 1
	rc.RetryWaitMin, rc.RetryWaitMax = backoffBase, backoffMax
	rc.Backoff = func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		return min(retryablehttp.DefaultBackoff(lo, hi, attempt, resp), hi)
	}
	rc.RequestLogHook = func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
		if attempt > 0 {
			retries.Add(1)
		}
	}
	return built{
		http:  rc.StandardClient(),
		close: net.CloseIdleConnections,
		stats: func() map[string]int64 {
			return map[string]int64{"retries": retries.Load(), "breaker_trips": trips.Load()}
		},
	}
}

var errServerStatus = errors.New("gameday: server error status")

// gobreakerTransport runs each request through a gobreaker: a 5xx counts as
// a failure but its response still goes back to the retry layer, which reads
// its Retry-After.
type gobreakerTransport struct {
	cb   *gobreaker.CircuitBreaker[*http.Response]
	next http.RoundTripper
}

func (t *gobreakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.cb.Execute(func() (*http.Response, error) {
		resp, err := t.next.RoundTrip(req)
		if err == nil && resp.StatusCode >= 500 {
			return resp, errServerStatus
		}
		return resp, err
	})
	if errors.Is(err, errServerStatus) {
		return resp, nil
	}
	return resp, err
}

// rrNode is one backend of a round robin: its address, the transport that
// reaches it (with the node's breaker, for the peers) and whether that
// breaker is open.
type rrNode struct {
	addr string
	open func() bool // nil: never open
	rt   http.RoundTripper
}

// roundRobin rewrites each request to the next backend in turn, skipping
// backends whose breaker is open; when every breaker is open it sends the
// request to the next backend anyway, whose breaker rejects it.
type roundRobin struct {
	nodes []rrNode
	next  atomic.Uint64
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	start := rr.next.Add(1) - 1
	n := rr.nodes[start%uint64(len(rr.nodes))]
	for i := range uint64(len(rr.nodes)) {
		c := rr.nodes[(start+i)%uint64(len(rr.nodes))]
		if c.open == nil || !c.open() {
			n = c
			break
		}
	}
	out := req.Clone(req.Context())
	out.URL.Host = n.addr
	out.Host = n.addr
	return n.rt.RoundTrip(out)
}
