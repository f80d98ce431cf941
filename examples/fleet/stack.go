package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/retry"
)

// stack is the bulwark client: the layers below, nested into one http.Client.
type stack struct {
	client  *http.Client
	retrier *retry.Retrier
	trips   atomic.Int64 // breaker transitions into Open, over every host
	close   func()
}

// newStack builds, from the outside in:
//
//	retry      three attempts, 5–50 ms full-jitter backoff, a shared budget;
//	           Retry-After is honoured but capped at the backoff's 50 ms Max;
//	           each attempt gets 150 ms (headers and body): a latency spike
//	           becomes a retry on another backend instead of a 300 ms wait
//	bulkhead   at most `workers` requests in flight and as many queued
//	balance    PeakEWMA picker: a fresh backend per attempt, away from slow
//	           ones; three consecutive failures, or three answers in a row
//	           5× slower than the backends' median, eject a backend for 10 s
//	breaker    one breaker per backend: 90% failures over the last 20 calls
//	           (a backend that is down), or a quarter of them slow (100 ms or
//	           more, a timed-out attempt included), open it for 2 s, and an
//	           open breaker answers without the network
//
// The breaker trips on a backend that is down or slow, not on one that is
// merely failing often: routing around a degraded backend is the picker's
// job (its failure penalty and ejection compare it with the others). A
// breaker that tripped at a lower failure rate would, when every backend
// fails that often at once, open them all and reject calls that had better
// odds than no call: at 50% failures everywhere it would turn half the
// requests succeeding into almost none.
//
// wrap adds the fleet's request counting in front of the network.
func newStack(addrs []string, workers int, wrap func(http.RoundTripper) *countingTransport) (*stack, error) {
	s := &stack{}
	group, err := breaker.NewGroup(breaker.Config{
		WindowSize:  20,
		MinCalls:    10,
		FailureRate: 0.9,
		SlowCall:    100 * time.Millisecond,
		SlowRate:    0.25,
		OpenFor:     2 * time.Second,
		Observer: func(e breaker.Event) {
			if e.Kind == breaker.EventStateChange && e.To == breaker.Open {
				s.trips.Add(1)
			}
		},
	}, breaker.GroupConfig{})
	if err != nil {
		return nil, fmt.Errorf("breaker group: %w", err)
	}
	picker, err := balance.NewPeakEWMA(addrs, balance.Config{EjectAfter: 3, EjectFor: 10 * time.Second, MaxEjectedPercent: 60, SlowFactor: 5})
	if err != nil {
		return nil, fmt.Errorf("picker: %w", err)
	}
	limit, err := bulkhead.New(bulkhead.Config{MaxConcurrent: workers, MaxWaiting: workers})
	if err != nil {
		return nil, fmt.Errorf("bulkhead: %w", err)
	}
	// A larger bucket than gRFC A6's example (100 tokens, not 10) lets the
	// retries absorb the burst of failures before ejection and the breakers
	// react; the 10% ratio still bounds retries to about a tenth of traffic.
	budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 100, TokenRatio: 0.1})
	if err != nil {
		return nil, fmt.Errorf("budget: %w", err)
	}
	s.retrier, err = retry.New(retry.Config{
		MaxAttempts: 3,
		Backoff:     retry.Exponential{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: retry.FullJitter},
		Budget:      budget,
	})
	if err != nil {
		return nil, fmt.Errorf("retrier: %w", err)
	}

	network := &http.Transport{MaxIdleConnsPerHost: workers}
	breaking, err := breaker.NewTransport(wrap(network), group)
	if err != nil {
		return nil, fmt.Errorf("breaker transport: %w", err)
	}
	balancing, err := balance.NewTransport(breaking, picker)
	if err != nil {
		return nil, fmt.Errorf("balance transport: %w", err)
	}
	bounded, err := bulkhead.NewTransport(balancing, limit)
	if err != nil {
		return nil, fmt.Errorf("bulkhead transport: %w", err)
	}
	retrying, err := retry.NewTransport(bounded, s.retrier, retry.WithAttemptTimeout(150*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("retry transport: %w", err)
	}
	s.client = &http.Client{Transport: retrying}
	s.close = network.CloseIdleConnections
	return s, nil
}

func (s *stack) retries() int64 { return s.retrier.Stats().Retries }
