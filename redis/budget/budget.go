// Package budget limits retries across a fleet of instances that share one
// Redis: retries may be at most a ratio of the fleet's requests over a
// sliding window, plus a floor per second (Finagle's RetryBudget, "Retry
// budgets", Finagle documentation, https://twitter.github.io/finagle/guide/Clients.html#retries).
//
// The three-line use, with a client adapted by script.Rueidis:
//
//	b, err := budget.New(script.Rueidis(client), budget.Config{Prefix: "svc:", Name: "payments", Ratio: 0.1})
//	defer b.Close()
//	r, err := retry.New(retry.Config{Budget: b}) // every Retrier of every instance shares the budget
//
// A Budget implements retry.Budget: pass it as retry.Config.Budget (or
// HedgeConfig.Budget). Success and Failure are what the Retrier calls on
// every attempt; they only count, in memory. AllowRetry is asked before a
// retry.
//
// # The model
//
// Every instance counts its requests (attempts reported as Success or
// Failure that were not admitted retries, the counting retry.Budget
// describes) and sends the count to Redis at least every Config.Flush. Redis
// keeps per-second counters of requests and retries for the last
// Config.Window, on its own clock, and one script sums them: a retry is
// allowed while
//
//	retries(Window) < Ratio·requests(Window) + MinPerSecond·Window/1s
//
// across the fleet. An instance leases up to Config.Batch retries in one
// round trip and spends them from memory; a lease is good for one second,
// after which what is left goes back to Redis with the next flush. So the
// fleet's retries exceed the rule by at most what the instances hold
// (Batch each), and requests count with a delay of at most Config.Flush.
//
// # When Redis is slow or gone
//
// No call waits on Redis longer than Config.Timeout. When Redis does not
// answer, AllowRetry decides by Config.Local, an in-process retry.Budget
// (by default a retry.TokenBudget, gRFC A6), which Success and Failure keep
// up to date all along, and the Budget reports EventUnavailable; the
// background flush probes Redis and reports EventRecovered when it answers.
//
// A Budget is safe for concurrent use. Close stops its flusher.
package budget

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/redis/internal/eventq"
	"github.com/bulwark-go/bulwark/redis/script"
	"github.com/bulwark-go/bulwark/retry"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad
// setting; the message names the field and value.
var ErrInvalidConfig = errors.New("budget: invalid config")

// Config configures a Budget. Zero fields take the defaults documented.
type Config struct {
	// Prefix is put before the budget's key, so that several services
	// share one Redis without colliding. The key is Prefix{Name}.
	Prefix string
	// Name names the budget: instances with the same Prefix and Name share
	// it. It must not be empty.
	Name string

	// Ratio is the share of requests that may be retried, in (0, 1].
	// 0 means 0.2, Finagle's default.
	Ratio float64
	// MinPerSecond is the floor: retries allowed per second of Window
	// whatever the requests, so that a quiet service can still retry. 0
	// means 10, Finagle's default; -1 means none.
	MinPerSecond int
	// Window is how far back requests and retries count, in whole seconds
	// from 1s to 1h. 0 means 10s, Finagle's default.
	Window time.Duration

	// Batch is the number of retries an instance leases per round trip, at
	// least 1. 0 means 10.
	Batch int
	// Timeout bounds every Redis call. 0 means 100ms.
	Timeout time.Duration
	// Flush is how often the request count goes to Redis (and leftover
	// leases come back). 0 means 1s.
	Flush time.Duration

	// Local decides retries while Redis is unavailable; Success and
	// Failure are passed to it all along. Nil means a retry.TokenBudget
	// with its defaults.
	Local retry.Budget

	// OnEvent, if set, receives the budget's events, serially and in
	// order, outside every lock. It must not block for long.
	OnEvent func(Event)
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventUnavailable: a Redis call failed or timed out (Err); retries
	// are decided by Config.Local until Redis answers again.
	EventUnavailable EventKind = iota + 1
	// EventRecovered: Redis answered again.
	EventRecovered
)

// String returns the kind's name, e.g. "unavailable".
func (k EventKind) String() string {
	switch k {
	case EventUnavailable:
		return "unavailable"
	case EventRecovered:
		return "recovered"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports a change in the budget's link to Redis.
type Event struct {
	Kind  EventKind
	Err   error         // EventUnavailable: the cause
	After time.Duration // EventRecovered: how long Redis was unavailable
}

// Stats are counters since New.
type Stats struct {
	RoundTrips int64 // scripts sent to Redis
	Requests   int64 // requests counted
	Allowed    int64 // retries allowed (by the fleet or, degraded, locally)
	Denied     int64 // retries refused
	Local      int64 // retry decisions taken by Config.Local
	Leased     int64 // retries leased from the fleet
}

// Budget is a retry budget shared by a fleet through Redis. Create it with
// New; it is safe for concurrent use.
type Budget struct {
	store   script.Evaler
	key     string
	args    [3]string // window seconds, ratio, floor
	batch   int
	timeout time.Duration
	local   retry.Budget
	events  *eventq.Queue[Event]

	// pending is the request count not yet sent to Redis; it may go
	// negative (an admitted retry counted before its attempt's report).
	pending atomic.Int64

	// The lease: leased retries left, until leaseEnd (UnixNano).
	leaseMu  sync.Mutex // guards leased and leaseEnd writes, and refund
	leased   atomic.Int64
	leaseEnd atomic.Int64
	refund   int64 // expired lease to give back with the next flush

	down      atomic.Bool
	downSince atomic.Int64
	linkMu    sync.Mutex // orders down's transitions with their events

	roundTrips, requests, allowed, denied, localDecisions, leasedTotal atomic.Int64

	stop      chan struct{}
	closeOnce sync.Once
	done      sync.WaitGroup
	flush     time.Duration
}

var _ retry.Budget = (*Budget)(nil)

// New returns a Budget on store and starts its flusher, or returns an
// error matching ErrInvalidConfig that names the bad field.
func New(store script.Evaler, cfg Config) (*Budget, error) {
	if store == nil {
		return nil, configErrorf("store is nil")
	}
	if cfg.Name == "" {
		return nil, configErrorf("Config.Name empty")
	}
	if cfg.Ratio == 0 {
		cfg.Ratio = 0.2
	}
	if !(cfg.Ratio > 0 && cfg.Ratio <= 1) {
		return nil, configErrorf("Config.Ratio %v outside (0, 1]", cfg.Ratio)
	}
	switch {
	case cfg.MinPerSecond == 0:
		cfg.MinPerSecond = 10
	case cfg.MinPerSecond == -1:
		cfg.MinPerSecond = 0
	case cfg.MinPerSecond < 0:
		return nil, configErrorf("Config.MinPerSecond %d negative (-1 means none)", cfg.MinPerSecond)
	}
	if cfg.Window == 0 {
		cfg.Window = 10 * time.Second
	}
	if cfg.Window < time.Second || cfg.Window > time.Hour || cfg.Window%time.Second != 0 {
		return nil, configErrorf("Config.Window %v not whole seconds in [1s, 1h]", cfg.Window)
	}
	if cfg.Batch == 0 {
		cfg.Batch = 10
	}
	if cfg.Batch < 0 {
		return nil, configErrorf("Config.Batch %d negative", cfg.Batch)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"Timeout", &cfg.Timeout, 100 * time.Millisecond}, {"Flush", &cfg.Flush, time.Second}} {
		if *d.v < 0 {
			return nil, configErrorf("Config.%s %v negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.Local == nil {
		tb, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
		if err != nil {
			return nil, err
		}
		cfg.Local = tb
	}
	b := &Budget{
		store: store,
		key:   cfg.Prefix + "{" + cfg.Name + "}",
		args: [3]string{strconv.FormatInt(int64(cfg.Window/time.Second), 10),
			strconv.FormatFloat(cfg.Ratio, 'f', -1, 64), strconv.Itoa(cfg.MinPerSecond)},
		batch:   cfg.Batch,
		timeout: cfg.Timeout,
		local:   cfg.Local,
		events:  eventq.New(cfg.OnEvent),
		stop:    make(chan struct{}),
		flush:   cfg.Flush,
	}
	b.done.Add(1)
	go b.flusher()
	return b, nil
}

// RedisKey returns the key that holds the budget's counters.
func (b *Budget) RedisKey() string { return b.key }

// Success counts a request that succeeded. It never blocks or allocates.
func (b *Budget) Success() {
	b.pending.Add(1)
	b.requests.Add(1)
	b.local.Success()
}

// Failure counts a request that failed with an error worth a retry.
func (b *Budget) Failure() {
	b.pending.Add(1)
	b.requests.Add(1)
	b.local.Failure()
}

// AllowRetry reports whether one more retry fits the fleet's budget, and
// if so spends it. It answers from the instance's lease when one is left;
// otherwise it makes one round trip (bounded by Config.Timeout) that also
// sends the request count. While Redis is unavailable it asks Config.Local.
func (b *Budget) AllowRetry() bool {
	if !b.down.Load() {
		if b.takeLease() || b.leaseNow() {
			b.pending.Add(-1) // the attempt it admits is a retry, not a request
			b.allowed.Add(1)
			return true
		}
		if !b.down.Load() {
			b.denied.Add(1)
			return false
		}
	}
	b.localDecisions.Add(1)
	ok := b.local.AllowRetry()
	if ok {
		b.pending.Add(-1)
		b.allowed.Add(1)
	} else {
		b.denied.Add(1)
	}
	return ok
}

func (b *Budget) takeLease() bool {
	if time.Now().UnixNano() >= b.leaseEnd.Load() {
		return false
	}
	for {
		n := b.leased.Load()
		if n <= 0 {
			return false
		}
		if b.leased.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// leaseNow leases a batch for the caller, which spends the first retry.
func (b *Budget) leaseNow() bool {
	granted, err := b.exchange(b.batch)
	if err != nil || granted == 0 {
		return false
	}
	b.leaseMu.Lock()
	b.expireLeaseLocked()
	b.leased.Store(int64(granted - 1))
	b.leaseEnd.Store(time.Now().Add(time.Second).UnixNano())
	b.leaseMu.Unlock()
	return true
}

// expireLeaseLocked moves an ended lease's leftover to refund.
func (b *Budget) expireLeaseLocked() {
	if time.Now().UnixNano() >= b.leaseEnd.Load() {
		b.refund += b.leased.Swap(0)
	}
}

// exchange runs the budget script: it sends the pending request count and
// the refund, and asks for want retries; it returns how many were granted.
func (b *Budget) exchange(want int) (int, error) {
	b.leaseMu.Lock()
	b.expireLeaseLocked()
	refund := b.refund
	b.refund = 0
	b.leaseMu.Unlock()
	requests := b.pending.Swap(0)

	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	b.roundTrips.Add(1)
	reply, err := b.store.Eval(ctx, budgetScript, []string{b.key},
		b.args[0], b.args[1], b.args[2], strconv.FormatInt(requests, 10), strconv.FormatInt(refund, 10), strconv.Itoa(want))
	granted := 0
	if err == nil {
		granted, err = budgetReply(reply, want)
	}
	if err != nil {
		// Nothing reached Redis (or we cannot tell): keep the counts for
		// the next exchange.
		b.pending.Add(requests)
		b.leaseMu.Lock()
		b.refund += refund
		b.leaseMu.Unlock()
		b.markDown(err)
		return 0, err
	}
	b.leasedTotal.Add(int64(granted))
	b.markUp()
	return granted, nil
}

func (b *Budget) markDown(err error) {
	b.linkMu.Lock()
	if b.down.Load() {
		b.linkMu.Unlock()
		return
	}
	b.downSince.Store(time.Now().UnixNano())
	b.down.Store(true)
	b.linkMu.Unlock()
	b.events.Push(Event{Kind: EventUnavailable, Err: err})
}

func (b *Budget) markUp() {
	if !b.down.Load() {
		return
	}
	b.linkMu.Lock()
	if !b.down.Load() {
		b.linkMu.Unlock()
		return
	}
	b.down.Store(false)
	after := time.Duration(time.Now().UnixNano() - b.downSince.Load())
	b.linkMu.Unlock()
	b.events.Push(Event{Kind: EventRecovered, After: after})
}

// Flush sends the request count (and leftover leases) to Redis now. It
// returns the Redis error, if any; the counts are then kept for the next
// try.
func (b *Budget) Flush() error {
	_, err := b.exchange(0)
	return err
}

func (b *Budget) flusher() {
	defer b.done.Done()
	t := time.NewTicker(b.flush)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}

// Stats returns the counters.
func (b *Budget) Stats() Stats {
	return Stats{
		RoundTrips: b.roundTrips.Load(),
		Requests:   b.requests.Load(),
		Allowed:    b.allowed.Load(),
		Denied:     b.denied.Load(),
		Local:      b.localDecisions.Load(),
		Leased:     b.leasedTotal.Load(),
	}
}

// Close stops the flusher, after one last flush (bounded by
// Config.Timeout). The Budget still answers afterwards, from leases and
// round trips of its callers.
func (b *Budget) Close() {
	b.closeOnce.Do(func() {
		close(b.stop)
		b.done.Wait()
		_ = b.Flush()
	})
}

// configError is an invalid setting; it matches ErrInvalidConfig.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "budget: " + fmt.Sprintf(format, args...)}
}

func budgetReply(r []string, want int) (int, error) {
	if len(r) != 3 {
		return 0, replyError(r)
	}
	g, err := strconv.ParseInt(r[0], 10, 64)
	if err != nil || g < 0 || g > int64(want) {
		return 0, replyError(r)
	}
	for _, s := range r[1:] {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return 0, replyError(r)
		}
	}
	return int(g), nil
}

func replyError(r []string) error {
	s := strings.Join(r, " ")
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Errorf("budget: malformed reply [%s]", s)
}
