// Package ratelimit limits the rate of events across a fleet of instances
// that share one Redis, with the Generic Cell Rate Algorithm (GCRA): one key
// per limited thing, one Lua script per decision, on the server's clock.
//
// The three-line use, with a client adapted by script.Rueidis:
//
//	lim, err := ratelimit.New(script.Rueidis(client), ratelimit.Config{Prefix: "api:", Rate: 100, Period: time.Second, Burst: 20})
//	defer lim.Close()
//	res, err := lim.Allow(ctx, userID) // res.Allowed == 1, or res.RetryAfter says when
//
// Allow and AllowN are the calls most users want: each is one round trip
// and gives the exact fleet-wide answer with the figures of the IETF
// RateLimit header fields (Remaining, ResetAfter) and, when refused,
// RetryAfter. Reserve takes tokens that lie in the future and says how long
// to wait; Wait waits for them. NewHandler answers 429 Too Many Requests for
// an http.Handler.
//
// # The model
//
// A limit of Rate events per Period with burst Burst admits an event every
// T = Period/Rate on average and up to Burst at once after a quiet spell:
// over any window W, at most Rate·W/Period + Burst events (rounded down) are
// admitted across the whole fleet. The key holds one number, the
// theoretical arrival time, so the state per limit is a few bytes whatever
// the rate; decisions match github.com/go-redis/redis_rate (v10), which runs
// the same algorithm, call for call.
//
// # Local pre-admission
//
// A Bucket is one key with Config.Batch set: the instance leases a batch of
// tokens in one round trip and serves them from memory (Allow takes an
// atomic decrement), leasing the next batch in the background when a
// quarter of the batch is left. At a high rate this divides the round trips
// per admitted event by about Batch. The price is bounded: an instance holds
// at most Batch + Batch/4 tokens it has not served, so over any window the
// fleet admits at most Rate·W/Period + Burst + instances·(Batch + Batch/4)
// events; tokens an idle instance holds are spent late rather than never, so
// the rest of the fleet may be refused them meanwhile. A Bucket satisfies
// bulkhead.RateLimiter (Allow() bool and RetryAt), so a bulkhead can admit
// calls at a fleet-wide rate.
//
// # When Redis is slow or gone
//
// The limiter informs, the instance decides: no call waits on Redis longer
// than Config.Timeout. A call Redis does not answer in time is decided by
// Config.Unavailable — FailOpen (the default) admits it, FailClosed refuses
// it — with Result.Local set, and the limiter reports EventUnavailable.
// While Redis stays unavailable, one call per Timeout tries it; the others
// are decided at once. The first answer reports EventRecovered, and
// from then on decisions are exact again.
//
// A Limiter is safe for concurrent use; so are its Buckets and Handlers.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/redis/internal/eventq"
	"github.com/bulwark-go/bulwark/redis/script"
)

// ErrInvalidConfig is wrapped by every error New, NewHandler and their
// options return for a bad setting; the message names the field and value.
var ErrInvalidConfig = errors.New("ratelimit: invalid config")

// ErrInvalidArgument is wrapped by the error a call returns for bad input:
// an empty key, a negative n.
var ErrInvalidArgument = errors.New("ratelimit: invalid argument")

// ErrWouldExceedDeadline is returned by Wait when the tokens would come
// after ctx's deadline; nothing was taken.
var ErrWouldExceedDeadline = errors.New("ratelimit: wait would exceed the context deadline")

// Policy decides calls that Redis did not answer within Config.Timeout.
type Policy int

const (
	// FailOpen admits them: an unreachable Redis costs the limit, never
	// the service.
	FailOpen Policy = iota
	// FailClosed refuses them: an unreachable Redis costs the service,
	// never the limit.
	FailClosed
)

// String returns "fail-open" or "fail-closed".
func (p Policy) String() string {
	switch p {
	case FailOpen:
		return "fail-open"
	case FailClosed:
		return "fail-closed"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// Config configures a Limiter. Zero fields take the defaults documented.
type Config struct {
	// Prefix is put before every key, so that several services share one
	// Redis without colliding. A key k is stored at Prefix{k}: the braces
	// are a Redis Cluster hash tag.
	Prefix string

	// Rate is the number of events admitted per Period, on average. It
	// must be positive.
	Rate int

	// Period is the time Rate applies to. 0 means 1 second. Period/Rate,
	// the interval between two events, must be at least 1µs.
	Period time.Duration

	// Burst is the number of events admitted at once after a quiet spell
	// (the GCRA limit). 0 means Rate.
	Burst int

	// Timeout bounds every Redis call of a decision. 0 means 100ms.
	Timeout time.Duration

	// Unavailable decides the calls Redis did not answer in time. The zero
	// value is FailOpen.
	Unavailable Policy

	// Batch, when positive, is the number of tokens a Bucket leases per
	// round trip (local pre-admission; see the package doc for the bound it
	// costs). 0 means every Bucket.Allow is one round trip. At most Burst.
	Batch int

	// OnEvent, if set, receives the limiter's events, serially and in
	// order, outside every lock. It must not block for long.
	OnEvent func(Event)
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventUnavailable: a Redis call failed or timed out (Err); the
	// limiter decides by Config.Unavailable until Redis answers again.
	EventUnavailable EventKind = iota + 1
	// EventRecovered: Redis answered again; decisions are exact.
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

// Event reports a change in the limiter's link to Redis.
type Event struct {
	Kind   EventKind
	Key    string        // the key of the call that noticed it
	Err    error         // EventUnavailable: the cause
	Policy Policy        // the policy in force while unavailable
	After  time.Duration // EventRecovered: how long Redis was unavailable
}

// Result is one decision.
type Result struct {
	// Allowed is the number of events admitted: n or 0 (AllowN, Reserve),
	// 1 or 0 (Allow).
	Allowed int
	// Remaining is the number of events that could be admitted at once
	// right after this decision.
	Remaining int
	// RetryAfter is, for a refusal, how long until the events asked for
	// could be admitted; for a Reserve, how long to wait before acting;
	// otherwise 0.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to a full burst
	// (Remaining == Burst) if no event is admitted meanwhile.
	ResetAfter time.Duration
	// Local is set when Redis did not decide: the decision is the
	// Config.Unavailable policy's, or a Bucket's leased token.
	Local bool
}

// Stats are counters since New.
type Stats struct {
	RoundTrips  int64 // scripts sent to Redis
	Admitted    int64 // events admitted (by Redis, a lease or the policy)
	Rejected    int64 // events refused
	Unavailable int64 // decisions taken by Config.Unavailable
}

// Limiter is a GCRA rate limit kept in Redis for any number of keys. Create
// it with New; it is safe for concurrent use.
type Limiter struct {
	store       script.Evaler
	prefix      string
	interval    float64 // T in µs
	intervalArg string
	burstArg    string
	burst       int
	timeout     time.Duration
	policy      Policy
	batch       int
	events      *eventq.Queue[Event]

	// down is set while Redis is unavailable; probing, while one call
	// tries it; nextProbe is the UnixNano before which none does (one try
	// per Timeout). downSince is the UnixNano of the failure.
	down      atomic.Bool
	probing   atomic.Bool
	nextProbe atomic.Int64
	downSince atomic.Int64
	linkMu    sync.Mutex // orders the transitions of down with their events

	roundTrips, admitted, rejected, unavailable atomic.Int64

	lifeMu sync.Mutex // guards closed, and wg.Add against Close's Wait
	closed bool
	wg     sync.WaitGroup // Buckets' background leases
}

// New returns a Limiter on store, or an error matching ErrInvalidConfig
// that names the bad field.
func New(store script.Evaler, cfg Config) (*Limiter, error) {
	if store == nil {
		return nil, configErrorf("store is nil")
	}
	if cfg.Rate <= 0 {
		return nil, configErrorf("Config.Rate %d not positive", cfg.Rate)
	}
	if cfg.Period < 0 {
		return nil, configErrorf("Config.Period %v negative", cfg.Period)
	}
	if cfg.Period == 0 {
		cfg.Period = time.Second
	}
	if cfg.Period/time.Duration(cfg.Rate) < time.Microsecond {
		return nil, configErrorf("Config.Rate %d per Config.Period %v is an interval below 1µs", cfg.Rate, cfg.Period)
	}
	if cfg.Burst < 0 {
		return nil, configErrorf("Config.Burst %d negative", cfg.Burst)
	}
	if cfg.Burst == 0 {
		cfg.Burst = cfg.Rate
	}
	if cfg.Timeout < 0 {
		return nil, configErrorf("Config.Timeout %v negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 100 * time.Millisecond
	}
	if cfg.Unavailable != FailOpen && cfg.Unavailable != FailClosed {
		return nil, configErrorf("Config.Unavailable %d unknown", int(cfg.Unavailable))
	}
	if cfg.Batch < 0 || cfg.Batch > cfg.Burst {
		return nil, configErrorf("Config.Batch %d outside [0, Burst %d]", cfg.Batch, cfg.Burst)
	}
	interval := float64(cfg.Period.Nanoseconds()) / 1e3 / float64(cfg.Rate)
	return &Limiter{
		store:       store,
		prefix:      cfg.Prefix,
		interval:    interval,
		intervalArg: strconv.FormatFloat(interval, 'f', -1, 64),
		burstArg:    strconv.Itoa(cfg.Burst),
		burst:       cfg.Burst,
		timeout:     cfg.Timeout,
		policy:      cfg.Unavailable,
		batch:       cfg.Batch,
		events:      eventq.New(cfg.OnEvent),
	}, nil
}

// Burst returns the burst in force (Config.Burst or its default).
func (l *Limiter) Burst() int { return l.burst }

// RedisKey returns the Redis key that holds key's state.
func (l *Limiter) RedisKey(key string) string { return l.prefix + "{" + key + "}" }

// Allow is AllowN(ctx, key, 1).
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN admits n events for key now, or none, in one round trip bounded by
// Config.Timeout; Result says which and what is left. n larger than the
// burst is never admitted. n == 0 only reads the state. The error is not
// nil only for bad input (ErrInvalidArgument) or when ctx ended first
// (ctx.Err()); a Redis failure is decided by Config.Unavailable instead.
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	return l.decide(ctx, key, n, modeAll, -1)
}

// Reserve takes n tokens for key, which may lie in the future, and returns
// in Result.RetryAfter how long the caller must wait before acting (0 when
// the tokens are there now). Only n larger than the burst is refused.
// Tokens reserved are spent even if the caller does not act.
func (l *Limiter) Reserve(ctx context.Context, key string, n int) (Result, error) {
	return l.decide(ctx, key, n, modeReserve, -1)
}

// Wait is WaitN(ctx, key, 1).
func (l *Limiter) Wait(ctx context.Context, key string) (Result, error) {
	return l.WaitN(ctx, key, 1)
}

// WaitN blocks until n events for key are admitted, or ctx ends. When ctx
// has a deadline that the tokens would miss, it returns
// ErrWouldExceedDeadline at once and takes nothing. When ctx ends during
// the wait, it returns ctx.Err(); the tokens stay spent.
func (l *Limiter) WaitN(ctx context.Context, key string, n int) (Result, error) {
	max := int64(-1)
	if dl, ok := ctx.Deadline(); ok {
		max = time.Until(dl).Microseconds()
		if max < 0 {
			max = 0
		}
	}
	res, err := l.decide(ctx, key, n, modeReserve, max)
	if err != nil {
		return res, err
	}
	if res.Allowed == 0 {
		if max >= 0 && n <= l.burst {
			return res, ErrWouldExceedDeadline
		}
		return res, fmt.Errorf("ratelimit: WaitN(%d) above burst %d: %w", n, l.burst, ErrInvalidArgument)
	}
	if res.RetryAfter > 0 {
		t := time.NewTimer(res.RetryAfter)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	return res, nil
}

func (l *Limiter) decide(ctx context.Context, key string, n int, mode string, maxDelayUs int64) (Result, error) {
	if key == "" {
		return Result{}, fmt.Errorf("ratelimit: key empty: %w", ErrInvalidArgument)
	}
	if n < 0 {
		return Result{}, fmt.Errorf("ratelimit: n %d negative: %w", n, ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	res, err := l.eval(ctx, key, n, mode, maxDelayUs)
	if err != nil && ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if err != nil {
		res = l.fallback(n)
	}
	l.count(res, n)
	return res, nil
}

func (l *Limiter) count(res Result, n int) {
	if res.Allowed > 0 {
		l.admitted.Add(int64(res.Allowed))
	} else if n > 0 {
		l.rejected.Add(int64(n))
	}
}

// fallback is the policy's decision for n events.
func (l *Limiter) fallback(n int) Result {
	l.unavailable.Add(1)
	if l.policy == FailOpen {
		return Result{Allowed: n, Local: true}
	}
	return Result{RetryAfter: l.timeout, Local: true}
}

// errSkipped means the call did not try Redis: it is unavailable and
// another call is probing it.
var errSkipped = errors.New("ratelimit: redis unavailable")

// eval runs the script for key, within Config.Timeout. While Redis is
// unavailable, only one caller at a time (the prober) tries it.
func (l *Limiter) eval(ctx context.Context, key string, n int, mode string, maxDelayUs int64) (Result, error) {
	probe := false
	if l.down.Load() {
		if time.Now().UnixNano() < l.nextProbe.Load() || !l.probing.CompareAndSwap(false, true) {
			return Result{}, errSkipped
		}
		probe = true
		defer l.probing.Store(false)
	}
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	l.roundTrips.Add(1)
	reply, err := l.store.Eval(rctx, gcraScript, []string{l.RedisKey(key)},
		l.intervalArg, l.burstArg, strconv.Itoa(n), mode, strconv.FormatInt(maxDelayUs, 10))
	var res Result
	if err == nil {
		var allowed, remaining int
		var retryUs, resetUs int64
		allowed, remaining, retryUs, resetUs, err = gcraReply(reply)
		res = Result{Allowed: allowed, Remaining: remaining,
			RetryAfter: time.Duration(retryUs) * time.Microsecond, ResetAfter: time.Duration(resetUs) * time.Microsecond}
	}
	if err != nil {
		if ctx.Err() == nil {
			l.nextProbe.Store(time.Now().Add(l.timeout).UnixNano())
			l.markDown(key, err)
		}
		return Result{}, err
	}
	if probe || l.down.Load() {
		l.markUp(key)
	}
	return res, nil
}

func (l *Limiter) markDown(key string, err error) {
	l.linkMu.Lock()
	if l.down.Load() {
		l.linkMu.Unlock()
		return
	}
	l.downSince.Store(time.Now().UnixNano())
	l.down.Store(true)
	l.linkMu.Unlock()
	l.events.Push(Event{Kind: EventUnavailable, Key: key, Err: err, Policy: l.policy})
}

func (l *Limiter) markUp(key string) {
	l.linkMu.Lock()
	if !l.down.Load() {
		l.linkMu.Unlock()
		return
	}
	l.down.Store(false)
	after := time.Duration(time.Now().UnixNano() - l.downSince.Load())
	l.linkMu.Unlock()
	l.events.Push(Event{Kind: EventRecovered, Key: key, After: after})
}

// Stats returns the counters.
func (l *Limiter) Stats() Stats {
	return Stats{
		RoundTrips:  l.roundTrips.Load(),
		Admitted:    l.admitted.Load(),
		Rejected:    l.rejected.Load(),
		Unavailable: l.unavailable.Load(),
	}
}

// Close waits for the Buckets' background leases to end; Buckets stop
// leasing ahead. The store is not closed. Calls after Close still work.
func (l *Limiter) Close() {
	l.lifeMu.Lock()
	l.closed = true
	l.lifeMu.Unlock()
	l.wg.Wait()
}

// goLease runs f in a goroutine that Close waits for, unless l is closed.
func (l *Limiter) goLease(f func()) bool {
	l.lifeMu.Lock()
	defer l.lifeMu.Unlock()
	if l.closed {
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
	return true
}

// configError is an invalid setting; it matches ErrInvalidConfig.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "ratelimit: " + fmt.Sprintf(format, args...)}
}

// replyError is a reply that is not what the script returns.
func replyError(r []string) error {
	s := strings.Join(r, " ")
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Errorf("ratelimit: malformed reply [%s]", s)
}

// ceilSeconds is d in whole seconds, rounded up (for Retry-After).
func ceilSeconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}
