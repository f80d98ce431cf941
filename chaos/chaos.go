package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bulwark-go/bulwark/internal/fastrand"
	"github.com/bulwark-go/bulwark/internal/mix"
)

var (
	// ErrInvalidConfig is matched by every error New, NewTransport,
	// NewHandler and SetRate return for bad input; the message names the
	// field and the value.
	ErrInvalidConfig = errors.New("chaos: invalid config")

	// ErrInjected is matched by every error a fault produces (with its
	// cause: errors.Is(err, syscall.ECONNRESET) holds for a Reset too), so a
	// test can tell injected failures from real ones.
	ErrInjected = errors.New("chaos: injected fault")
)

// configError is an ErrInvalidConfig whose message names the field and value.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "chaos: " + fmt.Sprintf(format, args...)}
}

// Config configures an Injector: one fault, how often it strikes and which
// calls it may strike. Only Fault is required; every zero field is the
// documented default.
type Config struct {
	// Fault is what the Injector does to a call it picks (see Fault).
	// Required.
	Fault Fault

	// Rate is the share of eligible calls the fault strikes, in (0, 1].
	// Zero means 1: every eligible call (narrow them with Target and When,
	// or switch the Injector off). Each eligible call is one independent
	// draw, so Rate 0.3 strikes 30% of calls on average, not every third.
	Rate float64

	// Target, if set, makes an HTTP request eligible only when it returns
	// true (see Host, Path and Header). It runs on every request that
	// reaches an Injector switched on, on the caller's goroutine, and must
	// not modify the request. Do and Call have no request and do not
	// consult it.
	Target func(*http.Request) bool

	// When, if set, makes a call eligible only when it returns true for the
	// call's context: the request's context on HTTP, the ctx given to Do and
	// Call. Use it to target tenants, operations or test cases carried in
	// the context.
	When func(context.Context) bool

	// Seed fixes the Injector's random sequence: with the same Seed, the
	// n-th eligible call draws the same number, so a single-goroutine test
	// sees the same faults, in the same order, with the same delays, on
	// every run (the sequence of a seed is fixed for a given version of the
	// module). Zero means a seed drawn from the runtime's random source, so
	// that processes started together do not fail in step.
	Seed uint64

	// Disabled starts the Injector switched off; Enable turns it on.
	Disabled bool

	// Name identifies the Injector in its events; it may be empty.
	Name string

	// Observer, if not nil, receives the Injector's events (see Event):
	// each strike of the fault (EventInjected), on the call's goroutine
	// before the fault acts, and each change of the switch or the rate
	// (EventSwitched, EventRateChanged), in the order they took effect. It
	// runs under no lock and may call the Injector back; a panic in it is
	// recovered and counted in Stats.ObserverPanics and changes nothing the
	// Injector does. Nil (the default) costs nothing while the Injector is
	// switched off and one branch per struck call while it is on.
	Observer func(Event)
}

// Injector strikes a share of calls with one Fault: the unit of a
// fault-injection experiment. Wrap a client with NewTransport, a server with
// NewHandler, a function with Do or Call, and switch the fault on and off
// while traffic flows.
//
// An Injector is safe for concurrent use; one Injector may serve several
// wrappers (its Rate, sequence and counters are then shared). While it is
// switched off, a wrapper reads one atomic flag and goes straight to the
// wrapped call: no draw, no allocation, no predicate runs.
type Injector struct {
	on    atomic.Bool   // read lock-free by every call; written under mu
	cut   atomic.Uint64 // a draw below cut strikes; always means every draw; written under mu
	fault Fault

	// mu orders the writes of on and cut with their events; calls never
	// take it.
	mu  sync.Mutex
	obs observer // no Observer: not Enabled

	target func(*http.Request) bool
	when   func(context.Context) bool
	err    error // the error Error, Status (Do), Reset and Truncate (Do) return, built once

	eligible atomic.Int64
	injected atomic.Int64
	delayed  atomic.Int64 // total latency injected, ns
	active   atomic.Int64 // waits in progress (Latency, Hang)

	rng fastrand.Source // the n-th draw is a function of Seed and n alone
}

// always is the cut of Rate 1; no rate below 1 maps to it (see rateCut).
const always = math.MaxUint64

// New returns an Injector for cfg, switched on unless cfg.Disabled. The
// error matches ErrInvalidConfig and names the field and value when cfg is
// invalid.
func New(cfg Config) (*Injector, error) {
	if cfg.Fault.kind == kindNone {
		return nil, configErrorf("Config.Fault unset: build it with Error, Status, Latency, Reset, Truncate or Hang")
	}
	if why := cfg.Fault.check(); why != "" {
		return nil, configErrorf("Config.Fault %v %s", cfg.Fault, why)
	}
	cut, err := rateCut("Config.Rate", cfg.Rate, true)
	if err != nil {
		return nil, err
	}
	in := &Injector{fault: cfg.Fault, target: cfg.Target, when: cfg.When}
	in.obs = newObserver(cfg.Observer, cfg.Name)
	in.cut.Store(cut)
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	in.rng.Seed(seed)
	in.err = injectedErr(cfg.Fault)
	in.on.Store(!cfg.Disabled)
	return in, nil
}

// rateCut maps a rate in (0, 1] to the draw threshold of a uint64 draw:
// a draw u strikes when u < rate·2^64. Rates below 1 give at most
// 2^64 − 2^11 (the largest float64 below 1 is 1 − 2^-53), so they never
// reach the value kept for Rate 1.
func rateCut(field string, rate float64, zeroIsOne bool) (uint64, error) {
	if rate == 0 && zeroIsOne {
		rate = 1
	}
	if math.IsNaN(rate) || rate <= 0 || rate > 1 {
		return 0, configErrorf("%s %v outside (0,1]", field, rate)
	}
	if rate == 1 {
		return always, nil
	}
	return uint64(math.Ldexp(rate, 64)), nil
}

// Enable switches the Injector on. It takes effect for calls that start
// after it returns. If the Injector was off, the observer receives an
// EventSwitched.
func (in *Injector) Enable() { in.turn(true) }

// Disable switches the Injector off: calls that start after it returns go
// straight through. Calls already waiting on a Latency or Hang fault keep
// waiting; end their contexts to release them. If the Injector was on, the
// observer receives an EventSwitched.
func (in *Injector) Disable() { in.turn(false) }

// turn sets the switch. The mutex makes the order of the EventSwitched
// queue the order in which the switch was written, so the observer's last
// event tells where the switch stands.
func (in *Injector) turn(on bool) {
	in.mu.Lock()
	if in.on.Swap(on) != on {
		in.obs.PushLocked(Event{Kind: EventSwitched, On: on})
	}
	in.obs.UnlockAndDeliver(&in.mu, nil, nil)
}

// Enabled reports whether the Injector is switched on.
func (in *Injector) Enabled() bool { return in.on.Load() }

// SetRate changes the share of eligible calls the fault strikes, at once and
// for every wrapper of in: the way to ramp a fault up or down during an
// experiment. rate must be in (0, 1]; to stop injecting, Disable. The error
// matches ErrInvalidConfig. If the rate changed, the observer receives an
// EventRateChanged.
func (in *Injector) SetRate(rate float64) error {
	cut, err := rateCut("SetRate", rate, false)
	if err != nil {
		return err
	}
	in.mu.Lock()
	if in.cut.Swap(cut) != cut {
		in.obs.PushLocked(Event{Kind: EventRateChanged, Rate: rate})
	}
	in.obs.UnlockAndDeliver(&in.mu, nil, nil)
	return nil
}

// Fault returns the fault the Injector injects.
func (in *Injector) Fault() Fault { return in.fault }

// Stats is a snapshot of an Injector's counters.
type Stats struct {
	Eligible int64         // calls that met Target and When while switched on: one draw each
	Injected int64         // calls the fault struck
	Delayed  time.Duration // total latency drawn by Latency strikes
	Active   int64         // calls now waiting on a Latency or Hang fault
	// ObserverPanics counts panics of Config.Observer, recovered.
	ObserverPanics int64
}

// Stats returns the Injector's counters. Each field is read atomically on
// its own; under concurrent calls they may be a few calls apart.
func (in *Injector) Stats() Stats {
	return Stats{
		Eligible: in.eligible.Load(),
		Injected: in.injected.Load(),
		Delayed:  time.Duration(in.delayed.Load()),
		Active:   in.active.Load(),

		ObserverPanics: in.obs.Panics(),
	}
}

// strike decides whether the fault strikes this call (the caller has seen
// the Injector switched on), and if so reports it to the observer. req is
// nil for Do and Call. For a Latency fault it returns the delay drawn.
func (in *Injector) strike(ctx context.Context, req *http.Request) (time.Duration, bool) {
	if req != nil && in.target != nil && !in.target(req) {
		return 0, false
	}
	if in.when != nil && !in.when(ctx) {
		return 0, false
	}
	in.eligible.Add(1)
	u := in.rng.Uint64()
	if cut := in.cut.Load(); cut != always && u >= cut {
		return 0, false
	}
	in.injected.Add(1)
	var d time.Duration
	if in.fault.kind == kindLatency {
		d = in.delayFor(u)
	}
	if in.obs.Enabled() {
		in.obs.Emit(in.injectedEvent(req, d))
	}
	return d, true
}

// delayFor returns the Latency delay of the draw u. The strike decision used
// u's magnitude, so the delay comes from a bijective remix of u: uniform and
// independent of the decision.
func (in *Injector) delayFor(u uint64) time.Duration {
	v := float64(mix.Mix64(u)>>11) * 0x1p-53
	d := in.fault.delay.sample(v)
	in.delayed.Add(int64(d))
	return d
}

// wait blocks for d or until ctx ends, whichever is first, and reports
// ctx's end as an injected error.
func (in *Injector) wait(ctx context.Context, d time.Duration) error {
	in.active.Add(1)
	defer in.active.Add(-1)
	if d <= 0 {
		return ctxErr(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx)
	}
}

// hang blocks until ctx ends.
func (in *Injector) hang(ctx context.Context) error {
	in.active.Add(1)
	defer in.active.Add(-1)
	<-ctx.Done()
	return ctxErr(ctx)
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &injectedError{cause: err}
	}
	return nil
}

// injectedError is an error a fault produced: it matches ErrInjected and its
// cause.
type injectedError struct{ cause error }

func (e *injectedError) Error() string   { return "chaos: injected: " + e.cause.Error() }
func (e *injectedError) Unwrap() []error { return []error{ErrInjected, e.cause} }

// StatusError is the error Do and Call return for a Status fault: the
// function's analogue of a server answering Code. It matches ErrInjected.
type StatusError struct {
	Code       int
	RetryAfter time.Duration // zero when the fault sets no Retry-After
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("chaos: injected HTTP status %d %s", e.Code, http.StatusText(e.Code))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %v)", e.RetryAfter)
	}
	return s
}

// Is makes a StatusError match ErrInjected.
func (e *StatusError) Is(target error) bool { return target == ErrInjected }

// resetCause is what a reset by the peer looks like from net/http's side.
var resetCause = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

// injectedErr builds, once, the error a fault returns where it returns a
// fixed error.
func injectedErr(f Fault) error {
	switch f.kind {
	case kindError:
		return &injectedError{cause: f.err}
	case kindStatus:
		return &StatusError{Code: f.code, RetryAfter: f.retryAfter}
	case kindReset:
		return &injectedError{cause: resetCause}
	case kindTruncate:
		return errTruncated
	}
	return nil
}
